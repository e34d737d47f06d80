"""The run timeline's payload and static SVG: critical path, wait, planned steps, and every
runner string escaped."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

from _timing_runs import at, diamond, run, step

from flowwidgets.eta import estimate
from flowwidgets.models import Attempt, Status
from flowwidgets.widgets._run_timing import (
    TICK_STEPS,
    critical_line,
    tick_step,
    timeline_svg,
    timing_payload,
)

EVIL = '<img src=x onerror=alert(1)>"&'


def _svg(html: str) -> ElementTree.Element:
    body = re.search(r"<svg.*</svg>", html, re.S)
    assert body, html
    return ElementTree.fromstring(body.group(0))  # well-formed: nothing broke out


def test_finished_diamond_payload_and_svg():
    tl = timing_payload(diamond())
    assert tl["critical_path"] == ["a", "slow", "d"] and tl["now"] == tl["end"]
    assert critical_line(tl) == "Critical path: a → slow → d · 1.1 s · 100 % of the run"
    html = timeline_svg(tl)
    root = _svg(html)
    ns = "{http://www.w3.org/2000/svg}"
    rects = root.findall(f".//{ns}rect")
    titles = [r.findtext(f"{ns}title") or "" for r in rects]
    assert sum("ready, started 200 ms later" in t for t in titles) == 1
    assert any("could take 800 ms longer" in t for t in titles)
    assert sum(r.get("stroke-width") == "2" for r in rects) == 3  # the critical bars
    # a 1.1 s run: round ticks 0.2 s apart, as the JS axis, in tenths (not six "+0:00",
    # not 0.22 s steps that read +0:00.7, +0:00.9); the last label ends inside the chart
    texts = [t for t in root.findall(f"{ns}text") if (t.text or "").startswith("+")]
    assert [t.text for t in texts] == ["+0:00.0", "+0:00.2", "+0:00.4", "+0:00.6", "+0:00.8",
                                       "+0:01.0"]
    right = float(root.get("width")) - 10  # the chart's right edge
    assert all((t.get("text-anchor") == "end") == (float(t.get("x")) > right - 24)
               for t in texts)
    from flowwidgets.widgets._run_timing import _rel
    assert [_rel(ms, 40) for ms in (0, 40, 80)] == ["+0:00.00", "+0:00.04", "+0:00.08"]
    assert _rel(72_000, 15_000) == "+1:12"


def test_running_run_draws_pending_steps_where_the_eta_expects_them():
    r = run("now", [step("a", 0, 0.05), step("slow", 0.05, None, "a", status=Status.RUNNING),
                    step("d", None, None, "slow", status=Status.PENDING)], status=Status.RUNNING)
    eta = estimate(r, [diamond(f"h{i}") for i in range(3)], now=at(0.5))
    tl = timing_payload(r, eta, now=at(0.5))
    assert tl["eta_text"].startswith("ETA 12:00:01 UTC (in 1 s")
    assert set(tl["planned"]) == {"slow", "d"}
    root = _svg(timeline_svg(tl))
    dashed = [e for e in root.iter() if e.get("stroke-dasharray") == "3 2"]
    assert len(dashed) == 1  # d: pending, drawn dashed


def test_every_runner_string_is_escaped():
    tries = (Attempt(1, Status.FAILED, at(0), at(1), error=EVIL),)
    r = run(EVIL, [step(EVIL, 0, 1, attempts=tries, status=Status.FAILED),
                   step("b", None, None, reused_from=EVIL)], status=Status.FAILED, end=1)
    html = timeline_svg(timing_payload(r))
    assert "<img" not in html and "&lt;img" in html
    _svg(html)


def test_no_times_and_too_many_steps_say_so():
    r = run("r", [step("a", None, None), step("b", None, None, "a")], end=3)
    assert "gave no step times" in timeline_svg(timing_payload(r))
    big = run("r", [step(f"s{i}", i, i + 1) for i in range(401)])
    assert "too many to draw here" in timeline_svg(timing_payload(big))


def test_tick_steps_are_the_js_axis_steps():
    """One list of round tick steps for the static axis and the JS one (lib/timeline.ts)."""
    ts = (Path(__file__).resolve().parents[2] / "js" / "src" / "lib" / "timeline.ts").read_text()
    found = re.search(r"export const TICK_STEPS = \[([^\]]*)\]", ts)
    assert found is not None
    assert tuple(int(float(v)) for v in found.group(1).split(",")) == TICK_STEPS
    assert tick_step(82) == 20 and tick_step(1100) == 200 and tick_step(30 * 864e5) == 864e5


def test_a_sub_second_run_reads_round_hundredths_and_its_last_label_stays_inside():
    tl = timing_payload(run("quick", [step("a", 0, 0.082)], end=0.082))
    root = _svg(timeline_svg(tl))
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t for t in root.findall(f"{ns}text") if (t.text or "").startswith("+")]
    assert [t.text for t in texts] == ["+0:00.00", "+0:00.02", "+0:00.04", "+0:00.06",
                                       "+0:00.08"]
    assert texts[-1].get("text-anchor") == "end"  # at the right edge: ends there, not cut
