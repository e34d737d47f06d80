"""Offline and back: the views say "No runner attached" while the poller says the runner
is away, and recover by themselves when it answers again on the same port."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from _widget_support import ORDERS, wait_until

from flowwidgets import errors
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.sources import connect
from flowwidgets.widgets import JobsTable, PipelineCards, RunView

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_no_runner_attached_and_recovery(tmp_path):
    runner = LocalRunner([ORDERS], db=tmp_path / "runs.sqlite", tick_s=0.1, data_dir=tmp_path)
    server = serve_in_thread(runner, start_runner=False)
    port = server.port
    src = connect(server.url, timeout=2)
    run_id = src.run_now("orders")  # recorded, not executed (the runner is not started)
    widgets: list = []
    try:
        cards = PipelineCards(src)
        view = RunView(src, None)
        widgets += [cards, view]
        assert cards.connected and [p["name"] for p in cards.pipelines] == ["orders"]
        server.stop()
        wait_until(lambda: not cards.connected and not view.connected, 15,
                   "the views to notice the runner went away")
        assert f"127.0.0.1:{port}" in cards.connection_error
        html = cards._repr_mimebundle_()[0]["text/html"]
        assert "NO RUNNER ATTACHED" in html
        # views made while the runner is away say so, and load once it is back
        late_table = JobsTable(src)
        late_view = RunView(src, run_id)
        widgets += [late_table, late_view]
        assert not late_table.connected and not late_view.connected
        assert "NO RUNNER ATTACHED" in late_view._repr_mimebundle_()[0]["text/html"]
        server = serve_in_thread(runner, port=port, start_runner=False)
        wait_until(lambda: all(w.connected for w in widgets), 40,
                   "the views to recover when the runner is back")
        assert cards.connection_error == ""
        assert [p["name"] for p in cards.pipelines] == ["orders"]
        wait_until(lambda: late_table.total == 1 and late_view.run.get("run"), 15,
                   "the views made while away to load")
        assert late_table.df["run_id"].tolist() == [run_id]
        assert late_view.run["run"]["run_id"] == run_id
    finally:
        for w in widgets:
            w.close()
        src.close()
        server.stop()


def test_views_made_before_the_poller_ever_reached_the_runner_load_when_it_comes(tmp_path):
    """The poller's first contact (after tries that failed) is "connected" then "changed":
    the views re-read on that "changed" like on any other, with no reconnection case."""
    runner = LocalRunner([ORDERS], db=tmp_path / "runs.sqlite", tick_s=0.1, data_dir=tmp_path)
    server = serve_in_thread(runner, start_runner=False)
    port = server.port
    src = connect(server.url, timeout=2)
    run_id = src.run_now("orders")
    server.stop()  # gone before any view or the poller read anything
    poller = src.poller(interval=0.2)
    poller.min_backoff, poller.max_backoff = 0.1, 0.3
    widgets: list = []
    try:
        cards = PipelineCards(src)
        table = JobsTable(src, background=False)
        view = RunView(src, run_id)
        widgets += [cards, table, view]
        assert not any(w.connected for w in widgets)
        assert cards.pipelines == [] and table.total == 0 and view.run == {}
        wait_until(lambda: poller.connected is False, 10, "the poller to fail its first tries")
        server = serve_in_thread(runner, port=port, start_runner=False)
        wait_until(lambda: all(w.connected for w in widgets), 15, "the views to connect")
        wait_until(lambda: cards.pipelines and table.total == 1 and view.run.get("run"), 15,
                   "the views to load on the first contact's 'changed'")
        assert [p["name"] for p in cards.pipelines] == ["orders"]
        assert table.df["run_id"].tolist() == [run_id]
        assert view.run["run"]["run_id"] == run_id and view._layout["nodes"]
        assert all(w.error == "" for w in widgets)
    finally:
        for w in widgets:
            w.close()
        src.close()
        server.stop()


def test_a_returning_runner_is_seen_within_seconds_even_after_a_long_outage(tmp_path):
    """The retry delay while the runner is away is capped (live.MAX_BACKOFF, 3 s): after
    five failed tries (~9 s away; uncapped doubling would now wait 16 s) a runner started
    again on the same port clears the view's offline state within a few seconds."""
    runner = LocalRunner([ORDERS], db=tmp_path / "runs.sqlite", tick_s=0.1, data_dir=tmp_path)
    server = serve_in_thread(runner, start_runner=False)
    port = server.port
    src = connect(server.url, timeout=2)
    failures: list[float] = []
    seen: list[BaseException] = []
    fifth_failure = threading.Event()

    def spied(method: Callable[..., Any]) -> Callable[..., Any]:
        """The Source's own method, noting when a try of the poller fails."""
        def failed(exc: BaseException) -> None:
            if seen and seen[-1] is exc:  # the snapshot inside the push session: one try
                return
            seen.append(exc)
            failures.append(time.monotonic())
            if len(failures) >= 5:
                fifth_failure.set()

        if method.__name__ == "open_push":
            @contextmanager
            def cm(*args: Any, **kwargs: Any) -> Iterator[Any]:
                try:
                    with method(*args, **kwargs) as resp:
                        yield resp
                except errors.RunnerUnavailable as exc:
                    failed(exc)
                    raise
            return cm

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except errors.RunnerUnavailable as exc:
                failed(exc)
                raise
        return call

    src.open_push = spied(src.open_push)  # type: ignore[method-assign]
    src.snapshot = spied(src.snapshot)  # type: ignore[method-assign]
    cards = PipelineCards(src)
    back = threading.Event()
    cards.observe(lambda change: back.set() if change["new"] else None, "connected")
    try:
        assert cards.connected
        server.stop()
        wait_until(lambda: not cards.connected, 15, "the view to notice the runner went away")
        assert fifth_failure.wait(60), f"the poller stopped trying ({len(failures)} tries)"
        server = serve_in_thread(runner, port=port, start_runner=False)
        ready = time.monotonic()
        assert back.wait(60), "the view never saw the runner again"
        seen_after = time.monotonic() - ready
        gaps = [b - a for a, b in zip(failures, failures[1:], strict=False)]
        # the cap is 3 s (3.6 s with jitter) + one try and the first read; uncapped: ≥ 12.8 s
        assert seen_after < 10, (f"the returning runner was seen after {seen_after:.1f} s "
                                 f"(gaps between failed tries: {gaps})")
        assert cards.connection_error == "" and cards.pipelines
    finally:
        cards.close()
        src.close()
        server.stop()
