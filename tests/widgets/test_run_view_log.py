"""RunView's step panel: the newest attempt's error (a traceback where the runner keeps
one), the log tail, and — when there is none — why: nothing captured, the step did not
run here, or (only when the Source says so) a runner that keeps no step logs."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from _widget_support import wait_until

from flowwidgets.models import Attempt, Run, RunDetail, Status, Step
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import PipelineSpec, StepSpec
from flowwidgets.sources import Source, connect
from flowwidgets.widgets import RunView
from flowwidgets.widgets._run_view import latest_attempt, no_log_note, step_error


def fail_quietly(ctx) -> int:
    """A call step that raises without printing anything while fail.flag exists."""
    if (ctx.data_dir / "fail.flag").exists():
        raise ValueError("quota exhausted")
    return 1


QUIET = PipelineSpec("quiet", (
    StepSpec("prep", run="echo prepared"),
    StepSpec("boom", depends_on=("prep",), call="test_run_view_log:fail_quietly"),
    StepSpec("after", depends_on=("boom",), run="true"),
))


@pytest.mark.integration
def test_a_failed_step_that_wrote_nothing_shows_its_error_not_a_missing_log(tmp_path):
    (tmp_path / "fail.flag").write_text("on")
    runner = LocalRunner([QUIET], db=tmp_path / "runs.sqlite", tick_s=0.1, data_dir=tmp_path)
    with serve_in_thread(runner) as server, connect(server.url) as src:
        assert src.step_logs is True
        run_id = src.run_now("quiet")
        wait_until(lambda: src.run(run_id).status.is_terminal, 20, "the run to fail")
        view = RunView(src, run_id, live=False)
        try:
            view.selected_step = "boom"
            log = view._step_log
            assert log["step"] == "boom" and log["attempt"] == 1
            assert log["text"] is None and log["note"] == "no output was captured"
            attempt_error = src.run(run_id).step("boom").attempts[-1].error
            assert attempt_error and log["error"] == attempt_error
            assert "Traceback" in log["error"] and "ValueError: quota exhausted" in log["error"]
            assert log["status"] == "failed"  # the panel draws its error as a failure

            view.selected_step = "after"  # downstream of the failure: never ran
            assert view._step_log["note"] == "this step has not run"
            assert view._step_log["error"] is None and view._step_log["attempt"] is None
            assert view._step_log["status"] == "pending"  # no attempt: the step's own status

            view.selected_step = "prep"
            log = view._step_log
            assert "prepared" in log["text"] and log["note"] is None and log["error"] is None

            (tmp_path / "fail.flag").unlink()
            new = view.restart("boom")
            wait_until(lambda: src.run(new).status.is_terminal, 20, "the restart to finish")
            view.refresh()
            view.selected_step = "prep"  # reused from the failed run
            assert view._step_log["note"] == f"reused from run {run_id}: it did not run in this run"
            assert all("keeps no" not in str(v) for v in view._step_log.values())
        finally:
            view.close()


def test_a_runner_without_step_logs_says_so_and_still_shows_the_error():
    """ematix-flow's `flow web` keeps no step logs: the Source says so (step_logs False)."""
    with _ematix_source() as src:
        assert src.step_logs is False and src.flavour == "ematix"
        view = RunView(src, "run-2", live=False)
        try:
            view.selected_step = "merge_payments"
            log = view._step_log
            assert log["note"] == "the ematix runner keeps no step logs"
            assert log["text"] is None and log["attempt"] == 2
            assert log["error"] == "KeyError: 'amount'"
            view.selected_step = "extract"
            assert view._step_log["note"] == "the ematix runner keeps no step logs"
            assert view._step_log["error"] is None
        finally:
            view.close()


T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@contextmanager
def _ematix_source() -> Iterator[Source]:
    """ematix-flow's real `flow web` app with one failed run (Starlette's TestClient)."""
    from ematix_flow.run_log.history import InMemoryRunHistory, RunRecord
    from ematix_flow.web.server import create_app

    history = InMemoryRunHistory()
    steps = [{"name": "extract", "status": "succeeded", "duration_ms": 1200},
             {"name": "merge_payments", "status": "failed", "depends_on": ["extract"]}]
    history.record_run_record(RunRecord(
        run_id="run-2", pipeline="warehouse_etl", status="failed", started_at=T0,
        finished_at=T0 + timedelta(seconds=35), attempt=2, failed_step="merge_payments",
        error_summary="KeyError: 'amount'", extras={"steps": steps}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's "use httpx2" notice
        from starlette.testclient import TestClient
    with TestClient(create_app(history=history)) as client:
        yield connect("http://testserver", client=client)


def _attempt(n: int, status: Status, error: str | None = None, step: str | None = "s"
             ) -> Attempt:
    return Attempt(number=n, status=status, started_at=T0 + timedelta(seconds=n),
                   finished_at=T0 + timedelta(seconds=n + 1), error=error, step=step)


def _detail(steps: tuple[Step, ...], attempts: tuple[Attempt, ...] = (),
            failed_step: str | None = None, error: str | None = None) -> RunDetail:
    run = Run(run_id="r1", pipeline="p", status=Status.FAILED, failed_step=failed_step)
    return RunDetail(run=run, steps=steps, attempts=attempts, error=error)


def test_the_error_is_the_newest_attempts_and_only_when_it_failed():
    tries = (_attempt(1, Status.FAILED, "Traceback\nValueError: one"),
             _attempt(2, Status.FAILED, "Traceback\nValueError: two"))
    d = _detail((Step(name="s", status=Status.FAILED, error="ValueError: two",
                      attempts=tries),), failed_step="s")
    assert latest_attempt(d, "s").number == 2
    assert step_error(d, "s", latest_attempt(d, "s")) == "Traceback\nValueError: two"
    retried = (_attempt(1, Status.FAILED, "ValueError: flaky"), _attempt(2, Status.SUCCEEDED))
    ok = _detail((Step(name="s", status=Status.SUCCEEDED, attempts=retried),))
    assert step_error(ok, "s", latest_attempt(ok, "s")) is None, "the retry succeeded"
    # per-run attempts that name only the failed step (ematix-flow), run error as fallback
    run_level = (Attempt(number=3, status=Status.FAILED, extra={"failed_step": "s"}),)
    e = _detail((Step(name="s", status=Status.FAILED),), run_level, "s", "KeyError: 'k'")
    assert latest_attempt(e, "s").number == 3
    assert step_error(e, "s", latest_attempt(e, "s")) == "KeyError: 'k'"
    assert latest_attempt(e, "other") is None


def test_why_there_is_no_log():
    d = _detail((Step(name="a", status=Status.PENDING),
                 Step(name="b", status=Status.SUCCEEDED, reused_from="r0"),
                 Step(name="c", status=Status.FAILED,
                      attempts=(_attempt(1, Status.FAILED, "x", step="c"),)),
                 Step(name="d", status=Status.SKIPPED)))
    assert no_log_note(d, "a") == "this step has not run"
    assert no_log_note(d, "b") == "reused from run r0: it did not run in this run"
    assert no_log_note(d, "c") == "no output was captured"
    assert no_log_note(d, "d") == "this step has not run"
    assert no_log_note(None, "a") == "no output was captured"
