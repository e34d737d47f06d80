import assert from "node:assert/strict";
import { test } from "node:test";
import { type FleetMarks, axisTicks, markTitle, renderFleet, windowMs, zoomWindow } from "../src/widgets/timeline";
import timeline from "../src/widgets/timeline";
import { BASE, EVIL, FakeModel, mount, newDocument } from "./helpers";

const T1 = Date.UTC(2026, 0, 2, 12, 0, 0);
const M: FleetMarks = {
  t0: T1 - 864e5, t1: T1, now: T1 - 36e5, width: 800, bucket_ms: 432e3, runs: 12, merged: 10, marks: 4, window: "24h", live: true,
  rows: [
    { pipeline: EVIL, marks: [[T1 - 5e7, T1 - 4e7, "succeeded", `r-${EVIL}`, 1], [T1 - 3e7, T1 - 2.9e7, "failed", "r9", 10]], ghosts: [[T1 - 18e5, T1 - 12e5]] },
    { pipeline: "etl", marks: [[T1 - 72e5, T1 - 36e5, "running", "live", 1]], ghosts: [] },
  ],
};

test("window zoom steps stay within 1h and 30d", () => {
  assert.equal(zoomWindow("24h", -1), "6h");
  assert.equal(zoomWindow("1h", -1), "1h");
  assert.equal(zoomWindow("30d", 1), "30d");
  assert.equal(windowMs("7d"), 6048e5);
  assert.equal(windowMs("2h"), 72e5);
});

test("axis ticks read as clock times", () => {
  const ticks = axisTicks(M.t0, M.t1);
  assert.ok(ticks.length >= 4 && ticks.length <= 9);
  assert.match(ticks[0]!.label, /^\d\d:\d\d$/);
  assert.match(axisTicks(T1 - 2592e6, T1)[0]!.label, /^\d\d-\d\d \d\d:\d\d$/);
});

test("renderFleet: a row per pipeline, merged and ghost bars, running grows, strings stay text, a click selects", () => {
  const { document } = newDocument();
  const picked: string[] = [];
  const svg = renderFleet(document, M, T1 - 18e5, 800, (rid) => picked.push(rid));
  assert.equal(svg.querySelectorAll("g.fw-fl-row").length, 2);
  assert.equal(svg.querySelectorAll(".fw-fl-ghost").length, 1);
  assert.equal(svg.querySelectorAll(".fw-fl-bar--merged").length, 1);
  assert.match(markTitle("etl", M.rows[0]!.marks[1]!, T1), /10 runs merged \(worst: failed\)/);
  const live = svg.querySelector('[data-run-id="live"]')!;
  const later = renderFleet(document, M, T1 - 6e5, 800, () => {}).querySelector('[data-run-id="live"]')!;
  assert.ok(Number(later.getAttribute("width")) > Number(live.getAttribute("width")));
  assert.equal(svg.querySelectorAll("img").length, 0);
  assert.equal(svg.querySelector("g.fw-fl-row")!.getAttribute("data-pipeline"), EVIL);
  (svg.querySelector('[data-run-id="r9"]') as SVGElement).dispatchEvent(new (document.defaultView as any).MouseEvent("click", { bubbles: true }));
  assert.deepEqual(picked, ["r9"]);
});

test("offline before the first answer, the timeline says so instead of 'Loading the runs…' for ever", async () => {
  const { el } = newDocument();
  const model = new FakeModel<Record<string, unknown>>({ ...BASE, connected: false, _marks: null, window: "24h", window_end: null, time_zone: "UTC", selected_run_id: null });
  const cleanup = await mount(timeline, model, el);
  assert.match(el.querySelector(".fw-empty")!.textContent!, /^No runner attached/);
  model.update({ connected: true });
  assert.equal(el.querySelector(".fw-empty")!.textContent, "Loading the runs…");
  cleanup();
});
