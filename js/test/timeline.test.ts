import assert from "node:assert/strict";
import { test } from "node:test";
import { type RunTiming, criticalLine, relLabel, renderTimeline, tickStep, timeExtent } from "../src/lib/timeline";
import { EVIL, newDocument } from "./helpers";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const seg = (a: number, b: number | null, status = "succeeded", attempt = 1) => ({ attempt, status, start: T0 + a, end: b === null ? null : T0 + b });
const step = (name: string, over: Partial<RunTiming["steps"][number]> = {}) => ({
  name, status: "succeeded", critical: false, wait_ms: null, slack_ms: null, reused_from: null, ready_at: null, segments: [], ...over,
});

const TIMING: RunTiming = {
  run_id: "r1",
  start: T0,
  end: null,
  critical_path: ["a", "slow"],
  critical_ms: 1050,
  critical_share: null,
  untimed: [],
  now: T0 + 800,
  planned: { d: [T0 + 1050, T0 + 1100] },
  eta_text: "ETA 12:00:01 UTC (in 1 s)",
  steps: [
    step("a", { critical: true, segments: [seg(0, 50)] }),
    step("slow", { critical: true, status: "running", segments: [seg(50, null, "running")] }),
    step("fast", { slack_ms: 800, segments: [seg(50, 250)] }),
    step(EVIL, { wait_ms: 200, ready_at: T0 + 50, segments: [seg(50, 100, "failed", 1), seg(250, 450, "succeeded", 2)] }),
    step("old", { reused_from: EVIL }),
    step("d", { status: "pending" }),
  ],
};

test("relLabel and tickStep read as time", () => {
  assert.equal(relLabel(12_000), "+0:12");
  assert.equal(relLabel(3_723_000), "+1:02:03");
  assert.equal(relLabel(200, 200), "+0:00.2");
  assert.equal(relLabel(12_400, 200), "+0:12.4");
  assert.equal(tickStep(1100), 200);
  assert.equal(tickStep(82), 20); // a sub-second run: round hundredths, not one "+0:00.0"
  assert.equal(relLabel(40, 20), "+0:00.04");
  assert.equal(tickStep(30 * 864e5), 864e5);
});

test("timeExtent covers the planned steps and now while running", () => {
  assert.deepEqual(timeExtent(TIMING, T0 + 800), [T0, T0 + 1100]);
  assert.deepEqual(timeExtent({ ...TIMING, planned: {} }, T0 + 900), [T0, T0 + 900]);
});

test("criticalLine names the path, its total and share", () => {
  assert.equal(criticalLine({ ...TIMING, end: T0 + 1100, critical_share: 0.954 }), "Critical path: a → slow · 1.1 s · 95 % of the run");
  assert.equal(criticalLine(TIMING), "Critical path so far: a → slow · 1.1 s");
  assert.equal(criticalLine({ ...TIMING, critical_path: [], untimed: ["x"] }), "Critical path: the runner gave no step times");
});

test("renderTimeline: bars per attempt, hatched wait, reused marker, running grows, pending dashed, critical outlined, text stays text", () => {
  const { document } = newDocument();
  const { axis, rows } = renderTimeline(document, TIMING, T0 + 800, { width: 800 });
  const bars = rows.querySelectorAll(".fw-tl-bar");
  assert.equal(rows.querySelectorAll(`[data-step="${EVIL}"] .fw-tl-bar`).length, 2); // two attempts
  assert.equal(rows.querySelectorAll(".fw-tl-bar--failed").length, 1);
  assert.equal(rows.querySelectorAll(".fw-tl-wait").length, 1);
  assert.match(rows.querySelector(".fw-tl-wait title")!.textContent!, /started 200 ms later/);
  assert.equal(rows.querySelectorAll(".fw-tl-bar--critical").length, 2);
  assert.equal(rows.querySelectorAll(".fw-tl-bar--planned").length, 1);
  assert.match(rows.querySelector(".fw-tl-reused text")!.textContent!, /reused from run <img/);
  assert.match(rows.querySelector('[data-step="fast"] title')!.textContent!, /could take 800 ms longer/);
  const running = rows.querySelector(".fw-tl-bar--running")!;
  const w1 = Number(running.getAttribute("width"));
  const later = renderTimeline(document, TIMING, T0 + 1000, { width: 800 }).rows.querySelector(".fw-tl-bar--running")!;
  assert.ok(Number(later.getAttribute("width")) > w1, "the running bar grows with now");
  assert.equal(rows.querySelectorAll("img").length, 0);
  assert.equal(bars.length, 6);
  assert.ok(axis.querySelectorAll(".fw-tl-tick").length >= 4);
  assert.match(axis.querySelector(".fw-tl-tick")!.textContent!, /^2026-01-01 12:00:00.000 UTC\+0:00.0$/);
});

test("300 steps: one row each, rows 20 px apart (labels never overlap)", () => {
  const { document } = newDocument();
  const many: RunTiming = { ...TIMING, planned: {}, steps: Array.from({ length: 300 }, (_, i) => step(`s${i}`, { segments: [seg(i * 10, i * 10 + 50)] })) };
  const { rows } = renderTimeline(document, many, T0 + 4000, { width: 900 });
  const ys = Array.from(rows.querySelectorAll(".fw-tl-label")).map((t) => Number(t.getAttribute("y")));
  assert.equal(ys.length, 300);
  assert.ok(ys.every((y, i) => i === 0 || y - ys[i - 1]! === 20));
  assert.equal(Number(rows.getAttribute("height")), 300 * 20 + 4);
});

test("zoom: a window narrows the axis", () => {
  const { document } = newDocument();
  const { rows } = renderTimeline(document, TIMING, T0 + 800, { width: 800, zoom: [T0, T0 + 100] });
  const a = rows.querySelector('[data-step="a"] .fw-tl-bar')!;
  assert.ok(Number(a.getAttribute("width")) > 250, "a 50 ms bar spans half the plot at a 100 ms window");
});

test("a finished run's step that never ran says so (it was an empty row)", () => {
  const { document } = newDocument();
  const done: RunTiming = { ...TIMING, end: T0 + 1100, planned: {},
    steps: [step("a", { segments: [seg(0, 50)] }), step("old", { reused_from: "r0" }), step("load", { status: "pending" })] };
  const { rows } = renderTimeline(document, done, T0 + 1100, { width: 800 });
  const notes = Array.from(rows.querySelectorAll(".fw-tl-notrun text")).map((e) => e.textContent);
  assert.deepEqual(notes, ["○ pending: did not run"]);
  // while the run goes on, a pending step is still expected, not "did not run"
  assert.equal(renderTimeline(document, TIMING, T0 + 800, { width: 800 }).rows.querySelectorAll(".fw-tl-notrun").length, 0);
});
