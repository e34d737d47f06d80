"""Offline and back: the views say "No runner attached" while the poller says the runner
is away, and recover by themselves when it answers again on the same port."""

from __future__ import annotations

import pytest
from _widget_support import ORDERS, wait_until

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.sources import connect
from flowwidgets.widgets import PipelineCards, RunView

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_no_runner_attached_and_recovery(tmp_path):
    runner = LocalRunner([ORDERS], db=tmp_path / "runs.sqlite", tick_s=0.1, data_dir=tmp_path)
    server = serve_in_thread(runner, start_runner=False)
    port = server.port
    src = connect(server.url, timeout=2)
    cards = view = None
    try:
        cards = PipelineCards(src)
        view = RunView(src, None)
        assert cards.connected and [p["name"] for p in cards.pipelines] == ["orders"]
        server.stop()
        wait_until(lambda: not cards.connected and not view.connected, 15,
                   "the views to notice the runner went away")
        assert str(port) in cards.connection_error or cards.connection_error
        html = cards._repr_mimebundle_()[0]["text/html"]
        assert "NO RUNNER ATTACHED" in html
        server = serve_in_thread(runner, port=port, start_runner=False)
        wait_until(lambda: cards.connected and view.connected, 40,
                   "the views to recover when the runner is back")
        assert cards.connection_error == ""
        assert [p["name"] for p in cards.pipelines] == ["orders"]
    finally:
        for w in (cards, view):
            if w is not None:
                w.close()
        src.close()
        server.stop()
