"""The static fallback (text/html + text/plain of each widget's mimebundle): escaped runner
strings, well-formed SVG from the same layout, and parity with the JS helpers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from _widget_support import EVIL

from flowwidgets.layout import layout
from flowwidgets.widgets import _fallback as fb

ROOT = Path(__file__).resolve().parents[2]


def test_status_icons_match_the_js_vocabulary():
    ts = (ROOT / "js" / "src" / "lib" / "status.ts").read_text(encoding="utf-8")
    block = ts[ts.index("STATUS_ICON"):]
    pairs = dict(re.findall(r'^\s+(\w+): "(.+?)",$', block, flags=re.M))
    assert pairs == fb.STATUS_ICON
    from flowwidgets.models import Status

    assert set(fb.STATUS_ICON) == {s.value for s in Status}


def test_formatting_matches_the_js_helpers():
    # the same cases js/test/format.test.ts checks
    assert fb.format_duration(None) == "—"
    assert fb.format_duration(850) == "850 ms"
    assert fb.format_duration(12_340) == "12.3 s"
    assert fb.format_duration(245_000) == "4m 05s"
    assert fb.format_duration(2 * 3600_000 + 3 * 60_000) == "2h 03m"
    assert fb.format_duration(3 * 86400_000 + 4 * 3600_000) == "3d 04h"
    assert fb.format_time("2026-11-22T08:10:05.123Z") == "2026-11-22 08:10:05"
    assert fb.format_time("2026-11-22T03:10:05-05:00", False) == "2026-11-22 08:10"
    assert fb.format_time("not a time") == "—"


def _no_markup_from(evil_html: str) -> None:
    assert "<img" not in evil_html
    assert "&lt;img src=x onerror=alert(1)&gt;" in evil_html


def test_cards_html_escapes_and_shows_the_strip():
    cards = [{
        "name": EVIL, "kind": "batch", "next_run_at": "2026-11-23T02:30:00Z",
        "recent_runs": [{"run_id": EVIL, "status": "failed", "started_at": None,
                         "duration_ms": 5}, {"run_id": "r2", "status": "succeeded",
                                             "duration_ms": 50}],
        "median_duration_ms": 50,
    }, {"name": "stream", "kind": "streaming", "recent_runs": [],
        "streaming_stats": {"stats_1m": {"rows_consumed_per_sec": 412.0}}}]
    out = fb.cards_html(cards, error=f"boom {EVIL}")
    _no_markup_from(out)
    assert out.count("no run yet") == 8 + 10
    assert "✗" in out and "✓" in out and "LIVE STREAMING" in out and "412 rows/s" in out
    assert "2026-11-23 02:30 UTC" in out
    text = fb.cards_text(cards)
    assert "✗✓" in text and "LIVE STREAMING" in text


def test_table_html_escapes():
    rows = [{"run_id": "r1", "pipeline": EVIL, "status": "failed", "started_at": None,
             "finished_at": None, "attempts": 2, "duration_ms": 1200, "failed_step": EVIL}]
    out = fb.table_html(rows, total=1, page=0, page_size=25)
    _no_markup_from(out)
    assert "1–1 of 1 run<" in out and "✗ failed" in out and "1.2 s" in out
    assert "0 runs" in fb.table_html([], total=0, page=0, page_size=25)
    assert "26–50 of 1,204 runs" in fb.table_html(rows, total=1204, page=1, page_size=25)


def test_counts_say_one_thing_and_many_things():
    assert [fb.counted(n, "run") for n in (0, 1, 2, 1204)] == [
        "0 runs", "1 run", "2 runs", "1,204 runs"]
    assert fb.counted(1, "entry", "entries") == "1 entry"
    assert fb.counted(3, "entry", "entries") == "3 entries"
    one = [{"name": "p", "kind": "batch", "recent_runs": []}]
    assert fb.cards_text(one).splitlines()[0] == "PipelineCards: 1 pipeline"
    assert fb.cards_text(one * 2).splitlines()[0] == "PipelineCards: 2 pipelines"
    assert fb.cards_text([]).splitlines()[0] == "PipelineCards: 0 pipelines"
    assert fb.table_text([], total=1).splitlines()[0] == "JobsTable: 1 run (times UTC)"
    assert fb.table_text([], total=2500).splitlines()[0] == "JobsTable: 2,500 runs (times UTC)"
    stream = [{"name": "s", "kind": "streaming", "recent_runs": [],
               "streaming_stats": {"rows_consumed_total": 1}}]
    assert "1 row so far" in fb.cards_html(stream)
    assert 'aria-label="task graph, 1 step"' in fb.run_html(
        {"run": {"run_id": "r", "status": "succeeded"},
         "steps": [{"name": "only", "status": "succeeded"}]}, layout([("only", ())]))


def test_run_html_draws_the_dag_as_well_formed_svg():
    steps = [("extract", ()), (EVIL, ("extract",)), ("load", (EVIL, "ghost"))]
    lay = layout(steps)
    payload = {
        "run": {"run_id": "r1", "pipeline": "p", "status": "failed", "failed_step": EVIL},
        "steps": [{"name": "extract", "status": "succeeded", "duration_ms": 900},
                  {"name": EVIL, "status": "failed", "error": f"ValueError: {EVIL}"},
                  {"name": "load", "status": "pending"}],
        "attempts": [{"number": 1, "step": EVIL, "status": "failed",
                      "error": f"Traceback\nValueError: {EVIL}"}],
        "error": f"ValueError: {EVIL}",
    }
    out = fb.run_html(payload, lay)
    _no_markup_from(out)
    svg = out[out.index("<svg"):out.index("</svg>") + 6]
    tree = ET.fromstring(svg)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    assert len(tree.findall(f"{ns}g")) == 3
    assert len(tree.findall(f"{ns}path")) == 2
    texts = [t.text for t in tree.iter(f"{ns}text")]
    assert "✗ FAILED" in texts and "○ PENDING" in texts and "✓ SUCCEEDED · 900 ms" in texts
    assert "ghost" in out  # the unknown dependency is reported
    assert "attempts (1)" in out and "failed step" in out
    assert "No run selected" in fb.run_html({}, None)
    assert fb.run_text(payload).splitlines()[1].startswith("  ✓ extract")


def test_offline_panel():
    out = fb.offline_html("cards", f"no runner reachable at http://127.0.0.1:9: {EVIL}")
    _no_markup_from(out)
    assert "NO RUNNER ATTACHED" in out


def test_a_huge_dag_is_counted_not_drawn():
    steps = [(f"s{i}", (f"s{i - 1}",) if i else ()) for i in range(fb.MAX_STATIC_NODES + 1)]
    payload = {"run": {"run_id": "r", "status": "running"},
               "steps": [{"name": n, "status": "succeeded" if i < 10 else "pending"}
                         for i, (n, _) in enumerate(steps)]}
    out = fb.run_html(payload, layout(steps))
    assert "<svg" not in out and "401 steps — too many to draw" in out
    assert "✓ 10 succeeded" in out and "○ 391 pending" in out
    assert len(out) < 10_000


ATTR_EVIL = "\"><script>alert(1)</script><em title='x"
"""Breaks out of a double- or single-quoted attribute when not escaped."""


class _Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's tokenizer would see them."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def values(self, attr: str) -> list[str]:
        return [a[attr] or "" for _, a in self.tags if attr in a]


def test_runner_strings_stay_inside_attributes_and_text():
    cards = [{"name": ATTR_EVIL, "kind": ATTR_EVIL,
              "recent_runs": [{"run_id": ATTR_EVIL, "status": "failed", "duration_ms": 5}]}]
    rows = [{"run_id": ATTR_EVIL, "pipeline": ATTR_EVIL, "status": ATTR_EVIL,
             "failed_step": ATTR_EVIL, "attempts": ATTR_EVIL}]
    steps = [("a", ()), (ATTR_EVIL, ("a",))]
    payload = {"run": {"run_id": ATTR_EVIL, "pipeline": ATTR_EVIL, "status": "failed",
                       "failed_step": ATTR_EVIL},
               "steps": [{"name": "a", "status": "succeeded"},
                         {"name": ATTR_EVIL, "status": "failed", "error": ATTR_EVIL}],
               "attempts": [{"number": 1, "step": ATTR_EVIL, "status": "failed",
                             "error": ATTR_EVIL}],
               "error": ATTR_EVIL}
    for out in (fb.cards_html(cards, error=ATTR_EVIL),
                fb.table_html(rows, total=1, page=0, page_size=25),
                fb.run_html(payload, layout(steps), error=ATTR_EVIL),
                fb.offline_html("run", ATTR_EVIL)):
        parsed = _Tags(out)
        names = {t for t, _ in parsed.tags}
        assert "script" not in names and "em" not in names, names
        assert not [k for _, a in parsed.tags for k in a if k.startswith("on")]
    squares = _Tags(fb.cards_html(cards))
    assert any(ATTR_EVIL in v for v in squares.values("aria-label")), "run id kept literally"
    assert any(ATTR_EVIL in v for v in squares.values("title"))
    assert f"last 1 run of {ATTR_EVIL}, oldest first" in squares.values("aria-label")
    dag = _Tags(fb.run_html(payload, layout(steps)))
    assert f"step {ATTR_EVIL}: failed" in dag.values("aria-label")
    assert "step a: succeeded" in dag.values("aria-label")
    groups = [a for t, a in dag.tags if t == "svg"]
    assert groups[0]["role"] == "group" and groups[0]["aria-label"] == "task graph, 2 steps"


def test_tables_and_pre_carry_their_own_palette():
    """An exported page's CSS (JupyterLab's .jp-RenderedHTMLCommon) paints bare rows,
    cells and <pre> light and right-aligns cells: the fallback's own styles must win."""
    rows = [{"run_id": "r1", "pipeline": "p", "status": "failed", "failed_step": "s"}] * 3
    payload = {"run": {"run_id": "r1", "status": "failed", "failed_step": "s"},
               "steps": [{"name": "s", "status": "failed", "error": "boom"}],
               "attempts": [{"number": 1, "step": "s", "status": "failed", "error": "x"}],
               "error": "Traceback\nValueError: boom"}
    for out in (fb.table_html(rows, total=3, page=0, page_size=25, error="oops"),
                fb.run_html(payload, layout([("s", ())]), error="oops")):
        tags = [(t, a.get("style") or "") for t, a in _Tags(out).tags
                if t in ("table", "tr", "td", "th", "pre")]
        assert {t for t, _ in tags} >= {"table", "tr", "td", "pre"}
        for tag, style in tags:
            assert "background:" in style, (tag, style)
            if tag != "tr":
                assert "color:var(--fw-text,#cfe8dc)" in style, (tag, style)
            if tag in ("td", "th"):
                assert "text-align:left" in style, (tag, style)


def test_text_plain_neutralises_control_characters():
    name = "etl\x1b[31mred\x1b[0m\u202egnp\n2"
    text = "\n".join([
        fb.cards_text([{"name": name, "kind": "batch", "recent_runs": []}]),
        fb.table_text([{"pipeline": name, "status": "failed", "failed_step": name}], total=1),
        fb.run_text({"run": {"run_id": name, "pipeline": name, "status": "failed"},
                     "steps": [{"name": name, "status": "failed"}]}),
    ])
    assert "\x1b" not in text and "\u202e" not in text
    assert "etl\ufffd[31mred" in text and "gnp 2" in text
    assert fb.cards_text([{"name": "plain é", "kind": "batch"}]).endswith(
        "plain é [batch] (no runs) · next —")


def test_html_fallback_shows_control_and_bidi_characters_as_replacement():
    """``evil\\u202egnp.exe`` rendered as "evilexe.png" in the HTML fallback."""
    name = "evil\u202egnp.exe\x1b[31m\u200f\u2066x"
    out = "\n".join([
        fb.cards_html([{"name": name, "kind": "batch", "recent_runs": []}]),
        fb.table_html([{"run_id": name, "pipeline": name, "status": "failed",
                        "failed_step": name}], total=1, page=0, page_size=25),
        fb.run_html({"run": {"run_id": name, "pipeline": name, "status": "failed",
                             "failed_step": name},
                     "steps": [{"name": name, "status": "failed",
                                "error": f"line one\n{name}"}]}, layout([(name, ())])),
    ])
    for ch in ("\u202e", "\x1b", "\u200f", "\u2066"):
        assert ch not in out, repr(ch)
    assert "evil\ufffdgnp.exe\ufffd[31m\ufffd\ufffdx" in out
    assert "line one\n" in out  # line breaks of an error stay
