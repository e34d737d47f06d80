"""Fixtures of the runner tests: a LocalRunner on a SQLite file and the API over it.

``runner`` is not started (requested runs stay requested, so every action's effect is
visible; a test starts it when it needs runs executed); ``client`` is Starlette's
TestClient on the runner's app. A module that needs history builds its own module-scoped
``runner`` from :func:`fwtest.api.make_runner`. No test reads a token from the
environment unless it sets one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fwtest.api import TestClient, make_runner

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.api import create_app


@pytest.fixture(autouse=True)
def _no_token_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWWIDGETS_TOKEN", raising=False)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[LocalRunner]:
    """The API tests' pipelines (fwtest.api.pipelines) on tmp_path, not started."""
    r = make_runner(tmp_path)
    yield r
    r.stop()


@pytest.fixture
def client(runner: LocalRunner) -> Iterator[TestClient]:
    """Starlette's TestClient on ``create_app(runner)``."""
    with TestClient(create_app(runner)) as c:
        yield c
