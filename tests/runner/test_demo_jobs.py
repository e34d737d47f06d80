"""The demo pipelines: the file validates, the jobs do real work, the switch crosses processes."""

from __future__ import annotations

import gzip
import importlib
import inspect
import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import flowwidgets
from flowwidgets import demo
from flowwidgets.demo import jobs
from flowwidgets.runner.spec import PipelineSpec, load_pipelines

REPO = Path(flowwidgets.__file__).resolve().parents[1]


@dataclass
class Ctx:
    """The part of the runner's StepContext the demo jobs use."""

    data_dir: Path
    run_id: str = "run-1"
    pipeline: str = "p"
    step: str = "s"
    attempt: int = 1
    inputs: dict[str, Any] = field(default_factory=dict)
    watermark: str | None = None
    stop_after: int | None = None
    """should_stop() turns true on this call (None: never)."""
    logs: list[str] = field(default_factory=list)
    commits: list[tuple[str, int]] = field(default_factory=list)
    _asked: int = 0

    def log(self, msg: str) -> None:
        self.logs.append(msg)

    def commit(self, watermark: str, rows: int = 0) -> None:
        self.commits.append((watermark, rows))

    def should_stop(self) -> bool:
        self._asked += 1
        return self.stop_after is not None and self._asked >= self.stop_after


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(jobs.PACE_ENV, "0")
    return demo.prepare(tmp_path / "data")


def rows(db: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def run_pipeline(spec: PipelineSpec, data: Path, run_id: str,
                 timings: dict[str, float] | None = None) -> dict[str, Any]:
    """Execute a demo pipeline the way the executor's contract says, in declaration order."""
    outputs: dict[str, Any] = {}
    for step in spec.steps:
        assert all(d in outputs for d in step.depends_on), "declaration order is topological"
        for attempt in range(1, step.retries + 2):
            ctx = Ctx(data, run_id=run_id, pipeline=spec.name, step=step.name,
                      attempt=attempt, inputs={d: outputs[d] for d in step.depends_on})
            t0 = time.perf_counter()
            try:
                outputs[step.name] = call_step(step.call, step.run, ctx, data)
                break
            except ConnectionError:
                if attempt == step.retries + 1:
                    raise
            finally:
                if timings is not None:
                    timings[f"{step.name}#{attempt}"] = time.perf_counter() - t0
        json.dumps(outputs[step.name])  # outputs must be JSON-serialisable
    return outputs


def call_step(call: str | None, run: str | None, ctx: Ctx, data: Path) -> Any:
    if call is not None:
        module, name = call.split(":")
        fn = getattr(importlib.import_module(module), name)
        kwargs = dict(ctx.inputs)
        if "ctx" in inspect.signature(fn).parameters:
            kwargs["ctx"] = ctx
        return fn(**kwargs)
    proc = subprocess.run(["/bin/sh", "-c", run], cwd=data, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    return {"returncode": 0, "stdout_tail": proc.stdout[-4096:]}


# ---------------------------------------------------------------------------- the file


def test_demo_file_loads_and_validates():
    pipes = load_pipelines(demo.pipelines_path())
    assert pipes.names == ("warehouse_etl", "events_stream", "customers_sync",
                           "inventory_snapshot", "marketing_export", "revenue_report")
    wh = pipes["warehouse_etl"]
    assert (wh.kind, wh.schedule) == ("batch", "0 * * * *")
    assert {s.name: s.depends_on for s in wh.steps} == {
        "extract_orders": (), "transform_orders": ("extract_orders",),
        "transform_payments": ("extract_orders",),
        "merge_payments": ("transform_orders", "transform_payments"),
        "load_warehouse": ("merge_payments",)}
    stream = pipes["events_stream"]
    assert stream.kind == "streaming" and stream.schedule is None and len(stream.steps) == 1
    assert pipes["customers_sync"].schedule == "*/15 * * * *"
    assert pipes["customers_sync"].step("pull_customers").retries == 1
    assert pipes["inventory_snapshot"].timezone == "America/Chicago"
    assert pipes["marketing_export"].step("compress_audience").run.startswith("gzip")
    batch = [p for p in pipes if p.kind == "batch"]
    assert all(p.schedule for p in batch)
    assert len({p.schedule for p in batch}) == len(batch)
    assert len({p.timezone for p in batch}) >= 4


# ------------------------------------------------------------------------ data folder


def test_prepare_seeds_once_and_sets_the_switch(tmp_path):
    folder = demo.prepare(tmp_path / "d")
    assert folder == (tmp_path / "d").resolve()
    counts = {}
    for name in ("orders", "payments", "customers", "inventory"):
        lines = (folder / "source" / f"{name}.csv").read_text().splitlines()
        counts[name] = len(lines) - 1
    assert counts["orders"] == 600 and counts["customers"] == 240
    assert counts["inventory"] == 120 and 500 < counts["payments"] < 700
    assert demo.failure_enabled(folder)
    demo.set_failure(False, folder)
    (folder / "source" / "orders.csv").write_text("order_id\nmine\n")
    assert demo.prepare(folder, failure=None) == folder
    assert (folder / "source" / "orders.csv").read_text() == "order_id\nmine\n"  # kept
    assert not demo.failure_enabled(folder)  # failure=None leaves the switch
    demo.prepare(folder)
    assert demo.failure_enabled(folder)  # a fresh demo fails at merge_payments again


def test_seed_is_deterministic(tmp_path):
    a, b = demo.prepare(tmp_path / "a"), demo.prepare(tmp_path / "b")
    for name in ("orders", "payments", "customers", "inventory"):
        assert (a / "source" / f"{name}.csv").read_bytes() == (
            b / "source" / f"{name}.csv").read_bytes()


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(demo.DATA_ENV, str(tmp_path / "x"))
    assert demo.default_data_dir() == tmp_path / "x"
    monkeypatch.delenv(demo.DATA_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert demo.default_data_dir() == tmp_path / "xdg" / "flowwidgets" / "demo"
    demo.set_failure(False)  # None → the default folder
    assert not demo.failure_enabled(tmp_path / "xdg" / "flowwidgets" / "demo")


def test_switch_defaults_and_bad_files(tmp_path):
    assert demo.failure_enabled(tmp_path)  # no file: merge_payments fails
    assert not demo.failure_enabled(tmp_path, step="events_stream")
    (tmp_path / "switches.json").write_text("{not json")
    assert demo.failure_enabled(tmp_path)
    (tmp_path / "switches.json").write_text('{"merge_payments": "no"}')
    assert demo.failure_enabled(tmp_path)  # only a JSON boolean counts
    demo.set_failure(True, tmp_path, step="events_stream")
    assert demo.failure_enabled(tmp_path, step="events_stream") and demo.failure_enabled(tmp_path)
    with pytest.raises(ValueError, match="no failure switch for step 'load_warehouse'"):
        demo.set_failure(True, tmp_path, step="load_warehouse")


def test_failure_switch_flips_across_processes(data):
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def child(code: str) -> str:
        proc = subprocess.run([sys.executable, "-c", "from flowwidgets import demo\n" + code],
                              env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    assert child(f"print(demo.failure_enabled({str(data)!r}))") == "True"
    child(f"demo.set_failure(False, {str(data)!r})")
    assert not demo.failure_enabled(data)
    demo.set_failure(True, data)
    assert child(f"print(demo.failure_enabled({str(data)!r}))") == "True"
    # the step itself, in another process, obeys the switch this process set
    code = ("from pathlib import Path\nfrom flowwidgets.demo import jobs\n"
            f"class C:\n    data_dir = Path({str(data)!r})\n    run_id = 'r'\n"
            "    def log(self, m): pass\n"
            "try:\n    jobs.merge_payments({'path': 'o.json'}, {'path': 'p.json'}, C())\n"
            "except ValueError as e:\n    print(e)\n")
    (data / "o.json").write_text("[]")
    (data / "p.json").write_text("{}")
    assert child(code) == "amount column missing in batch 47"
    demo.set_failure(False, data)
    assert child(code) == ""


# ------------------------------------------------------------------------- batch jobs


def test_warehouse_etl_fails_at_merge_then_restart_succeeds(data):
    extract = jobs.extract_orders(Ctx(data, run_id="r1"))
    assert extract["orders_rows"] == 600 and (data / extract["orders"]).is_file()
    orders = jobs.transform_orders(extract, Ctx(data, run_id="r1"))
    payments = jobs.transform_payments(extract, Ctx(data, run_id="r1"))
    assert orders["rows"] + orders["dropped"] == 600 and 0 < orders["dropped"] < 60
    assert payments["orders"] <= orders["rows"]
    with pytest.raises(ValueError, match=r"^amount column missing in batch 47$"):
        jobs.merge_payments(orders, payments, Ctx(data, run_id="r1"))
    demo.set_failure(False, data)
    # a restart from merge_payments reuses the first run's upstream outputs
    merged = jobs.merge_payments(orders, payments, Ctx(data, run_id="r2"))
    assert merged["path"] == "staging/r2/merged.json" and merged["rows"] == orders["rows"]
    assert merged["unpaid"] + merged["partial"] > 0
    loaded = jobs.load_warehouse(merged, Ctx(data, run_id="r2"))
    assert loaded == {"table": "fact_orders", "rows": orders["rows"], "total": orders["rows"]}
    db = data / "warehouse.sqlite"
    assert rows(db, "SELECT count(*), min(loaded_by) FROM fact_orders") == [
        (orders["rows"], "r2")]
    statuses = dict(rows(db, "SELECT payment_status, count(*) FROM fact_orders GROUP BY 1"))
    assert statuses["unpaid"] == merged["unpaid"] and statuses["paid"] > 400
    jobs.load_warehouse(merged, Ctx(data, run_id="r3"))  # loading again upserts, no duplicates
    assert rows(db, "SELECT count(*) FROM fact_orders") == [(orders["rows"],)]


def test_every_batch_pipeline_runs_end_to_end(data):
    demo.set_failure(False, data)
    pipes = load_pipelines(demo.pipelines_path())
    out = {p.name: run_pipeline(p, data, f"e2e-{p.name}") for p in pipes if p.kind == "batch"}
    db = data / "warehouse.sqlite"
    assert out["customers_sync"]["upsert_customers"]["inserted"] == 240
    assert rows(db, "SELECT count(*) FROM dim_customers") == [(240,)]
    snap = out["inventory_snapshot"]["write_snapshot"]
    assert snap == {"rows": 3, "snapshots": 1}
    assert {w for (w,) in rows(db, "SELECT warehouse FROM inventory_snapshots")} == {
        "DFW", "ORD", "RNO"}
    audience = (data / "exports" / "audience.csv").read_bytes()
    assert gzip.decompress((data / "exports" / "audience.csv.gz").read_bytes()) == audience
    n = out["marketing_export"]["select_audience"]["rows"]
    assert 90 < n < 180 and f"compressed {n + 1} lines" in (
        out["marketing_export"]["compress_audience"]["stdout_tail"])
    report = (data / "reports" / "revenue.md").read_text()
    assert out["revenue_report"]["publish_report"]["days"] == 14
    assert report.count("\n| 2026-11-") == 14


def test_reports_say_so_when_the_warehouse_is_empty(data):
    summary = jobs.summarise_revenue(ctx := Ctx(data))
    assert summary["days"] == 0 and "has not loaded anything yet" in ctx.logs[0]
    jobs.publish_report(summary, Ctx(data))
    assert "(no orders loaded yet)" in (data / "reports" / "revenue.md").read_text()


def test_customers_pull_fails_every_other_first_attempt(data):
    with pytest.raises(ConnectionError, match=r"pull #1"):
        jobs.pull_customers(Ctx(data, run_id="a", attempt=1))
    assert jobs.pull_customers(Ctx(data, run_id="a", attempt=2))["rows"] == 240
    assert jobs.pull_customers(Ctx(data, run_id="b", attempt=1))["rows"] == 240
    with pytest.raises(ConnectionError, match=r"pull #3"):
        jobs.pull_customers(Ctx(data, run_id="c", attempt=1))


def test_step_durations_are_visible_but_short(data, monkeypatch):
    monkeypatch.setenv(jobs.PACE_ENV, "1")
    demo.set_failure(False, data)
    timings: dict[str, float] = {}
    run_pipeline(load_pipelines(demo.pipelines_path())["warehouse_etl"], data, "t", timings)
    assert len(timings) == 5
    assert all(0.05 <= t < 1.0 for t in timings.values()), timings  # 50-500 ms when idle


def test_outputs_are_kept_inside_the_data_folder(data):
    evil = {"orders": "../../../etc/passwd", "orders_rows": 1}
    with pytest.raises(ValueError, match="outside the data folder"):
        jobs.transform_orders(evil, Ctx(data))
    staged = jobs.extract_orders(Ctx(data, run_id="../../x y"))["orders"]
    assert staged == "staging/_.._x_y/orders_raw.json"  # one folder under staging/


# -------------------------------------------------------------------------- streaming


def test_stream_commits_a_watermark_per_batch_and_resumes(data):
    ctx = Ctx(data, stop_after=5)  # four batches, then asked to stop
    assert jobs.consume_events(ctx) == {"watermark": "100", "batches": 4}
    assert ctx.commits == [("25", 25), ("50", 25), ("75", 25), ("100", 25)]
    db = data / "stream.sqlite"
    assert rows(db, "SELECT count(*), min(seq), max(seq) FROM events") == [(100, 0, 99)]
    again = Ctx(data, watermark="100", stop_after=3)
    assert jobs.consume_events(again)["watermark"] == "150"
    assert again.commits[0] == ("125", 25)
    assert rows(db, "SELECT count(*), max(seq) FROM events") == [(150, 149)]
    counts = dict(rows(db, "SELECT kind, n FROM event_counts"))
    assert sum(counts.values()) == 150 and counts["page_view"] > counts["checkout"]


def test_stream_fails_at_a_watermark_while_its_switch_is_on(data):
    demo.set_failure(True, data, step="events_stream")
    ctx = Ctx(data, watermark="50")
    with pytest.raises(ValueError, match=r"malformed event at offset 125"):
        jobs.consume_events(ctx)
    assert ctx.commits[-1] == ("125", 25) and len(ctx.commits) == 3


def test_stream_rejects_a_foreign_watermark(data):
    with pytest.raises(ValueError, match="is not an event offset"):
        jobs.consume_events(Ctx(data, watermark="2026-11-22T00:00:00Z", stop_after=2))


def test_stream_stops_promptly_between_batches(data, monkeypatch):
    monkeypatch.setenv(jobs.PACE_ENV, "4")  # 2 s between batches unless asked to stop
    committed: list[float] = []

    class Stopping(Ctx):  # asked to stop once the first batch is committed (not by time:
        def commit(self, watermark: str, rows: int = 0) -> None:  # a loaded machine may
            super().commit(watermark, rows)  # take longer than any delay to get there)
            committed.append(time.monotonic())

        def should_stop(self) -> bool:
            return bool(committed)

    assert jobs.consume_events(Stopping(data))["batches"] == 1
    assert time.monotonic() - committed[0] < 1.5  # well inside the 2 s pause
