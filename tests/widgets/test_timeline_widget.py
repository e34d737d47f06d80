"""fw.Timeline over a real runner: a row per pipeline, runs as marks, ghost bars of a cron
pipeline, window validation, pan/zoom re-bucketing in the kernel, a click selects the run,
the Dashboard's Timeline section opens it, the static fallback escapes runner strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import traitlets
from _widget_support import EVIL, Replies
from fwtest.clock import no_cron_fires

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.sources import connect
from flowwidgets.widgets import Dashboard, Timeline

pytestmark = pytest.mark.integration

JOBS = Path(__file__).resolve().parents[1] / "integration"


@pytest.fixture
def src(tmp_path):
    hourly = PipelineSpec("hourly", (StepSpec("a", call="_timing_jobs:nap"),),
                          schedule="0 * * * *")
    hostile = PipelineSpec(EVIL, (StepSpec("b", call="_timing_jobs:nap"),))
    runner = LocalRunner(Pipelines((hourly, hostile), base_dir=JOBS),
                         db=tmp_path / "runs.sqlite", tick_s=0.05, data_dir=tmp_path)
    no_cron_fires(runner)  # a full hour passing would add an hourly run to the counts
    with serve_in_thread(runner) as server, connect(server.url) as source:
        for name in ("hourly", "hourly", EVIL):
            runner.wait(runner.run_now(name), timeout=30)
        yield source


def test_rows_marks_ghosts_and_select(src):
    picked: list[str] = []
    tl = Timeline(src, live=False, on_select=picked.append)
    try:
        m = tl._marks
        rows = {r["pipeline"]: r for r in m["rows"]}
        assert set(rows) == {"hourly", EVIL} and m["runs"] == 3
        assert sum(mk[4] for mk in rows["hourly"]["marks"]) == 2
        assert rows["hourly"]["ghosts"], "the hourly cron's next fires show as ghost bars"
        assert rows[EVIL]["ghosts"] == []  # no schedule: no ghost
        g0, g1 = rows["hourly"]["ghosts"][0]
        assert g1 > g0 and datetime.fromtimestamp(g0 / 1000, UTC).minute == 0
        run_id = rows["hourly"]["marks"][0][3]
        Replies(tl).notify("select", run_id=run_id)
        assert tl.selected_run_id == run_id and picked == [run_id]
        # zoom and pan are window traits; the kernel re-buckets
        tl.window = "1h"
        assert tl._marks["window"] == "1h" and tl._marks["t1"] - tl._marks["t0"] == 3600_000
        tl.window_end = (datetime.now(UTC) - timedelta(hours=2)).timestamp() * 1000
        assert tl._marks["runs"] == 0 and not tl._marks["live"]
        with pytest.raises(traitlets.TraitError, match="between 1h and 30d"):
            tl.window = "90d"
        html = tl._repr_mimebundle_()[0]["text/html"]
        assert "<img" not in html and "&lt;img" in html
    finally:
        tl.close()
    with pytest.raises(ValueError, match="look like '1h'"):
        Timeline(src, window="tomorrow", live=False)


def test_dashboard_timeline_section_opens_the_run(src):
    dash = Dashboard(src, live=False)
    try:
        assert [t["key"] for t in dash.nav.tabs][:3] == ["cards", "jobs", "timeline"]
        dash.show("timeline")
        tl = dash.section("timeline")
        assert isinstance(tl, Timeline) and dash.view == "timeline"
        run_id = tl._marks["rows"][0]["marks"][0][3]
        Replies(tl).notify("select", run_id=run_id)
        assert dash.run_view.run_id == run_id and dash.view == "run"
        # the run view keeps the drawing chosen (timeline) for the next run opened
        dash.run_view.view = "timeline"
        dash.show_run(tl._marks["rows"][0]["marks"][-1][3])
        assert dash.run_view.view == "timeline"
    finally:
        dash.close()
