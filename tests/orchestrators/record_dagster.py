"""Record the Dagster cassettes in ``recorded/`` from a real Dagster 1.13.

    .venv/bin/python tests/orchestrators/record_dagster.py

Starts ``dagster dev`` as the live tests do (venv cached by version), runs the diamond
until it fails, re-executes it from failure, then drives the real Source through a
recording transport, one cassette per scenario; a second, ``--read-only`` webserver on the
same instance gives the refusals. About 40 s. The servers are stopped at the end.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # a script: _cassette beside it, tests/fwtest

from _cassette import dagster_source  # noqa: E402
from fwtest import orch_dagster as D  # noqa: E402
from fwtest.orch_servers import free_port, start, wait_until  # noqa: E402
from record import Recorder, expect, wait_for  # noqa: E402

from flowwidgets import errors  # noqa: E402
from flowwidgets.sources import connect as fw_connect  # noqa: E402
from flowwidgets.sources._dagster_gql import gql, union  # noqa: E402
from flowwidgets.sources.dagster import detect_dagster  # noqa: E402

PYTHON_ERROR = ("mutation FwReexecute($re: ReexecutionParams) { launchRunReexecution("
                "reexecutionParams: $re) { __typename ... on PythonError { message stack } } }")


def python_error():  # noqa: ANN201 - a plan
    """Re-execute a run that does not exist, straight through GraphQL: Dagster answers a
    PythonError with HTTP 500 (the Source reads the run first and never sends this)."""
    data = yield from gql("FwReexecute", PYTHON_ERROR,
                          {"re": {"parentRunId": "no-such-run", "strategy": "FROM_FAILURE"}})
    return union(data, "launchRunReexecution", "LaunchRunSuccess", "POST /graphql FwReexecute")


def record(work: Path) -> None:
    flag, trace = work / "fail.flag", work / "trace.txt"
    flag.write_text("fail")
    extra = {"FW_FAIL_FLAG": str(flag), "FW_TRACE": str(trace)}
    with D.dagster_server(work, extra) as srv:
        now = lambda: datetime.now(UTC)  # noqa: E731
        with httpx.Client() as plain:
            setup = dagster_source(srv.url, plain, now())

            def finished(run_id: str) -> Callable[[], bool]:
                return lambda: setup.run(run_id).status.is_terminal

            failed = setup.run_now("fw_diamond")
            wait_for("the diamond to fail", finished(failed))
            flag.unlink()
            healed = setup.restart(failed)  # from failure
            wait_for("the re-execution to succeed", finished(healed))
            flag.write_text("fail")
        clock = now()
        rec = Recorder(srv.url, f"dagster {D.DAGSTER_VERSION}", clock)

        def src(c: httpx.Client):  # noqa: ANN202
            return dagster_source(srv.url, c, clock)

        def connect(c: httpx.Client) -> None:
            with fw_connect(srv.url, client=c) as s:
                assert s.flavour == "dagster"
        rec("dagster_connect", "connect() probes our /api, Airflow, Prefect, then finds "
            "Dagster's /server_info (the webserver answers its UI page to unknown paths)",
            connect)

        def pipelines(c: httpx.Client) -> None:
            s = src(c)
            assert s._drive(detect_dagster()) == D.DAGSTER_VERSION
            s.pipelines()
            assert s.health()
        rec("dagster_pipelines", "detect; the jobs as cards (the diamond with a failed run "
            "and its re-execution, a job on a cron schedule, a job with a sensor)", pipelines)

        def runs(c: httpx.Client) -> None:
            s = src(c)
            s.runs()
            s.runs(status="failed")
            s.runs(pipeline="fw_diamond", limit=1, offset=1)
        rec("dagster_runs", "all runs, failed only, one job paged", runs)
        rec("dagster_run_failed", "the failed diamond: detail, the failed step's log, a "
            "step that never ran", lambda c: (lambda s: (
                s.run(failed), s.step_log(failed, "enrich"), s.step_log(failed, "join")))(src(c)))
        rec("dagster_run_reexecuted", "the re-execution from failure: reused steps, the "
            "job's whole plan", lambda c: src(c).run(healed))

        def poll(c: httpx.Client) -> None:
            s = src(c)
            s.snapshot()
            s.snapshot()
        rec("dagster_poll", "the poller: a first full snapshot, then one idle poll", poll)

        def not_found(c: httpx.Client) -> None:
            s = src(c)
            expect(errors.NotFound, lambda: s.run("00000000-0000-0000-0000-000000000000"))
            expect(errors.PipelineNotFound, lambda: s.run_now("no_such_job"))
            expect(errors.Unprocessable, lambda: s._drive(gql("FwBogus", "{ bogus }")))
            expect(errors.ServerError, lambda: s._drive(python_error()))
        rec("dagster_errors", "RunNotFoundError, an unknown job, a query Dagster rejects, a "
            "PythonError (HTTP 500)", not_found)

        def refusals(c: httpx.Client) -> None:
            s = src(c)
            expect(errors.InvalidAction, lambda: s.restart(failed, "no_such_step"))
            expect(errors.InvalidAction, lambda: s.restart(failed, "clean"))
            expect(errors.InvalidAction, lambda: s.restart(healed))
            expect(errors.Conflict, lambda: s.cancel(failed))
        rec("dagster_refused", "restart from an unknown step, from a step whose upstream "
            "failed, from failure of a run without one; terminate a finished run", refusals)

        rec("dagster_restart", "restart the failed diamond from failure",
            lambda c: src(c).restart(failed))
        rec("dagster_restart_step", "restart the re-execution from join (step selection)",
            lambda c: src(c).restart(healed, "join"))
        rec("dagster_rerun", "rerun every step of the failed diamond",
            lambda c: src(c).rerun(failed))

        def run_now(c: httpx.Client) -> None:
            s = src(c)
            new = [s.run_now("fw_diamond", idempotency_key="rec-1") for _ in range(2)]
            assert new[0] == new[1]
            s.cancel(new[0])
        rec("dagster_run_now_cancel", "run now twice with one idempotency key, then "
            "terminate it", run_now)

        with httpx.Client() as plain:  # every re-execution above has ended
            wait_for("the runs to end", lambda: all(
                r.status.is_terminal for r in dagster_source(srv.url, plain, now()).runs().runs))
        time.sleep(6)  # past the cards' 5 s look-back

        def pipelines_again(c: httpx.Client) -> None:
            s = src(c)
            s.pipelines()
            s.pipelines()  # nothing changed: the cards are reused
            with httpx.Client() as plain:
                other = dagster_source(srv.url, plain, now())
                sensed = other.run_now("fw_sensed")
                wait_for("the fw_sensed run", lambda: other.run(sensed).status.is_terminal)
            s.pipelines()  # only fw_sensed's card is read again
        rec("dagster_pipelines_again", "the cards three times: all, none changed, then one "
            "job with a new run", pipelines_again)

        def poll_then_cards(c: httpx.Client) -> None:
            s = src(c)
            s.snapshot()
            with httpx.Client() as plain:
                other = dagster_source(srv.url, plain, now())
                sensed = other.run_now("fw_sensed")
                wait_for("the fw_sensed run", lambda: other.run(sensed).status.is_terminal)
            s.snapshot()  # sees the run, reads fw_sensed's card
            s.pipelines()  # the widgets' re-query: that card, not read again
        rec("dagster_poll_then_cards", "a poll, a new run, the poll that sees it, then the "
            "cards", poll_then_cards)

        port = free_port()
        ro = start("dagster-webserver --read-only",
                   [str(Path(srv.env["PATH"].split(":")[0]) / "dagster-webserver"), "-w",
                    str(work / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port),
                    "--read-only"], srv.env, work, work / "readonly.log")
        try:
            ro_url = f"http://127.0.0.1:{port}"
            wait_until("the read-only webserver", lambda: httpx.get(
                f"{ro_url}/server_info", timeout=5).status_code == 200, 120, (ro,))
            ro_rec = Recorder(ro_url, f"dagster {D.DAGSTER_VERSION} --read-only", clock)
            ro_rec("dagster_read_only", "a --read-only webserver refuses run now and rerun",
                   lambda c: (lambda s: (expect(errors.Unauthorized, lambda: s.run_now(
                       "fw_diamond")), expect(errors.Unauthorized, lambda: s.rerun(failed))))(
                       dagster_source(ro_url, c, clock)))
        finally:
            ro.stop(grace=5)
        time.sleep(1)
    print("  dagster timings", {k: round(v, 1) for k, v in srv.timings.items()})


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="fw-record-dagster-") as tmp:
        record(Path(tmp))
