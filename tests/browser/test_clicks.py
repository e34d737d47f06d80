"""Clicks that land, in Voilà and chromium against a real runner: a standalone
PipelineCards opens the clicked run below itself; a DAG node click at 1024×700 brings the
step's panel into view and frames the node; at 900 px the graph is scaled to fit its box
(Fit / 100 %, a "scroll →" cue at full size); Cancel run stops a long shell step (its
process is gone) and the view shows the run cancelled.

The notebook is tests/browser/notebooks/standalone_cards.ipynb (``fw.PipelineCards(src)``
and nothing else), served by the ``voila`` fixture.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fwtest.browser import ARTIFACTS, assert_no_tracebacks, contrast

from flowwidgets.demo import _ui
from flowwidgets.models import Status
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec

pytestmark = [pytest.mark.integration]

NOTEBOOK = Path(__file__).with_name("notebooks") / "standalone_cards.ipynb"


def _pipelines(base: Path) -> Pipelines:
    # a wide, deep DAG so the step panel starts below the fold at 1024×700
    steps = [StepSpec("extract", run="echo extracted")]
    for i in range(4):
        steps.append(StepSpec(f"part_{i}", depends_on=("extract",),
                              run=f"echo part {i}; [ {i} != 2 ] || "
                                  "{ [ ! -f fail.flag ] || { echo 'bad row 7' >&2; exit 2; }; }"))
    steps.append(StepSpec("merge", depends_on=tuple(f"part_{i}" for i in range(4)),
                          run="echo merged"))
    steps.append(StepSpec("publish", depends_on=("merge",), run="echo published"))
    orders = PipelineSpec("orders", tuple(steps))
    slow = PipelineSpec("slow", (
        StepSpec("prepare", run="echo ready"),
        StepSpec("crunch", depends_on=("prepare",),
                 run="echo $$ > crunch.pid; exec sleep 600"),
    ))
    return Pipelines((orders, slow), base_dir=base)


@pytest.fixture
def served(tmp_path: Path, cleanup) -> Iterator[tuple[LocalRunner, str]]:
    runner = LocalRunner(_pipelines(tmp_path), db=tmp_path / "runs.sqlite",
                         data_dir=tmp_path, tick_s=0.1)
    server = serve_in_thread(runner, port=0)
    cleanup.callback(server.stop)  # after the page closed
    yield runner, server.url


def _open(page, voila, url: str, monkeypatch) -> None:
    monkeypatch.setattr(_ui, "dashboard_notebook", lambda: NOTEBOOK)
    ui = voila(url)
    page.goto(ui.url, timeout=90_000)
    page.locator('.fw-root.fw-cards[data-ready="1"] article.fw-card').first.wait_for(
        timeout=90_000)
    assert_no_tracebacks(page)


def test_a_square_opens_its_run_below_and_a_node_click_shows_its_panel(
        page, voila, served, tmp_path, monkeypatch):
    runner, url = served
    (tmp_path / "fail.flag").touch()
    failed = runner.run_now("orders")
    assert runner.wait(failed, 30).status is Status.FAILED
    page.set_viewport_size({"width": 1024, "height": 700})
    _open(page, voila, url, monkeypatch)
    assert page.locator(".fw-root.fw-run").count() == 0, "nothing below before a click"

    page.locator(f'button.fw-sq[data-run-id="{failed}"]').click()
    view = page.locator('.fw-root.fw-run[data-ready="1"]')
    view.wait_for(timeout=30_000)
    head = page.locator(".fw-run .fw-run-head")
    head.filter(has_text=failed).wait_for(timeout=30_000)
    assert "failed" in head.inner_text().lower()
    # the run view is below the cards, not in place of them
    cards_box = page.locator(".fw-root.fw-cards").bounding_box()
    view_box = view.bounding_box()
    assert cards_box and view_box and view_box["y"] >= cards_box["y"] + cards_box["height"] - 1
    page.screenshot(path=str(ARTIFACTS / "clicks-card-opens-run.png"), full_page=True)
    # the primary action's words in its own ink: a ".fw-root button { color: inherit }"
    # reset outranked it and drew the page's text on the accent (1.9:1 in the dark theme)
    primary = page.locator(".fw-run .fw-actions .fw-btn--primary").first
    assert contrast(primary) >= 4.5, f"primary button text at {contrast(primary):.2f}:1"
    link = page.locator(".fw-cards .fw-link").first
    card_text = link.evaluate("e => getComputedStyle(e.closest('.fw-card')).color")
    assert link.evaluate("e => getComputedStyle(e).color") != card_text, "a link reads as text"

    # a node click: the panel comes into view and the node is framed
    page.evaluate("window.scrollTo(0, 0)")
    node = page.locator('.fw-run g.fw-node[data-step="part_2"]')
    node.scroll_into_view_if_needed()
    node.click()
    panel = page.locator(".fw-run .fw-log-head").filter(has_text="part_2")
    panel.wait_for(timeout=15_000)
    page.locator(".fw-run pre.fw-log-error").filter(has_text="bad row 7").wait_for(
        timeout=15_000)
    # the error keeps its red bar and the gap before LOG in a notebook output (Jupyter's
    # ".jp-OutputArea-output pre" reset had taken both)
    bar = page.locator(".fw-run pre.fw-log-error").first.evaluate(
        "e => { const s = getComputedStyle(e); return [s.borderLeftStyle, s.marginBottom]; }")
    assert bar == ["solid", "6px"], bar
    time.sleep(0.3)
    inside = panel.evaluate("e => { const r = e.getBoundingClientRect();"
                            " return r.top >= 0 && r.bottom <= window.innerHeight; }")
    assert inside, "the step panel is out of view after the click"
    ring = page.locator('.fw-run g.fw-node--selected[data-step="part_2"] rect.fw-node-ring')
    assert ring.evaluate("e => getComputedStyle(e).visibility") == "visible"
    page.screenshot(path=str(ARTIFACTS / "clicks-node-panel-in-view.png"))

    # at 900 px a card's footer wraps instead of running its links together, and a short
    # square still holds its glyph (it was 12 px in a 10 px bar, sticking out of the strip)
    page.set_viewport_size({"width": 900, "height": 700})
    page.evaluate("window.scrollTo(0, 0)")
    time.sleep(0.3)
    gaps = page.locator(".fw-cards .fw-card-foot").evaluate_all(
        "els => els.flatMap(f => { const r = [...f.children].map(c => c.getBoundingClientRect());"
        " return r.slice(1).map((b, i) => [r[i], b])"
        ".filter(([a, b]) => b.top < a.bottom && a.top < b.bottom)"  # on one line
        ".map(([a, b]) => b.left - a.right); })")
    assert all(g >= 6 for g in gaps), f"footer items touch at 900 px: gaps {gaps}"
    spill = page.locator(".fw-cards button.fw-sq").evaluate_all(
        "els => els.filter(e => { const g = document.createRange(); g.selectNodeContents(e);"
        " const t = g.getBoundingClientRect(), b = e.getBoundingClientRect();"
        " return t.height > 0 && t.top < b.top - 1.5; }).length")
    assert spill == 0, f"{spill} squares spill their glyph"
    page.locator(".fw-root.fw-cards").screenshot(path=str(ARTIFACTS / "clicks-cards-900.png"))
    _dag_fits_at_900(page)


_DAG_GEOMETRY = """w => { const s = w.querySelector('svg.fw-dag'), r = w.getBoundingClientRect();
  return {client: w.clientWidth, scroll: w.scrollWidth, drawn: s.viewBox.baseVal.width,
          nodes: [...s.querySelectorAll('g.fw-node')].map(g => {
            const b = g.getBoundingClientRect(); return [b.left - r.left, b.right - r.left]; })};
}"""


def _dag_fits_at_900(page) -> None:
    """The 4-rank graph (896 px drawn) in a narrower box: scaled to fit by default (it was
    cut at load with no hint), "100 %" shows it full size with a "scroll →" cue."""
    wrap = page.locator(".fw-run .fw-dag-wrap")
    wrap.scroll_into_view_if_needed()
    time.sleep(0.3)  # the resize observer refits after the viewport change
    geo = wrap.evaluate(_DAG_GEOMETRY)
    assert geo["drawn"] > geo["client"], f"the graph should be wider than its box: {geo}"
    assert geo["scroll"] <= geo["client"] + 1, f"the graph overflows its box: {geo}"
    assert all(a >= -1 and b <= geo["client"] + 1 for a, b in geo["nodes"]), geo
    tools = page.locator(".fw-run .fw-dag-tools")
    assert tools.is_visible() and "scaled to" in tools.inner_text()
    right = page.locator(".fw-run .fw-dag-more--right")
    assert not right.is_visible()
    page.locator(".fw-run .fw-section").first.screenshot(path=str(ARTIFACTS / "dag-fit-900.png"))

    tools.locator('[data-zoom="full"]').click()
    geo = wrap.evaluate(_DAG_GEOMETRY)
    assert geo["scroll"] > geo["client"] + 1, f"100 % should draw it full size: {geo}"
    assert right.is_visible() and right.inner_text().strip().lower() == "scroll →"
    assert contrast(right.locator("span")) >= 4.5
    page.locator(".fw-run .fw-section").first.screenshot(
        path=str(ARTIFACTS / "dag-full-900-cue.png"))
    wrap.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
    page.locator(".fw-run .fw-dag-more--left").wait_for(state="visible", timeout=5_000)
    assert not right.is_visible(), "scrolled to the end: no more cue on the right"
    tools.locator('[data-zoom="fit"]').click()
    assert wrap.evaluate(_DAG_GEOMETRY)["scroll"] <= geo["client"] + 1


def test_cancel_run_stops_the_shell_step_and_shows_cancelled(
        page, voila, served, tmp_path, monkeypatch):
    runner, url = served
    run_id = runner.run_now("slow")
    pid_file = tmp_path / "crunch.pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    pid = int(pid_file.read_text())
    _open(page, voila, url, monkeypatch)
    page.locator(f'button.fw-sq[data-run-id="{run_id}"]').click()
    button = page.locator('.fw-run .fw-actions button[data-action="cancel"]')
    button.wait_for(timeout=30_000)
    button.hover()  # hovered, a destructive button stays red (it turned the accent's teal)
    assert button.evaluate("e => getComputedStyle(e).borderTopColor") == \
        button.evaluate("e => getComputedStyle(e).color") != \
        page.locator(".fw-run .fw-vtab--on").evaluate("e => getComputedStyle(e).borderBottomColor")
    button.click()
    dialog = page.locator('.fw-run [role="alertdialog"]')
    assert "Cancel run" in dialog.inner_text() and "Keep running" in dialog.inner_text()
    page.screenshot(path=str(ARTIFACTS / "clicks-cancel-confirm.png"), full_page=True)
    # the destructive answer is red and readable (it was the teal "go ahead" button)
    yes = dialog.locator(".fw-btn--primary")
    assert "fw-btn--danger" in yes.get_attribute("class")
    assert contrast(yes) >= 4.5, f"Cancel run at {contrast(yes):.2f}:1"
    yes.click()
    page.locator(".fw-run .fw-run-head .fw-pill--cancelled").wait_for(timeout=30_000)
    page.locator(".fw-run .fw-last-action").filter(has_text="cancelled").wait_for(
        timeout=10_000)
    assert runner.store.get_run(run_id).status is Status.CANCELLED
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    crunch = page.locator('.fw-run g.fw-node[data-step="crunch"]')
    assert "fw-node--cancelled" in crunch.get_attribute("class")
    assert page.locator('.fw-run .fw-actions button[data-action="cancel"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "clicks-cancelled.png"), full_page=True)


def test_restart_plan_lineage_and_an_outcome_that_turns_red(
        page, voila, served, tmp_path, monkeypatch):
    runner, url = served
    (tmp_path / "fail.flag").touch()  # stays: the restart fails again
    failed = runner.run_now("orders")
    assert runner.wait(failed, 30).status is Status.FAILED
    _open(page, voila, url, monkeypatch)
    page.locator(f'button.fw-sq[data-run-id="{failed}"]').click()
    page.locator(".fw-run .fw-run-head").filter(has_text=failed).wait_for(timeout=30_000)

    page.locator('.fw-run .fw-actions button[data-action="restart"]').click()
    dialog = page.locator('.fw-run [role="alertdialog"]')
    text = dialog.inner_text()
    assert "Run again: part_2, merge, publish." in text, text
    assert "Reused from this run: extract, part_0, part_1, part_3." in text, text
    plan = dict(page.locator(".fw-run g.fw-node").evaluate_all(
        "els => els.map(e => [e.dataset.step, e.classList.contains('fw-node--plan-again')"
        " ? 'again' : e.classList.contains('fw-node--plan-reused') ? 'reused' : ''])"))
    assert plan == {"extract": "reused", "part_0": "reused", "part_1": "reused",
                    "part_2": "again", "part_3": "reused", "merge": "again",
                    "publish": "again"}
    page.screenshot(path=str(ARTIFACTS / "clicks-restart-plan.png"), full_page=True)
    dialog.locator(".fw-btn--primary").click()

    line = page.locator(".fw-run .fw-last-action")
    line.filter(has_text="ended failed").wait_for(timeout=30_000)
    assert "✓" not in line.inner_text()
    assert line.evaluate("e => getComputedStyle(e).color") == "rgb(229, 83, 75)"
    new = next(r.run_id for r in runner.store.list_runs(pipeline="orders")[0]
               if r.parent_run_id == failed)
    head = page.locator(".fw-run .fw-run-head")
    assert new in head.inner_text()
    assert f"restart of run {failed}".lower() in head.inner_text().lower()
    # reused steps are drawn as reused, not as succeeded
    reused = page.locator('.fw-run g.fw-node[data-step="extract"]')
    assert "fw-node--reused" in reused.get_attribute("class")
    assert "reused" in page.locator(".fw-run .fw-legend").inner_text().lower()
    page.screenshot(path=str(ARTIFACTS / "clicks-restart-failed-again.png"), full_page=True)

    # the parent link: the first run says where it went and how that ended
    head.get_by_role("button", name=failed).click()
    to = page.locator(".fw-run .fw-lineage-to")
    to.filter(has_text=new).wait_for(timeout=15_000)
    assert "failed" in to.inner_text().lower()
    assert to.evaluate("e => getComputedStyle(e).color") == "rgb(229, 83, 75)"
    page.screenshot(path=str(ARTIFACTS / "clicks-lineage-parent.png"), full_page=True)
