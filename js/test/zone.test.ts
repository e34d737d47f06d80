// time_zone="local" in a browser whose zone is not UTC (Asia/Kolkata, UTC+05:30, no DST):
// every absolute time in every view follows it and names the zone. node --test runs each
// file in its own process, so setting TZ here touches no other test.
process.env.TZ = "Asia/Kolkata";

import assert from "node:assert/strict";
import { test } from "node:test";
import { type Crumb, crumbLabel } from "../src/widgets/dashboard";
import history from "../src/widgets/history";
import { isoToLocal, localToIso } from "../src/widgets/jobs-table";
import { axisTicks, markTitle } from "../src/widgets/timeline";
import { barTitle } from "../src/lib/timeline";
import { etaInZone, formatAt, zoneName, zoneTicks } from "../src/lib/when";
import { BASE, FakeModel, mount, newDocument } from "./helpers";

const AT = "2026-11-22T08:10:05Z"; // 13:40:05 in Kolkata
const H = 3_600_000;

test("the process really runs in Kolkata (the premise of this file)", () => {
  assert.equal(new Date(AT).getHours(), 13);
  assert.equal(new Date(AT).getMinutes(), 40);
});

test("formatAt: the local wall clock with the zone's name; UTC stays UTC", () => {
  const local = formatAt(AT, "local");
  assert.match(local, /^2026-11-22 13:40:05 /);
  assert.ok(!local.endsWith("UTC"), local);
  assert.equal(zoneName("local", Date.parse(AT)), local.slice("2026-11-22 13:40:05 ".length));
  assert.equal(formatAt(AT, "UTC"), "2026-11-22 08:10:05 UTC");
  assert.equal(formatAt(Date.parse(AT) + 7, "local", { date: "none", clock: "hmsms", withZone: false }), "13:40:05.007");
  assert.equal(formatAt(null, "local"), "—");
});

test("axis ticks fall on the local clock's round hours and read local", () => {
  const t0 = Date.parse("2026-11-22T00:00:00Z");
  // a 6 h step: local 06:00, 12:00, 18:00 = 00:30, 06:30, 12:30 UTC
  assert.deepEqual(zoneTicks(t0, t0 + 20 * H, 6 * H, "local").map((t) => new Date(t).toISOString().slice(11, 16)), ["00:30", "06:30", "12:30", "18:30"]);
  assert.deepEqual(zoneTicks(t0, t0 + 20 * H, 6 * H, "UTC").map((t) => new Date(t).toISOString().slice(11, 16)), ["00:00", "06:00", "12:00", "18:00"]);
  const ticks = axisTicks(t0, t0 + 6 * H, "local");
  assert.ok(ticks.length >= 3);
  for (const t of ticks) assert.equal(t.label, formatAt(t.at, "local", { date: "none", clock: "hm", withZone: false }));
  assert.ok(ticks.every((t) => new Date(t.at).getMinutes() === 0), "round local hours");
});

test("timeline and run timeline hovers say the local time", () => {
  const start = Date.parse(AT);
  const title = markTitle("etl", [start, start + 60_000, "succeeded", "r1", 1], start + 60_000, "local");
  assert.match(title, /2026-11-22 13:40:05 /);
  assert.ok(!title.includes("UTC"), title);
  assert.match(markTitle("etl", [start, start + 60_000, "succeeded", "r1", 1], start, "UTC"), /08:10:05 UTC/);
  const bar = barTitle({ name: "load", critical: true, slack_ms: null } as never, { start, end: start + 1000, status: "succeeded", attempt: 1 } as never, start, "local");
  assert.match(bar, /13:40:05\.000 /);
});

test("an ETA line from the kernel (UTC clock) reads local", () => {
  const now = Date.parse("2026-11-22T14:39:00Z");
  assert.equal(etaInZone("ETA 14:42:05 UTC (in 3 min)", "local", null, now), `ETA 20:12:05 ${zoneName("local", now)} (in 3 min)`);
  assert.equal(etaInZone("ETA 14:42:05 UTC (in 3 min)", "UTC", null, now), "ETA 14:42:05 UTC (in 3 min)");
  // past midnight UTC: the nearest 00:05 is tomorrow's
  const late = Date.parse("2026-11-22T23:58:00Z");
  assert.match(etaInZone("ETA 00:05:00 UTC (in 7 min)", "local", null, late), /^ETA 05:35:00 /);
  assert.equal(etaInZone("ETA partial: 2 steps have no history", "local"), "ETA partial: 2 steps have no history");
});

test("a time-range crumb and the custom range read local", () => {
  const c: Crumb = { label: "2026-11-22 08:00 – … UTC", target: "jobs", since: "2026-11-22T08:00:00Z", until: null };
  assert.equal(crumbLabel(c, "local"), `2026-11-22 13:30 – … ${zoneName("local", Date.parse("2026-11-22T08:00:00Z"))}`);
  assert.equal(crumbLabel(c, "UTC"), "2026-11-22 08:00 – … UTC");
  assert.equal(crumbLabel({ label: "Runs", target: "jobs" }, "local"), "Runs");
  assert.equal(localToIso("2026-11-22T13:30", "local"), "2026-11-22T08:00:00.000Z");
  assert.equal(isoToLocal("2026-11-22T08:00:00Z", "local"), "2026-11-22T13:30");
  assert.equal(localToIso("2026-11-22T13:30"), "2026-11-22T13:30:00.000Z");
});

test("the History view: axis, hovers, failure groups and the brush in local time", async () => {
  const { el } = newDocument();
  const T0 = Date.parse("2026-11-22T00:00:00Z");
  const model = new FakeModel<Record<string, unknown>>({
    ...BASE,
    time_zone: "local",
    pipeline: "etl",
    window: "14d",
    brush: ["2026-11-22T02:00:00.000Z", "2026-11-22T04:00:00.000Z"],
    focus: {},
    selected_run_id: null,
    pipelines: ["etl"],
    chart: { start: T0, end: T0 + 10 * H, runs: 1, bucketed: false, imported: 0, pipelines: ["etl"], marks: [[T0 + 3 * H, 60_000, "failed", "r1", false, 0]], band: [] },
    grid: { steps: ["a"], runs: [{ run_id: "r1", status: "failed", started_at: "2026-11-22T03:00:00Z", duration_ms: 60_000, trigger: "schedule", failed_step: "a" }], cells: [[["failed", 1000, 1]]] },
    failures: [{ pipeline: "etl", step: "a", signature: "boom", count: 1, first_seen: "2026-11-22T03:00:00Z", last_seen: "2026-11-22T03:00:00Z", example: "boom", run_ids: ["r1"] }],
    summary_rows: [],
    loading: false,
    _can_show_runs: true,
  });
  const cleanup = await mount(history, model, el);
  const zone = zoneName("local", T0);
  assert.match(el.querySelector(".fw-history-meta")!.textContent!, new RegExp(`times in local time \\(${zone.replace("+", "\\+")}\\)`));
  assert.match(el.querySelector(".fw-mark title")!.textContent!, /started 2026-11-22 08:30:00 /);
  assert.match(el.querySelector(".fw-gbar title")!.textContent!, /2026-11-22 08:30:00 /);
  assert.match(el.querySelector(".fw-fgroup")!.textContent!, /first 2026-11-22 08:30 · last 2026-11-22 08:30 /);
  assert.match(el.querySelector(".fw-history-brush")!.textContent!, /selected 2026-11-22 07:30 – 2026-11-22 09:30 /);
  const axis = Array.from(el.querySelectorAll(".fw-history-axis")).map((t) => t.textContent);
  assert.ok(axis.includes("06:00") && axis.includes("12:00"), axis.join(","));
  // UTC again: the same view redraws in UTC
  model.set("time_zone", "UTC");
  assert.match(el.querySelector(".fw-mark title")!.textContent!, /started 2026-11-22 03:00:00 UTC/);
  assert.match(el.querySelector(".fw-history-meta")!.textContent!, /times in UTC/);
  cleanup();
});

test("the Runs table's zone headers say which zone on hover", async () => {
  const { default: jobsTable } = await import("../src/widgets/jobs-table");
  const { el } = newDocument();
  const model = new FakeModel<Record<string, unknown>>({
    ...BASE, time_zone: "local", pipeline: null, status: null, last: null, since: null, until: null, search: "",
    sort_by: "started_at", ascending: false, page: 0, page_size: 25, total: 0, _rows: [],
    _options: { pipelines: [], statuses: [] }, selected_run_id: null, loading: false,
  });
  const cleanup = await mount(jobsTable, model, el);
  const heads = Array.from(el.querySelectorAll<HTMLElement>(".fw-zone-label"));
  assert.equal(heads.length, 2);
  for (const hd of heads) {
    assert.match(hd.textContent!, /\(local\)$/);
    assert.equal(hd.title, `times in ${zoneName("local")}`);
  }
  model.set("time_zone", "UTC");
  assert.equal(heads[0]!.title, "times in UTC");
  cleanup();
});
