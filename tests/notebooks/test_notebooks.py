"""The notebooks of notebooks/, executed for real with nbclient.

Each execution is a real kernel of this venv. Quickstart and history run against a demo
runner this test process serves on 127.0.0.1 (``RUNNER_STATUS_URL`` in the kernel's
environment; the runner reads the failure switch the kernel flips in the shared data
folder), and standalone (no ``RUNNER_STATUS_URL``: the notebook starts the runner in its
kernel); the dashboard runs standalone, as Voilà runs it without a runner named; the
separate-processes notebook starts its own ``flowwidgets serve`` process. Every cell must
run without an error or stderr output, and the outputs that matter are checked: the
quickstart's restart succeeded (in the runner's own run log too), the history views render
and its summary has
every demo pipeline, the separate-processes notebook saw the 401, the outage and the
reconnection.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from _nbrun import (  # noqa: E402
    NOTEBOOKS,
    WIDGET_MIME,
    cell,
    check_clean,
    execute,
    kernel_env,
    mimes,
    text,
)
from fwtest.clock import no_cron_fires

from flowwidgets import demo  # noqa: E402
from flowwidgets.models import Status  # noqa: E402
from flowwidgets.runner._local import LocalRunner  # noqa: E402
from flowwidgets.runner.serve import ServerHandle, serve_in_thread  # noqa: E402
from flowwidgets.runner.spec import load_pipelines  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAMES = ("quickstart", "history", "dashboard", "separate_processes")
DEMO_PIPELINES = ("warehouse_etl", "events_stream", "customers_sync", "inventory_snapshot",
                  "marketing_export", "revenue_report")
PACE = "0.05"
"""$FLOWWIDGETS_DEMO_PACE for runs made by the tests: real steps, short pauses."""


@pytest.fixture(scope="module")
def demo_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """The demo pipelines served from this process, with real history: the stream running,
    two rounds of every batch pipeline, then a third with warehouse_etl failing."""
    data = demo.prepare(tmp_path_factory.mktemp("demo"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLOWWIDGETS_DEMO_PACE", PACE)
        runner = LocalRunner(load_pipelines(demo.pipelines_path()), db=data / "runs.sqlite",
                             data_dir=data, tick_s=0.2)
        # no cron fires: warehouse_etl's hourly one, with the failure switch on, made a
        # newer failed run between the test's "latest failed run" and the notebook's
        no_cron_fires(runner)
        with serve_in_thread(runner) as server:
            runner.run_now("events_stream")
            batch = [p.name for p in runner.pipelines if p.kind == "batch"]
            for round_no in range(3):
                demo.set_failure(round_no == 2, data)
                for run_id in [runner.run_now(name) for name in batch]:
                    runner.wait(run_id, timeout=60)
            yield server


def _against(server: ServerHandle) -> dict[str, str]:
    return kernel_env(RUNNER_STATUS_URL=server.url,
                      FLOWWIDGETS_DEMO_DATA=str(server.runner.data_dir))


def _standalone(tmp_path: Path) -> dict[str, str]:
    return kernel_env(FLOWWIDGETS_DEMO_PACE=PACE, TMPDIR=str(tmp_path))


def _widget(nb: nbformat.NotebookNode, tag: str) -> None:
    assert WIDGET_MIME in mimes(cell(nb, tag)), f"cell {tag!r} displayed no widget"


# ---- the committed files --------------------------------------------------------------


def test_committed_notebooks_have_no_outputs() -> None:
    found = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert found == sorted(NAMES)
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        assert "widgets" not in nb.metadata, f"{name}: saved widget state"
        for i, c in enumerate(nb.cells):
            if c.cell_type == "code":
                assert c.outputs == [], f"{name} cell {i} has outputs"
                assert c.execution_count is None, f"{name} cell {i} has an execution count"
            assert "execution" not in c.metadata, f"{name} cell {i} has timing metadata"


def test_notebooks_read_the_runner_from_the_environment() -> None:
    for name in ("quickstart", "history", "dashboard"):
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert 'os.environ.get("RUNNER_STATUS_URL")' in first.source, name
        assert "serve_in_thread(" in first.source, name


# ---- executed against the test's runner ------------------------------------------------


def test_quickstart_restarts_the_failed_run(demo_runner: ServerHandle) -> None:
    store = demo_runner.runner.store
    failed, _ = store.list_runs(pipeline="warehouse_etl", status=Status.FAILED, limit=1)
    assert failed, "the fixture made no failed warehouse run"
    nb = execute("quickstart", _against(demo_runner), "runner")
    check_clean(nb)
    for tag in ("cards", "jobs", "failed-run", "dashboard", "restarted-run"):
        _widget(nb, tag)
    out = text(cell(nb, "restart"))
    match = re.search(r"^(\S+) \(restart of (\S+) from merge_payments\): succeeded$", out, re.M)
    assert match, out
    new_id, parent = match.groups()
    assert parent == failed[0].run_id  # the latest failed run, found by the notebook
    record = store.get_run(new_id)  # the runner's own log agrees
    assert record is not None and record.status is Status.SUCCEEDED
    assert (record.trigger, record.parent_run_id, record.from_step) == (
        "restart", parent, "merge_payments")
    reused = {s.name for s in store.get_steps(new_id) if s.reused_from == parent}
    assert reused == {"extract_orders", "transform_orders", "transform_payments"}
    assert "load_warehouse" in out and "succeeded" in out  # the steps_frame table
    assert not demo.failure_enabled(demo_runner.runner.data_dir)


def test_history_summarises_every_pipeline(demo_runner: ServerHandle) -> None:
    nb = execute("history", _against(demo_runner), "runner")
    check_clean(nb)
    assert cell(nb, "make-history").outputs == []  # an outside runner: nothing is made
    summary = text(cell(nb, "summary"))
    for name in DEMO_PIPELINES:
        assert name in summary, f"{name} missing from the summary:\n{summary}"
    for tag in ("history-view", "history-pipeline", "compare"):  # the views, no plots
        _widget(nb, tag)
    assert not any("image/png" in mimes(c) for c in nb.cells if c.cell_type == "code")
    assert "new failure" in text(cell(nb, "compare"))  # the static fallback's words
    assert "merge_payments" in text(cell(nb, "step-stats"))
    assert "extract_orders" in text(cell(nb, "grid"))
    failures = text(cell(nb, "failures"))
    assert "merge_payments" in failures and "amount column missing" in failures
    assert "pull_customers" in text(cell(nb, "retries"))  # the flaky CRM pull retried


# ---- standalone: each notebook starts its own runner -----------------------------------


def test_quickstart_standalone_makes_and_restarts_a_failure(tmp_path: Path) -> None:
    nb = execute("quickstart", _standalone(tmp_path), "standalone")
    check_clean(nb)
    out = text(cell(nb, "restart"))
    assert re.search(r"^warehouse_etl-\S+ \(restart of warehouse_etl-\S+ from "
                     r"merge_payments\): succeeded$", out, re.M), out
    assert "http://127.0.0.1:" in text(cell(nb, "setup"))  # the Source repr: in-kernel API
    assert list(tmp_path.glob("flowwidgets-demo-*")) == []  # removed at kernel shutdown


def test_dashboard_standalone_queues_runs_and_draws(tmp_path: Path) -> None:
    nb = execute("dashboard", _standalone(tmp_path), "standalone")
    check_clean(nb)
    assert cell(nb, "setup").outputs == []  # Voilà shows nothing but the dashboard
    _widget(nb, "dashboard")
    shown = text(cell(nb, "dashboard"))
    for name in DEMO_PIPELINES:  # the static fallback lists every pipeline
        assert name in shown, shown
    assert list(tmp_path.glob("flowwidgets-demo-*")) == []  # runner stopped, folder removed


def test_history_standalone_generates_real_history(tmp_path: Path) -> None:
    nb = execute("history", _standalone(tmp_path), "standalone")
    check_clean(nb)
    match = re.search(r"^(\d+) runs of (\d+) pipelines", text(cell(nb, "runs")), re.M)
    assert match, text(cell(nb, "runs"))
    # two weeks imported (about 1,700 runs) and two real rounds of 5 on top, plus the stream
    assert int(match[1]) >= 1500 + 2 * 5 + 1 and int(match[2]) == len(DEMO_PIPELINES)
    summary = text(cell(nb, "summary"))
    for name in DEMO_PIPELINES:
        assert name in summary
    assert "amount column missing" in text(cell(nb, "failures"))
    _widget(nb, "history-view")
    assert "imported run" in text(cell(nb, "history-view"))


def _nightly_fires(after: datetime, until: datetime) -> int:
    """How many 03:00 UTC instants (nightly_backup's "0 3 * * *") lie in (after, until]."""
    day = after.replace(hour=3, minute=0, second=0, microsecond=0)
    fires = [day + timedelta(days=k) for k in range(-1, (until - after).days + 2)]
    return sum(after < t <= until for t in fires)


def test_separate_processes(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    nb = execute("separate_processes", _standalone(tmp_path), "standalone")
    # the notebook's runner fires nightly_backup at 03:00 UTC: a test running then sees
    # that scheduled run too (it failed once at 03:00); the one run_now is always there
    fired = _nightly_fires(before, datetime.now(UTC))
    check_clean(nb)
    started = text(cell(nb, "start-runner"))
    url = re.search(r"(http://127\.0\.0\.1:\d+)", started)
    assert url, started
    assert "without a token: Unauthorized" in text(cell(nb, "no-token"))
    assert re.search(r"^nightly_backup-\S+: succeeded$", text(cell(nb, "ui")), re.M)
    _widget(nb, "ui")
    stopped = cell(nb, "stopped")
    assert "runner answers: False" in text(stopped)
    assert "NO RUNNER ATTACHED" in text(stopped) and "Connection refused" in text(stopped)
    _widget(nb, "stopped")
    again = text(cell(nb, "restarted"))
    recorded = re.search(r"^runs recorded: (\d+)$", again, re.M)
    assert "runner answers: True" in again and recorded, again
    assert 1 <= int(recorded[1]) <= 1 + fired, (again, fired)
    _widget(nb, "restarted")
    port = int(url[1].rsplit(":", 1)[1])
    with socket.socket() as s:  # the notebook stopped its runner process
        assert s.connect_ex(("127.0.0.1", port)) != 0
