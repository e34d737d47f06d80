"""Fixtures for the widget tests: a REAL local runner served over HTTP on 127.0.0.1 and a
Source connected to it (see _widget_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _widget_support import CLICKS, ORDERS, STREAM, Runner  # noqa: E402

from flowwidgets.runner._local import LocalRunner  # noqa: E402
from flowwidgets.runner.serve import serve_in_thread  # noqa: E402
from flowwidgets.sources import connect  # noqa: E402


@pytest.fixture
def served(tmp_path) -> Iterator[Runner]:
    """Our runner with ``orders`` (fails at dedupe while fail.flag exists), ``clicks`` and
    ``stream`` (streaming: commits watermarks, then fails)."""
    r = LocalRunner([ORDERS, CLICKS, STREAM], db=tmp_path / "runs.sqlite", tick_s=0.1,
                    data_dir=tmp_path)
    with serve_in_thread(r) as server, connect(server.url) as src:
        yield Runner(r, server.url, src, tmp_path)

