import assert from "node:assert/strict";
import { test } from "node:test";
import runView, { actionButtons } from "../src/widgets/run-view";
import { BASE, EVIL, FakeModel, flush, mount, newDocument } from "./helpers";

function detail(actions: Record<string, unknown>) {
  return {
    run: { run_id: "r1", pipeline: "orders_daily", status: "failed", started_at: "2026-11-22T08:00:00.000Z", finished_at: "2026-11-22T08:01:00.000Z", duration_ms: 60_000, attempts: 2, failed_step: EVIL, kind: "batch", trigger: "schedule" },
    steps: [
      { name: "extract", status: "succeeded", depends_on: [], duration_ms: 1000, started_at: null, finished_at: null, error: null, attempts: 1, reused_from: null },
      { name: EVIL, status: "failed", depends_on: ["extract"], duration_ms: 500, started_at: null, finished_at: null, error: `boom ${EVIL}`, attempts: 2, reused_from: null },
      { name: "load", status: "pending", depends_on: [EVIL], duration_ms: null, started_at: null, finished_at: null, error: null, attempts: 0, reused_from: null },
    ],
    attempts: [
      { number: 1, step: EVIL, status: "failed", started_at: "2026-11-22T08:00:01.000Z", finished_at: "2026-11-22T08:00:02.000Z", error: "Traceback\nValueError: first" },
      { number: 2, step: EVIL, status: "failed", started_at: "2026-11-22T08:00:03.000Z", finished_at: "2026-11-22T08:00:04.000Z", error: "ValueError: second" },
    ],
    actions: { restart_from_step: ["extract", EVIL, "load"], rerun: true, resume_from_watermark: false, reasons: { resume_from_watermark: "not a streaming run" }, ...actions },
    error: `boom ${EVIL}`,
    failed_watermark: null,
    parent_run_id: "r0",
  };
}

const LAYOUT = {
  nodes: [
    { name: "extract", rank: 0, order: 0, x: 12, y: 12, width: 176, height: 48, cyclic: false },
    { name: EVIL, rank: 1, order: 0, x: 244, y: 12, width: 176, height: 48, cyclic: false },
    { name: "load", rank: 2, order: 0, x: 476, y: 12, width: 176, height: 48, cyclic: false },
  ],
  edges: [
    { source: "extract", target: EVIL, points: [[188, 36], [216, 36], [216, 36], [244, 36]], cyclic: false },
    { source: EVIL, target: "load", points: [[420, 36], [448, 36], [448, 36], [476, 36]], cyclic: false },
  ],
  width: 664,
  height: 72,
  unknown: [["load", "ghost"]],
  cycles: [],
  duplicates: [],
};

function setup(actions: Record<string, unknown> = {}) {
  const { document, el } = newDocument();
  const model = new FakeModel<Record<string, unknown>>({
    ...BASE,
    run_id: "r1",
    run: detail(actions),
    _layout: LAYOUT,
    selected_step: null,
    _step_log: {},
    last_action: {},
  });
  return { document, el, model };
}

test("actionButtons: one button per allowed action; restart follows the selection", () => {
  assert.deepEqual(actionButtons("r1", { restart_from_step: [], rerun: false, resume_from_watermark: false, reasons: {} }, null, null), []);
  const all = actionButtons("r1", { restart_from_step: ["a", "b"], rerun: true, resume_from_watermark: true, reasons: {} }, null, "b");
  assert.deepEqual(all.map((b) => b.label), ['Restart from step "b"', "Rerun from beginning", "Resume from watermark"]);
  assert.equal(all[0]!.from_step, "b");
  assert.equal(actionButtons("r1", { restart_from_step: ["a", "b"] }, "a", "b")[0]!.from_step, "a");
  assert.equal(actionButtons("r1", { restart_from_step: ["a", "b"] }, "zzz", null)[0]!.from_step, "a");
  assert.deepEqual(actionButtons("r1", { resume_from_watermark: true }, null, null).map((b) => b.kind), ["resume"]);
  assert.deepEqual(actionButtons("r1", undefined, null, null), []);
  const cancel = actionButtons("r1", { can_cancel: true }, null, null);
  assert.deepEqual(cancel.map((b) => [b.kind, b.label, b.dismiss]), [["cancel", "Cancel run", "Keep running"]]);
  assert.match(cancel[0]!.confirm, /Cancel run r1\? Its running steps are stopped/);
});

test("header, DAG, legend, failure, attempts: untrusted strings are text", async () => {
  const { el, model, document } = setup();
  const cleanup = await mount(runView, model, el);
  assert.equal(document.querySelectorAll("img").length, 0);
  assert.equal(el.querySelectorAll("g[data-step]").length, 3);
  // the graph sits in the fitting frame (its Fit / 100 % control hidden: no box width here)
  assert.ok(el.querySelector(".fw-dag-frame > .fw-dag-wrap > svg.fw-dag"));
  assert.equal((el.querySelector(".fw-dag-tools") as HTMLElement).hidden, true);
  assert.match(el.querySelector(".fw-run-head")!.textContent!, /Run r1/);
  assert.ok(el.querySelector(".fw-run-head .fw-pill--failed"));
  const legend = el.querySelector(".fw-legend")!.textContent!;
  for (const word of ["succeeded", "running", "failed", "pending", "skipped"]) assert.ok(legend.includes(word), word);
  assert.match(el.querySelector(".fw-problems")!.textContent!, /depends on unknown step "ghost"/);
  const failure = el.querySelectorAll(".fw-section")[1]!;
  assert.ok(failure.textContent!.includes(`✗ ${EVIL}`));
  assert.ok(failure.textContent!.includes(`boom ${EVIL}`));
  const attemptRows = el.querySelectorAll('table[aria-label="attempt history"] tbody tr');
  assert.equal(attemptRows.length, 2);
  assert.match(attemptRows[0]!.textContent!, /ValueError: first/);
  // restart defaults to the failed step
  const buttons = Array.from(el.querySelectorAll(".fw-actions button")).map((b) => b.textContent);
  assert.deepEqual(buttons, [`Restart from step "${EVIL}"`, "Rerun from beginning"]);
  assert.match(el.querySelector(".fw-actions")!.textContent!, /resume from watermark: not a streaming run/);
  cleanup();
  assert.equal(model.listenerCount(), 0);
});

test("an action asks for confirmation in the widget, then sends {kind, id, run_id, from_step}", async () => {
  const { el, model } = setup();
  const cleanup = await mount(runView, model, el);
  const restart = el.querySelector('.fw-actions button[data-action="restart"]') as HTMLButtonElement;
  restart.click();
  assert.equal(model.sent.length, 0, "nothing is sent before confirmation");
  const dialog = el.querySelector('[role="alertdialog"]')!;
  assert.match(dialog.textContent!, /Restart run r1 from step/);
  assert.equal(el.querySelectorAll("img").length, 0);
  // cancel first
  (Array.from(dialog.querySelectorAll("button")).find((b) => b.textContent === "Cancel") as HTMLButtonElement).click();
  await flush();
  assert.equal(model.sent.length, 0);
  assert.equal(el.querySelector('[role="alertdialog"]'), null);

  (el.querySelector('.fw-actions button[data-action="restart"]') as HTMLButtonElement).click();
  (el.querySelector('[role="alertdialog"] .fw-btn--primary') as HTMLButtonElement).click();
  await flush();
  const msg = model.sent.at(-1)!;
  assert.equal(msg.kind, "restart");
  assert.equal(msg.run_id, "r1");
  assert.equal(msg.from_step, EVIL);
  assert.ok((el.querySelector('.fw-actions button[data-action="restart"]') as HTMLButtonElement).disabled);
  model.emitCustom({ kind: "restart", id: msg.id, response: { new_run_id: "r9" } });
  await flush();
  assert.match(el.querySelector(".fw-notice")!.textContent!, /started run r9/);
  model.update({ last_action: { kind: "restart", run_id: "r1", from_step: "x", new_run_id: "r9", error: null } });
  assert.match(el.querySelector(".fw-last-action")!.textContent!, /restart from "x" of run r1 → new run r9/);

  (el.querySelector('.fw-actions button[data-action="rerun"]') as HTMLButtonElement).click();
  (el.querySelector('[role="alertdialog"] .fw-btn--primary') as HTMLButtonElement).click();
  await flush();
  const msg2 = model.sent.at(-1)!;
  assert.equal(msg2.kind, "rerun");
  model.emitCustom({ kind: "rerun", id: msg2.id, error: "run r1 is still running (409)" });
  await flush();
  assert.match(el.querySelector(".fw-notice")!.textContent!, /Rerun from beginning failed: run r1 is still running/);
  cleanup();
});

test("Cancel run: a danger button, confirmed with 'Keep running' as the way out", async () => {
  const { el, model } = setup({ restart_from_step: [], rerun: false, can_cancel: true, reasons: {} });
  const cleanup = await mount(runView, model, el);
  const btn = el.querySelector('.fw-actions button[data-action="cancel"]') as HTMLButtonElement;
  assert.ok(btn.classList.contains("fw-btn--danger") && btn.textContent === "Cancel run");
  btn.click();
  const dialog = el.querySelector('[role="alertdialog"]')!;
  const labels = Array.from(dialog.querySelectorAll("button")).map((b) => b.textContent);
  assert.deepEqual(labels, ["Cancel run", "Keep running"]);
  // the destructive answer is red, not the accent's "go ahead"
  assert.ok(dialog.querySelector("button")!.classList.contains("fw-btn--danger"));
  (dialog.querySelectorAll("button")[1] as HTMLButtonElement).click();
  await flush();
  assert.equal(model.sent.length, 0, "Keep running sends nothing");
  (el.querySelector('.fw-actions button[data-action="cancel"]') as HTMLButtonElement).click();
  (el.querySelector('[role="alertdialog"] .fw-btn--primary') as HTMLButtonElement).click();
  await flush();
  const msg = model.sent.at(-1)!;
  assert.equal(msg.kind, "cancel");
  assert.equal(msg.run_id, "r1");
  model.emitCustom({ kind: "cancel", id: msg.id, response: { status: "cancelled" } });
  await flush();
  assert.match(el.querySelector(".fw-notice")!.textContent!, /Cancel run: run r1 is cancelled/);
  model.update({ last_action: { kind: "cancel", run_id: "r1", status: "cancelled", error: null } });
  assert.match(el.querySelector(".fw-last-action")!.textContent!, /cancel of run r1 → ⊘ cancelled/);
  cleanup();
});

test("the buttons follow each actions object", async () => {
  const { el, model } = setup({ restart_from_step: [], rerun: false, resume_from_watermark: true, reasons: {} });
  const cleanup = await mount(runView, model, el);
  const kinds = () => Array.from(el.querySelectorAll(".fw-actions button")).map((b) => b.getAttribute("data-action"));
  assert.deepEqual(kinds(), ["resume"]);
  model.update({ run: detail({ restart_from_step: [], rerun: false, resume_from_watermark: false, reasons: { rerun: "still running" } }) });
  assert.deepEqual(kinds(), []);
  assert.match(el.querySelector(".fw-actions")!.textContent!, /No actions apply/);
  model.update({ run: detail({}) });
  assert.deepEqual(kinds(), ["restart", "rerun"]);
  cleanup();
});

test("clicking a node selects it: restart target and log panel follow", async () => {
  const { el, model } = setup();
  const cleanup = await mount(runView, model, el);
  const node = el.querySelector('g[data-step="extract"]') as unknown as HTMLElement;
  node.dispatchEvent(new (el.ownerDocument.defaultView as unknown as typeof globalThis).MouseEvent("click", { bubbles: true }));
  assert.equal(model.get("selected_step"), "extract");
  assert.match(el.querySelector(".fw-actions button")!.textContent!, /Restart from step "extract"/);
  assert.match(el.textContent!, /Step · extract/);
  assert.match(el.textContent!, /loading…/);
  model.update({ _step_log: { step: "extract", attempt: 1, text: `line 1\n${EVIL}`, error: null, note: null } });
  assert.ok(el.querySelector(".fw-section:last-child pre.fw-log-text")!.textContent!.includes(EVIL));
  assert.equal(el.querySelector(".fw-section:last-child .fw-log-error"), null, "no error: none shown");
  assert.equal(el.querySelectorAll("img").length, 0);
  assert.ok(el.querySelector('g[data-step="extract"]')!.getAttribute("class")!.includes("fw-node--selected"));
  assert.ok(el.querySelector('g[data-step="extract"] rect.fw-node-ring'), "the selected node's frame");
  const panel = el.querySelector(".fw-section:last-child") as HTMLElement;
  assert.equal(panel.dataset.scrolled, "extract", "the panel was brought into view on the click");
  // a status poll restyles the same node element
  const before = el.querySelector('g[data-step="load"]');
  const d = detail({});
  d.steps[2]!.status = "running";
  model.update({ run: d });
  assert.equal(el.querySelector('g[data-step="load"]'), before);
  assert.ok(before!.getAttribute("class")!.includes("fw-node--running"));
  // the parent link asks the kernel to open that run
  (Array.from(el.querySelectorAll(".fw-link")).find((b) => b.textContent === "r0") as HTMLButtonElement).click();
  assert.deepEqual(model.sent.at(-1), { run_id: "r0", kind: "open_run" });
  cleanup();
});

test("no run: a placeholder instead of the detail", async () => {
  const { el, model } = setup();
  model.state.run = {};
  model.state._layout = {};
  model.state.run_id = null;
  const cleanup = await mount(runView, model, el);
  assert.match(el.textContent!, /No run selected/);
  model.update({ run_id: "r5" });
  assert.match(el.textContent!, /Loading run r5/);
  cleanup();
});

test("the log panel: a failed step's traceback, and why there is no log", async () => {
  const { el, model } = setup();
  const cleanup = await mount(runView, model, el);
  model.update({ selected_step: EVIL });
  const panel = () => el.querySelector(".fw-section:last-child") as HTMLElement;
  // a failed step that wrote nothing: its attempt's traceback and a neutral line
  const trace = `Traceback (most recent call last):\n  File "x.py"\nValueError: ${EVIL}`;
  model.update({ _step_log: { step: EVIL, attempt: 2, text: null, error: trace, note: "no output was captured" } });
  assert.match(panel().textContent!, /attempt 2/);
  assert.equal(panel().querySelector(".fw-log-error")!.textContent, trace);
  assert.equal(panel().querySelector(".fw-log-note")!.textContent, "no output was captured");
  assert.doesNotMatch(panel().textContent!, /keeps no log/);
  assert.equal(panel().querySelector(".fw-log-text"), null);
  assert.equal(el.querySelectorAll("img").length, 0);
  // a runner without logs says so (the kernel's note), the error still shows
  model.update({ _step_log: { step: EVIL, attempt: 2, text: null, error: trace, note: "the ematix runner keeps no step logs" } });
  assert.equal(panel().querySelector(".fw-log-note")!.textContent, "the ematix runner keeps no step logs");
  assert.ok(panel().querySelector(".fw-log-error"));
  // output and error together
  model.update({ _step_log: { step: EVIL, attempt: 2, text: "row 1\nrow 2", error: trace, note: null } });
  assert.equal(panel().querySelector(".fw-log-text")!.textContent, "row 1\nrow 2");
  assert.equal(panel().querySelector(".fw-log-note"), null);
  // Close clears the selection
  (panel().querySelector(".fw-log-head button") as HTMLButtonElement).click();
  assert.equal(model.get("selected_step"), null);
  assert.ok(panel().hidden);
  cleanup();
});

test("restart: the confirmation lists what runs again and what is reused, marked in the DAG", async () => {
  const { el, model } = setup({ restart_from_step: [EVIL] });
  const cleanup = await mount(runView, model, el);
  (el.querySelector('.fw-actions button[data-action="restart"]') as HTMLButtonElement).click();
  const text = el.querySelector('[role="alertdialog"]')!.textContent!;
  assert.ok(text.includes(`Run again: ${EVIL}, load. Reused from this run: extract.`), text);
  assert.match(el.querySelector('g[data-step="extract"]')!.getAttribute("class")!, /fw-node--plan-reused/);
  assert.match(el.querySelector('g[data-step="load"]')!.getAttribute("class")!, /fw-node--plan-again/);
  (Array.from(el.querySelectorAll('[role="alertdialog"] button')).find((b) => b.textContent === "Cancel") as HTMLButtonElement).click();
  await flush();
  assert.doesNotMatch(el.querySelector('g[data-step="load"]')!.getAttribute("class")!, /plan/);
  cleanup();
});

test("lineage both ways; a successful restart demotes Restart and the question says so", async () => {
  const { el, model } = setup({ restart_from_step: [EVIL] });
  const d = detail({ restart_from_step: [EVIL] }) as Record<string, unknown>;
  d.lineage = { from_step: "extract", children: [
    { run_id: "r7", status: "failed", trigger: "restart", from_step: EVIL },
    { run_id: "r8", status: "succeeded", trigger: "restart", from_step: EVIL },
  ] };
  (d.run as Record<string, unknown>).trigger = "restart";
  model.update({ run: d });
  const cleanup = await mount(runView, model, el);
  const head = el.querySelector(".fw-run-head")!.textContent!;
  assert.match(head, /restart of run r0 from step "extract"/);
  assert.match(head, /restarted → run r7 ✗ failed/);
  assert.match(head, /restarted → run r8 ✓ succeeded/);
  assert.ok(el.querySelector(".fw-lineage-to.fw-lineage--succeeded"));
  const btn = el.querySelector('.fw-actions button[data-action="restart"]') as HTMLButtonElement;
  assert.ok(!btn.classList.contains("fw-btn--primary"), "demoted: not the main button");
  btn.click();
  assert.match(el.querySelector('[role="alertdialog"]')!.textContent!, /^Run r8 already restarted this run and succeeded\. Restart run r1/);
  const link = Array.from(el.querySelectorAll(".fw-run-head .fw-link")).find((b) => b.textContent === "r8") as HTMLButtonElement;
  link.click();
  assert.deepEqual(model.sent.at(-1), { run_id: "r8", kind: "open_run" });
  cleanup();
});

test("the outcome line follows the new run in its colour and stays on its own run", async () => {
  const { el, model } = setup();
  const cleanup = await mount(runView, model, el);
  const line = () => el.querySelector(".fw-last-action") as HTMLElement;
  model.update({ run_id: "r9", last_action: { kind: "restart", run_id: "r1", from_step: "x", new_run_id: "r9", new_status: "running", error: null } });
  assert.match(line().textContent!, /restart from "x" of run r1 → new run r9: ● running…/);
  assert.ok(line().classList.contains("fw-last-action--running"));
  model.update({ last_action: { kind: "restart", run_id: "r1", from_step: "x", new_run_id: "r9", new_status: "failed", error: null } });
  assert.match(line().textContent!, /new run r9: ✗ ended failed/);
  assert.ok(line().classList.contains("fw-last-action--failed"));
  assert.doesNotMatch(line().textContent!, /✓/);
  model.update({ run_id: "r5" });
  assert.equal(line().textContent, "", "another run's view does not show it");
  model.update({ run_id: "r1" });
  assert.match(line().textContent!, /ended failed/);
  cleanup();
});

test("a running run shows the time elapsed so far instead of a blank duration", async () => {
  const { el, model } = setup();
  const d = detail({}) as Record<string, unknown>;
  const run = d.run as Record<string, unknown>;
  run.status = "running";
  run.duration_ms = null;
  run.finished_at = null;
  run.started_at = new Date(Date.now() - 12 * 60_000).toISOString();
  model.update({ run: d });
  const cleanup = await mount(runView, model, el);
  const head = el.querySelector(".fw-run-head")!.textContent!;
  assert.match(head, /Elapsed 12m 0\ds so far/);
  assert.ok(el.querySelector(".fw-elapsed"));
  cleanup();
});

test("a streaming run shows its throughput, rows, last watermark with the time since, and lag", async () => {
  const { el, model } = setup();
  const d = detail({}) as Record<string, unknown>;
  const run = d.run as Record<string, unknown>;
  run.status = "running";
  run.kind = "streaming";
  run.duration_ms = null;
  run.finished_at = null;
  run.started_at = new Date(Date.now() - 12 * 60_000).toISOString();
  const committed = new Date(Date.now() - 3 * 60_000 - 5_000).toISOString();
  d.stream = { rows_per_sec: 41.7, rows_total: 1250, watermark: "1250", committed_at: committed };
  model.update({ run: d });
  const cleanup = await mount(runView, model, el);
  const line = el.querySelector(".fw-run-stream")!.textContent!;
  assert.match(line, /Throughput 42 rows\/s \(1 min\)/);
  assert.match(line, /1,250 rows so far/);
  assert.match(line, /Last watermark 1250 \(3 min ago\)/);
  assert.match(line, /Lag 3m 0\ds/);
  assert.match(el.querySelector(".fw-run-head")!.textContent!, /Elapsed 12m 0\ds so far/);
  const started = el.querySelector(".fw-started time") as HTMLElement;
  assert.equal(started.textContent, "12 min ago");
  assert.match(started.title, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  // a time watermark: the lag is now minus the watermark's time
  d.stream = { rows_per_sec: null, rows_total: null, watermark: new Date(Date.now() - 90_000).toISOString(), committed_at: committed };
  model.update({ run: { ...d } });
  assert.match(el.querySelector(".fw-run-stream")!.textContent!, /Throughput — \(1 min\).*Lag 1m 3\ds/);
  // an ended stream keeps its last figures without the live dot or a growing lag
  model.update({ run: { ...d, run: { ...run, status: "cancelled" } } });
  const ended = el.querySelector(".fw-run-stream")!;
  assert.equal(ended.querySelector(".fw-live-dot"), null);
  assert.equal(ended.querySelector(".fw-lag"), null);
  assert.match(ended.textContent!, /Stream \(ended\).*Last watermark/);
  // a batch run has no stream line
  model.update({ run: { ...d, stream: null } });
  assert.equal(el.querySelector(".fw-run-stream"), null);
  cleanup();
});

test("a cancelled attempt's error is not drawn as a failure (table and step panel)", async () => {
  const { document, el, model } = setup();
  const run = model.get("run") as ReturnType<typeof detail>;
  run.attempts.push({ number: 3, step: "extract", status: "cancelled", started_at: "2026-11-22T08:00:05.000Z", finished_at: "2026-11-22T08:00:06.000Z", error: "stopped: the run was cancelled" });
  model.set("run", { ...run });
  const cleanup = await mount(runView, model, el);
  const rows = [...el.querySelectorAll('table[aria-label="attempt history"] tbody tr')];
  const errCell = (i: number) => rows[i]!.querySelectorAll("td")[5]!;
  assert.equal(errCell(0).className, "fw-failed-step");
  assert.equal(errCell(2).className, "fw-cut-step");
  model.set("selected_step", "extract");
  model.set("_step_log", { step: "extract", attempt: 3, text: null, error: "stopped: the run was cancelled", note: null, status: "cancelled" });
  await flush();
  assert.ok(el.querySelector(".fw-log-error.fw-log-error--cut"));
  assert.equal(el.querySelector(".fw-log-head ~ .fw-failed-step"), null);
  assert.match(el.querySelector(".fw-label.fw-cut-step")!.textContent!, /Stopped/);
  model.set("_step_log", { step: "extract", attempt: 3, text: null, error: "ValueError: x", note: null, status: "failed" });
  await flush();
  assert.ok(el.querySelector(".fw-label.fw-failed-step") && !el.querySelector(".fw-log-error--cut"));
  void document;
  cleanup();
});
