"""Record the cassettes in ``recorded/`` from a real Airflow 3.3.2 and a real Prefect 3.8.8.

    .venv/bin/python tests/orchestrators/record.py [airflow] [prefect]

Starts each server as the live tests do (venvs cached by version), sets up the edge cases
(a paused DAG with a queued run, a mapped task with a failing item, a diamond whose middle
task fails; Prefect deployments with a schedule, paused, unserved, and a flow run without a
deployment), then drives the real Sources through a recording transport, one cassette per
scenario. About a minute per server. The servers are stopped at the end.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # a script: _cassette beside it, tests/fwtest

from _cassette import RecordingTransport, Redactor, airflow_source, prefect_source, save  # noqa: E402
from fwtest import orch_servers as S  # noqa: E402

from flowwidgets import errors  # noqa: E402
from flowwidgets.models import Status  # noqa: E402
from flowwidgets.sources.airflow import detect_airflow  # noqa: E402
from flowwidgets.sources.prefect import detect_prefect  # noqa: E402


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120.0) -> None:
    """Poll ``check`` every second until it is true."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(1.0)


def expect(exc: type[BaseException], call: Callable[[], object]) -> None:
    """``call()`` must raise ``exc``."""
    try:
        call()
    except exc as e:
        print(f"    raised {type(e).__name__}: {str(e)[:120]}")
        return
    raise AssertionError(f"expected {exc.__name__}")


def both(src, calls: Callable) -> object:  # noqa: ANN001
    """Run ``calls(src)``: several calls on one Source, as the unit tests make them."""
    return calls(src)


class Recorder:
    """Runs scenarios against one server, each into its own cassette."""

    def __init__(self, base: str, software: str, clock: datetime, expired: str | None = None):
        self.base, self.software, self.clock, self.expired = base, software, clock, expired

    def __call__(self, scenario: str, note: str, body: Callable[[httpx.Client], object]) -> None:
        redactor = Redactor()
        if self.expired:
            redactor.token(self.expired, "recorded-token-expired")
        transport = RecordingTransport(redactor)
        with httpx.Client(transport=transport, timeout=180) as client:
            print(f"  {scenario}")
            body(client)
        path = save(scenario, transport.exchanges, base_url=self.base, clock=self.clock,
                    software=self.software, note=note)
        print(f"    {len(transport.exchanges)} exchanges → {path.name}")


def record_airflow(work: Path) -> None:
    flag, trace = work / "fail.flag", work / "trace.txt"
    flag.write_text("fail")
    extra = {"FW_FAIL_FLAG": str(flag), "FW_TRACE": str(trace),
             "AIRFLOW__API_AUTH__JWT_EXPIRATION_TIME": "40",
             "AIRFLOW__API_AUTH__JWT_LEEWAY": "0"}
    dags = (S.DAGS / "fw_diamond.py", S.DAGS / "fw_edge_cases.py")
    with S.airflow_server(work, dags, extra) as srv:
        expired = srv.token()
        got_expired = time.monotonic()
        now = lambda: datetime.now(UTC)  # noqa: E731
        with httpx.Client(timeout=180) as plain:
            setup = airflow_source(srv.url, plain, now(), username=srv.username,
                                   password=srv.password, timeout=180)
            diamond = setup.run_now("fw_diamond")
            mapped = setup.run_now("fw_mapped")
            queued = setup.run_now("fw_paused")
            wait_for("the runs to finish", lambda: all(
                setup.run(r).status.is_terminal for r in (diamond, mapped)), 600)
        clock = now()
        rec = Recorder(srv.url, f"apache-airflow {S.AIRFLOW_VERSION}", clock, expired)

        def src(client: httpx.Client, **kw):  # noqa: ANN202
            kw.setdefault("username", srv.username)
            kw.setdefault("password", srv.password)
            return airflow_source(srv.url, client, clock, timeout=180, **kw)

        def pipelines(c: httpx.Client) -> None:
            probe = airflow_source(srv.url, c, clock, start=False)
            assert probe._drive(detect_airflow()) == S.AIRFLOW_VERSION
            s = src(c)
            s.pipelines()
            assert s.health()
        rec("airflow_pipelines", "detect, log in, every DAG as a card (one paused), health",
            pipelines)

        def poll(c: httpx.Client) -> None:
            s = src(c)
            s.snapshot()  # first contact
            s.snapshot()  # idle: one request
            s.run_now("fw_paused")  # a new dag run (it stays queued: the DAG is paused)
            s.snapshot()  # that one DAG is read again
            s.snapshot()  # idle again
        rec("airflow_poll", "polls: first contact, idle, after a new run of one DAG, idle",
            poll)

        def runs(c: httpx.Client) -> None:
            s = src(c)
            s.runs()
            s.runs(status="failed")
            s.runs(pipeline="fw_diamond", limit=1)
        rec("airflow_runs", "all runs (queued, failed, mapped success), failed only, one DAG "
            "paged by one", runs)
        rec("airflow_run_failed", "the failed diamond: detail and the failed task's log",
            lambda c: both(src(c), lambda s: (s.run(diamond), s.step_log(diamond, "enrich"),
                                              s.step_log(diamond, "join"))))
        rec("airflow_run_mapped", "a mapped task whose third item failed",
            lambda c: both(src(c), lambda s: (s.run(mapped), s.step_log(mapped, "square"))))
        rec("airflow_run_queued", "a run of a paused DAG, queued", lambda c: src(c).run(queued))

        def not_found(c: httpx.Client) -> None:
            s = src(c)
            expect(errors.NotFound, lambda: s.run("fw_diamond/no_such_run"))
            expect(errors.NotFound, lambda: s.run("no_such_dag/x"))
            expect(errors.NotFound, lambda: s.runs(pipeline="no_such_dag"))
        rec("airflow_not_found", "404s: unknown run, unknown DAG", not_found)
        rec("airflow_bad_credentials", "a wrong password at login",
            lambda c: expect(errors.Unauthorized, lambda: src(c, password="wrong")))

        def refusals(c: httpx.Client) -> None:
            s = src(c)
            expect(errors.InvalidAction, lambda: s.restart(diamond, "no_such_task"))
            expect(errors.RunConflict, lambda: s.restart(queued, "only"))
        rec("airflow_restart_refused", "restart from an unknown task; restart of a queued run",
            refusals)

        wait_for("the first token to expire", lambda: time.monotonic() - got_expired > 50)
        rec("airflow_expired_token", "an expired JWT with credentials: 401, log in again, "
            "repeat", lambda c: src(c, token=expired).pipelines())
        rec("airflow_expired_token_only", "an expired JWT and no credentials",
            lambda c: expect(errors.Unauthorized,
                             lambda: src(c, token=expired, username=None, password=None)))

        flag.unlink()
        rec("airflow_restart", "restart the failed diamond from enrich (flag removed)",
            lambda c: src(c).restart(diamond, "enrich"))
        with httpx.Client(timeout=180) as plain:
            setup = airflow_source(srv.url, plain, now(), username=srv.username,
                                   password=srv.password, timeout=180)
            wait_for("the restarted run to succeed",
                     lambda: setup.run(diamond).status is Status.SUCCEEDED, 600)
        rec("airflow_run_restarted", "the diamond after the restart: tries 1 and 2 of enrich",
            lambda c: both(src(c), lambda s: (s.run(diamond),
                                              s.step_log(diamond, "enrich", 1))))
        rec("airflow_rerun", "rerun the whole mapped run", lambda c: src(c).rerun(mapped))
        rec("airflow_run_now_idempotent", "run now twice with one idempotency key: 409",
            lambda c: both(src(c), lambda s: [s.run_now("fw_diamond", idempotency_key="rec-1")
                                              for _ in range(2)]))
    print("  airflow timings", {k: round(v, 1) for k, v in srv.timings.items()})


def record_prefect(work: Path) -> None:
    flag, trace = work / "fail.flag", work / "trace.txt"
    flag.write_text("fail")
    extra = {"FW_FAIL_FLAG": str(flag), "FW_TRACE": str(trace),
             "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5"}
    with S.prefect_server(work, extra) as srv:
        now = lambda: datetime.now(UTC)  # noqa: E731
        srv.serve(S.FLOWS / "fw_diamond_flow.py", "--all")
        api = f"{srv.url}/api"
        with httpx.Client(timeout=180) as plain:
            def deployments() -> dict[str, str]:
                rows = plain.post(f"{api}/deployments/filter", json={}).json()
                return {d["name"]: d["id"] for d in rows}
            wait_for("three deployments", lambda: len(deployments()) == 3)
            wait_for("the nightly deployment's runs to be scheduled", lambda: plain.post(
                f"{api}/flow_runs/count", json={"deployments": {"id": {"any_": [
                    deployments()["nightly"]]}}}).json() > 0)
            direct = S.start("mapped", [str(Path(srv.env["FW_VENV"]) / "bin" / "python"),
                                        str(S.FLOWS / "fw_diamond_flow.py"), "--mapped"],
                             srv.env, srv.home, work / "mapped.log")
            try:
                direct.popen.wait(120)
            finally:
                direct.stop()
            setup = prefect_source(srv.url, plain, now())
            diamond = setup.run_now("fw-diamond/diamond")
            flow_id = plain.get(f"{api}/deployments/{deployments()['diamond']}").json()[
                "flow_id"]
            unserved = plain.post(f"{api}/deployments/", json={
                "name": "unserved", "flow_id": flow_id}).json()["id"]
            queued = plain.post(f"{api}/deployments/{unserved}/create_flow_run",
                                json={}).json()["id"]
            wait_for("the diamond to fail", lambda: prefect_source(
                srv.url, plain, now()).run(diamond).status is Status.FAILED)
            time.sleep(3)  # task-run states arrive through Prefect's events, a bit later
            mapped = next(r.run_id for r in setup.runs(pipeline="fw-mapped").runs)
        clock = now()
        rec = Recorder(srv.url, f"prefect {S.PREFECT_VERSION}", clock)

        def src(c: httpx.Client):  # noqa: ANN202
            return prefect_source(srv.url, c, clock)

        def pipelines(c: httpx.Client) -> None:
            s = src(c)
            assert s._drive(detect_prefect()) == S.PREFECT_VERSION
            s.pipelines()
            assert s.health()
        rec("prefect_pipelines", "detect; deployments (one on a cron schedule, one paused, "
            "one unserved) and a flow run without a deployment as cards", pipelines)

        def poll(c: httpx.Client, s) -> None:  # noqa: ANN001
            s.snapshot()  # first contact
            s.snapshot()  # idle: one request
            s.run_now("fw-diamond/unserved")  # a new flow run nothing serves: it waits
            time.sleep(7)  # Prefect's event persister stores events every 5 s
            s.snapshot()  # that one deployment is read again
            s.snapshot()  # idle again
        ahead = now() + timedelta(seconds=20)  # the new run must be history at this clock
        Recorder(srv.url, f"prefect {S.PREFECT_VERSION}", ahead)(
            "prefect_poll", "polls: first contact, idle, after a new run of one deployment, "
            "idle", lambda c: poll(c, prefect_source(srv.url, c, ahead)))

        def runs(c: httpx.Client) -> None:
            s = src(c)
            s.runs()
            s.runs(status="failed")
            s.runs(pipeline="fw-diamond/diamond")
            s.runs(pipeline="fw-mapped")
        rec("prefect_runs", "all runs, failed only, one deployment, a flow without one", runs)
        rec("prefect_run_failed", "the failed diamond: detail and the failed task's log",
            lambda c: both(src(c), lambda s: (s.run(diamond), s.step_log(diamond, "enrich"),
                                              s.step_log(diamond, "join"))))
        rec("prefect_run_mapped", "a mapped task whose third item failed, run without a "
            "deployment", lambda c: src(c).run(mapped))
        rec("prefect_run_queued", "a run of a deployment no runner serves: scheduled, late",
            lambda c: src(c).run(queued))

        def not_found(c: httpx.Client) -> None:
            s = src(c)
            expect(errors.NotFound, lambda: s.run("00000000-0000-0000-0000-000000000000"))
            expect(errors.NotFound, lambda: s.run("no-such-run"))
            expect(errors.NotFound, lambda: s.run_now("fw-diamond/no-such-deployment"))
        rec("prefect_not_found", "404s: unknown flow run, malformed id, unknown deployment",
            not_found)

        def refusals(c: httpx.Client) -> None:
            s = src(c)
            expect(errors.ActionNotSupported, lambda: s.rerun(mapped))
            expect(errors.RunConflict, lambda: s.rerun(queued))
        rec("prefect_rerun_refused", "retry of a run without a deployment; of a queued run",
            refusals)

        flag.unlink()
        rec("prefect_rerun", "retry the failed diamond (flag removed)",
            lambda c: src(c).rerun(diamond))
        with httpx.Client(timeout=180) as plain:
            def settled() -> bool:
                d = prefect_source(srv.url, plain, now()).run(diamond)
                return d.status is Status.SUCCEEDED and all(
                    s.status is Status.SUCCEEDED for s in d.steps)
            wait_for("the retried run to succeed", settled)
        rec("prefect_run_retried", "the diamond after the retry: two task runs per task",
            lambda c: both(src(c), lambda s: (s.run(diamond), s.step_log(diamond, "enrich", 1))))
        rec("prefect_run_now_idempotent", "run now twice with one idempotency key",
            lambda c: both(src(c), lambda s: [s.run_now("fw-diamond/diamond",
                                                        idempotency_key="rec-1")
                                              for _ in range(2)]))
    print("  prefect timings", {k: round(v, 1) for k, v in srv.timings.items()})


def main(argv: list[str]) -> None:
    which = argv or ["airflow", "prefect"]
    for name in which:
        with tempfile.TemporaryDirectory(prefix=f"fw-record-{name}-") as tmp:
            print(name)
            {"airflow": record_airflow, "prefect": record_prefect}[name](Path(tmp))


if __name__ == "__main__":
    main(sys.argv[1:])
