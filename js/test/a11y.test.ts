// Keyboard and screen-reader behaviour of the views: Tab reaches squares, rows and nodes,
// Enter/Space open them, Escape closes the confirmation and the focus comes back, the
// selection is announced, and status is told by a word or icon besides its colour.
import assert from "node:assert/strict";
import { test } from "node:test";
import { askConfirm } from "../src/lib/confirm";
import { renderDag } from "../src/lib/dag";
import cards from "../src/widgets/cards";
import runView from "../src/widgets/run-view";
import { BASE, EVIL, FakeModel, flush, mount, newDocument } from "./helpers";

const ATTR_EVIL = `"><script>alert(1)</script><b title='x`;

function key(el: Element, k: string): KeyboardEvent {
  const w = el.ownerDocument!.defaultView as unknown as typeof globalThis;
  const ev = new w.KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true });
  el.dispatchEvent(ev);
  return ev;
}

test("confirm: Escape cancels, focus returns, a newer question replaces an open one", async () => {
  const { document, el } = newDocument();
  const host = document.createElement("div");
  const opener = document.createElement("button");
  el.append(opener, host);
  opener.focus();
  const first = askConfirm(host, `Restart ${ATTR_EVIL}?`, "Restart");
  const dialog = host.querySelector('[role="alertdialog"]')!;
  assert.equal(dialog.getAttribute("aria-label"), `Restart ${ATTR_EVIL}?`);
  assert.equal(document.activeElement, host.querySelector(".fw-btn--primary"), "Confirm has the focus");
  const esc = key(document.activeElement!, "Escape");
  assert.equal(await first, false);
  assert.ok(esc.defaultPrevented, "Escape stays in the widget");
  assert.ok(host.hidden && host.childElementCount === 0);
  assert.equal(document.activeElement, opener, "the focus goes back to what opened it");
  assert.equal(document.querySelectorAll("script").length, 0);

  const older = askConfirm(host, "one?", "One");
  const newer = askConfirm(host, "two?", "Two");
  assert.equal(await older, false, "the replaced question resolves as cancelled");
  assert.equal(host.querySelectorAll('[role="alertdialog"]').length, 1);
  assert.match(host.textContent!, /two\?/);
  (host.querySelector(".fw-btn--primary") as HTMLButtonElement).click();
  assert.equal(await newer, true);
});

test("DAG nodes: Tab stops, Enter and Space pick, a visible focus ring, selection announced", () => {
  const { document } = newDocument();
  const layout = {
    nodes: [
      { name: "a", rank: 0, order: 0, x: 12, y: 12, width: 176, height: 48, cyclic: false },
      { name: ATTR_EVIL, rank: 1, order: 0, x: 244, y: 12, width: 176, height: 48, cyclic: false },
    ],
    edges: [{ source: "a", target: ATTR_EVIL, points: [[188, 36], [216, 36], [216, 36], [244, 36]] as [number, number][], cyclic: false }],
    width: 432, height: 72, unknown: [], cycles: [], duplicates: [],
  };
  const picked: string[] = [];
  const steps = new Map([["a", { name: "a", status: "failed", duration_ms: 1200 }]]);
  const view = renderDag(document, layout, steps, "a", { onSelect: (n) => picked.push(n) });
  document.body.append(view.svg);
  const nodes = Array.from(view.svg.querySelectorAll("g[data-step]"));
  assert.ok(nodes.every((g) => g.getAttribute("tabindex") === "0" && g.getAttribute("role") === "button"));
  assert.equal(nodes[0]!.getAttribute("aria-label"), "step a: failed · 1.2 s");
  assert.equal(nodes[1]!.getAttribute("aria-label"), `step ${ATTR_EVIL}: pending`);
  assert.equal(nodes[1]!.getAttribute("data-step"), ATTR_EVIL);
  assert.deepEqual(nodes.map((g) => g.getAttribute("aria-pressed")), ["true", "false"]);
  assert.ok(nodes.every((g) => g.querySelector("rect.fw-node-focus")), "each node has its focus ring");
  assert.ok(nodes[0]!.querySelector(".fw-node-meta")!.textContent!.startsWith("✗ FAILED"), "a word, not only red");
  assert.ok(key(nodes[1]!, " ").defaultPrevented, "Space does not scroll the page");
  key(nodes[0]!, "Enter");
  assert.deepEqual(picked, [ATTR_EVIL, "a"]);
  view.restyle(steps, ATTR_EVIL);
  assert.deepEqual(nodes.map((g) => g.getAttribute("aria-pressed")), ["false", "true"]);
  assert.equal(document.querySelectorAll("script").length, 0);
  view.destroy();
});

test("cards: squares are buttons named by status and run, the picked one is announced", async () => {
  const { el } = newDocument();
  const run = (id: string, status: string) => ({ run_id: id, status, started_at: null, finished_at: null, duration_ms: 1000 });
  const model = new FakeModel<Record<string, unknown>>({
    ...BASE,
    pipelines: [{ name: ATTR_EVIL, kind: "batch", schedule: null, timezone: null, next_run_at: null,
      recent_runs: [run("r1", "succeeded"), run(ATTR_EVIL, "failed")], median_duration_ms: null,
      failure_rate_7d: null, total_runs: 2, paused: false, streaming_stats: null }],
    selected_run_id: "r1",
    last_action: {},
  });
  const cleanup = await mount(cards, model, el);
  const squares = Array.from(el.querySelectorAll("button.fw-sq")) as HTMLButtonElement[];
  assert.equal(squares.length, 2, "real runs are buttons: Tab reaches them, Enter/Space click");
  assert.match(squares[1]!.getAttribute("aria-label")!, /^✗ failed · run "><script>/);
  assert.equal(squares[1]!.getAttribute("data-run-id"), ATTR_EVIL);
  assert.equal(squares[0]!.getAttribute("aria-current"), "true");
  assert.equal(squares[1]!.getAttribute("aria-current"), null);
  assert.ok(Array.from(el.querySelectorAll(".fw-sq--empty")).every((s) => s.getAttribute("aria-hidden") === "true"));
  assert.equal(el.querySelector(".fw-card-foot .fw-btn")!.getAttribute("aria-label"), `Run now: ${ATTR_EVIL}`);
  assert.equal(el.querySelector(".fw-card-foot .fw-link")!.getAttribute("aria-label"), `all jobs of ${ATTR_EVIL}`);
  assert.equal(el.querySelectorAll("script").length, 0);
  cleanup();
});

test("run view: attempt rows open their step with Enter or Space; the action button keeps the focus", async () => {
  const { el } = newDocument();
  const steps = [
    { name: "extract", status: "succeeded", depends_on: [], duration_ms: 1, started_at: null, finished_at: null, error: null, attempts: 1, reused_from: null },
    { name: EVIL, status: "failed", depends_on: ["extract"], duration_ms: 1, started_at: null, finished_at: null, error: "x", attempts: 2, reused_from: null },
  ];
  const payload = {
    run: { run_id: "r1", pipeline: "p", status: "failed", started_at: null, finished_at: null, duration_ms: null, attempts: 2, failed_step: EVIL, kind: "batch", trigger: null },
    steps,
    attempts: [
      { number: 1, step: EVIL, status: "failed", started_at: null, finished_at: null, error: "ValueError: one" },
      { number: 2, step: null, status: "failed", started_at: null, finished_at: null, error: "run-level" },
    ],
    actions: { restart_from_step: [EVIL], rerun: true, resume_from_watermark: false, reasons: {} },
    error: "x", failed_watermark: null, parent_run_id: null,
  };
  const model = new FakeModel<Record<string, unknown>>({
    ...BASE, run_id: "r1", run: payload, _layout: {}, selected_step: null, _step_log: {}, last_action: {},
  });
  const cleanup = await mount(runView, model, el);
  const rows = Array.from(el.querySelectorAll('table[aria-label="attempt history"] tbody tr'));
  assert.equal(rows[0]!.getAttribute("tabindex"), "0");
  assert.equal(rows[1]!.getAttribute("tabindex"), null, "a row without a step is not a stop");
  assert.ok(key(rows[0]!, " ").defaultPrevented);
  assert.equal(model.get("selected_step"), EVIL);
  model.update({ selected_step: null });
  key(el.querySelector('table[aria-label="attempt history"] tbody tr')!, "Enter");
  assert.equal(model.get("selected_step"), EVIL);

  // Escape closes the confirmation and the keyboard is back on the action's button,
  // even though a poll rebuilt the buttons meanwhile
  const rerun = () => el.querySelector('.fw-actions button[data-action="rerun"]') as HTMLButtonElement;
  rerun().focus();
  rerun().click();
  model.update({ run: { ...payload } });
  key(el.ownerDocument.activeElement!, "Escape");
  await flush();
  assert.equal(el.querySelector('[role="alertdialog"]'), null);
  assert.equal(el.ownerDocument.activeElement, rerun());
  assert.equal(model.sent.length, 0, "a cancelled action sends nothing");
  cleanup();
});
