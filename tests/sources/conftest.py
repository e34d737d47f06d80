"""Fixtures of the lean client's tests: a real uvicorn app (``fwtest.lean_app``) on a free
port of 127.0.0.1, and a LeanClient for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fwtest.http import ServerThread
from fwtest.lean_app import app

from flowwidgets.sources._lean import LeanClient


@pytest.fixture(scope="module")
def lean_server() -> Iterator[ServerThread]:
    """The app of ``fwtest.lean_app``, served for one test module."""
    with ServerThread(app) as srv:
        yield srv


@pytest.fixture()
def lean(lean_server: ServerThread) -> Iterator[LeanClient]:
    """A LeanClient for :func:`lean_server`, closed after the test."""
    client = LeanClient(lean_server.url, 10.0)
    yield client
    client.close()
