import assert from "node:assert/strict";
import { test } from "node:test";
import history, { logScale, trendText } from "../src/widgets/history";
import { BASE, EVIL, FakeModel, mount, newDocument } from "./helpers";

const T0 = Date.parse("2026-11-22T00:00:00Z");
const H = 3_600_000;

function setup(extra: Record<string, unknown> = {}) {
  const { el } = newDocument();
  const model = new FakeModel<Record<string, unknown>>({
    ...BASE,
    pipeline: "etl",
    window: "14d",
    brush: [],
    focus: {},
    selected_run_id: null,
    pipelines: ["etl", EVIL],
    chart: {
      start: T0, end: T0 + 10 * H, runs: 3, bucketed: false, imported: 2, pipelines: ["etl"],
      marks: [[T0 + H, 60_000, "succeeded", "r1", false, 0], [T0 + 2 * H, 90_000, "failed", EVIL, false, 0],
        [T0 + 3 * H, 5_000, "succeeded", "r3", true, 0]],
      band: [[T0 + H, 60_000, 80_000], [T0 + 5 * H, 61_000, 85_000]],
    },
    grid: {
      steps: ["extract", EVIL],
      runs: [{ run_id: "r1", status: "succeeded", started_at: null, duration_ms: 60_000, trigger: "schedule", failed_step: null },
        { run_id: EVIL, status: "failed", started_at: null, duration_ms: 90_000, trigger: "schedule", failed_step: EVIL }],
      cells: [[["succeeded", 1000, 1], ["succeeded", 2000, 1]], [["succeeded", 1000, 1], ["failed", 500, 2]]],
    },
    failures: [{ pipeline: "etl", step: EVIL, signature: EVIL, count: 2, first_seen: null, last_seen: null, example: EVIL, run_ids: [EVIL, "r0"] }],
    summary_rows: [{ pipeline: EVIL, runs: 3, failed: 1, success_rate: 0.66, p50_ms: 60_000, p90_ms: 90_000, p50_last_7d_ms: 66_000, p50_prev_7d_ms: 60_000, trend: 0.1 }],
    loading: false,
    _can_show_runs: true,
    ...extra,
  });
  return { el, model };
}

test("trend words and the log scale", () => {
  assert.deepEqual([null, 0.01, 0.124, -0.5].map(trendText), ["—", "steady", "+12% slower", "50% faster"]);
  // under half the time: a factor, not "100% faster"
  assert.deepEqual([-0.6875, -0.995].map(trendText), ["3.2× faster", "200× faster"]);
  const y = logScale(10, 1000, 100, 0);
  assert.equal(y(10), 100);
  assert.equal(y(1000), 0);
  assert.ok(Math.abs(y(100) - 50) < 1e-9);
  assert.equal(logScale(5, 5, 100, 0)(5), 50);
});

test("marks, restarts apart, band, grid, failures; runner strings stay text", async () => {
  const { el, model } = setup();
  const cleanup = await mount(history, model, el);
  assert.equal(el.querySelectorAll("img").length, 0, "no element from a runner string");
  const marks = el.querySelectorAll(".fw-history-marks .fw-mark");
  assert.equal(marks.length, 3);
  assert.equal(el.querySelectorAll(".fw-mark--restart rect").length, 1, "a restart is a hollow diamond");
  assert.equal(el.querySelectorAll(".fw-mark--failed").length, 1);
  assert.ok(el.querySelector(".fw-history-band"), "the band for one pipeline");
  assert.match(el.querySelector(".fw-history-meta")!.textContent!, /3 runs · 2 imported runs/);
  assert.equal(el.querySelectorAll(".fw-gcell").length, 4);
  const bad = el.querySelector(`.fw-gcell--failed`)!;
  assert.equal(bad.getAttribute("data-step"), EVIL);
  (bad as unknown as { dispatchEvent(e: Event): void }).dispatchEvent(new (el.ownerDocument.defaultView as unknown as { Event: typeof Event }).Event("click"));
  assert.deepEqual(model.sent.at(-1), { kind: "open_step", run_id: EVIL, step: EVIL });
  assert.match(el.querySelector(".fw-trend")!.textContent!, /\+10% slower/);
  assert.ok(el.querySelector(".fw-trend")!.className.includes("fw-trend--slower"));
  // a failure group: click focuses its runs (chips open them)
  (el.querySelector(".fw-fgroup-head") as HTMLElement).click();
  assert.deepEqual((model.get("focus") as { run_ids: string[] }).run_ids, [EVIL, "r0"]);
  const chips = el.querySelectorAll(".fw-chip");
  assert.equal(chips.length, 2);
  (chips[0] as HTMLElement).click();
  assert.deepEqual(model.sent.at(-1), { kind: "select", run_id: EVIL });
  assert.ok(el.querySelector(`.fw-mark--focus`), "the focused run's mark is emphasised");
  cleanup();
});

test("a brush shows its range, a count and Show in Runs", async () => {
  const { el, model } = setup();
  const cleanup = await mount(history, model, el);
  model.update({ brush: [new Date(T0 + 0.5 * H).toISOString(), new Date(T0 + 2.5 * H).toISOString()] });
  const note = el.querySelector(".fw-history-brush")!;
  assert.match(note.textContent!, /selected 2026-11-22 00:30 – 2026-11-22 02:30 UTC · 2 runs/);
  (note.querySelector('[data-action="show-runs"]') as HTMLElement).click();
  assert.deepEqual(model.sent.at(-1), { kind: "show_runs" });
  (note.querySelector('[data-action="clear-brush"]') as HTMLElement).click();
  assert.deepEqual(model.get("brush"), []);
  cleanup();
});

test("bucketed marks say so; an empty window says so", async () => {
  const { el, model } = setup({
    pipeline: null, grid: {},
    chart: { start: T0, end: T0 + H, runs: 5000, bucketed: true, marks: [[T0, 60_000, "succeeded", 4990, false, 1000, 90_000], [T0, 70_000, "failed", 10, false, 500, 80_000]], band: [] },
  });
  const cleanup = await mount(history, model, el);
  assert.match(el.querySelector(".fw-history-meta")!.textContent!, /5,000 runs · bucketed/);
  assert.match(el.querySelector(".fw-mark title")!.textContent!, /4990 runs · p50 1m 00s/);
  assert.equal(el.querySelector(".fw-history-band"), null, "no band across pipelines");
  model.update({ chart: { runs: 0, marks: [] } });
  assert.match(el.querySelector(".fw-history-chart")!.textContent!, /No finished runs/);
  cleanup();
});

test("a step a restart reused is drawn as reused in the grid, not as succeeded", async () => {
  // the grid drew a restart's reused steps like steps that ran (the DAG and timeline say reused)
  const { el, model } = setup({
    grid: {
      steps: ["extract", "merge"],
      runs: [{ run_id: "r1", status: "failed", started_at: null, duration_ms: 60_000, trigger: "schedule", failed_step: "merge" },
        { run_id: "r2", status: "succeeded", started_at: null, duration_ms: 1_000, trigger: "restart", failed_step: null }],
      cells: [[["succeeded", 1000, 1, null], ["failed", 500, 1, null]], [["succeeded", null, null, EVIL], ["succeeded", 900, 1, null]]],
    },
  });
  const cleanup = await mount(history, model, el);
  const reused = el.querySelectorAll(".fw-gcell--reused");
  assert.equal(reused.length, 1);
  assert.equal(reused[0]!.getAttribute("data-run-id"), "r2");
  assert.equal(reused[0]!.getAttribute("data-step"), "extract");
  assert.equal(reused[0]!.querySelector("title")!.textContent, `extract · ↺ reused from run ${EVIL} · run r2`);
  assert.equal(el.querySelectorAll("img").length, 0);
  cleanup();
});

test("offline, the empty sections say the runner is missing, not that the window is empty", async () => {
  // under the "No runner attached" banner it read "0 runs · No finished runs in this window"
  const { el, model } = setup({ connected: false, chart: { start: T0, end: T0 + H, runs: 0, marks: [] }, summary_rows: [], failures: [], grid: {} });
  const cleanup = await mount(history, model, el);
  const empties = Array.from(el.querySelectorAll(".fw-empty")).map((e) => e.textContent);
  assert.ok(empties.length >= 3 && empties.every((t) => /^No runner attached/.test(t!)), String(empties));
  model.update({ connected: true });
  assert.match(el.querySelector(".fw-empty")!.textContent!, /No finished runs in this window/);
  cleanup();
});
