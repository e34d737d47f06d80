import assert from "node:assert/strict";
import { test } from "node:test";
import { counted, formatCount, formatDuration, formatPercent, formatRate, formatTime, shortId, truncate } from "../src/lib/format";
import { STATUS_ICON, asStatus, statusLabel } from "../src/lib/status";
import vocabulary from "./vocabulary.json";
import { SQUARE_MAX_PX, SQUARE_MIN_PX, maxDuration, squareHeight, stripSlots } from "../src/lib/strip";
import { pageCount, pageSummary } from "../src/widgets/jobs-table";

test("formatDuration picks a unit per magnitude", () => {
  assert.equal(formatDuration(null), "—");
  assert.equal(formatDuration(undefined), "—");
  assert.equal(formatDuration(-5), "—");
  assert.equal(formatDuration(850), "850 ms");
  assert.equal(formatDuration(12_340), "12.3 s");
  assert.equal(formatDuration(245_000), "4m 05s");
  assert.equal(formatDuration(2 * 3600_000 + 3 * 60_000), "2h 03m");
  assert.equal(formatDuration(3 * 86400_000 + 4 * 3600_000), "3d 04h");
});

test("formatDuration agrees with Python's format_duration (vocabulary.json)", () => {
  for (const [ms, shown] of vocabulary.format_duration as [number | null, string][]) {
    assert.equal(formatDuration(ms), shown, `formatDuration(${ms})`);
  }
});

test("formatTime is UTC, with or without seconds", () => {
  assert.equal(formatTime("2026-11-22T08:10:05.123Z"), "2026-11-22 08:10:05");
  assert.equal(formatTime("2026-11-22T03:10:05-05:00", false), "2026-11-22 08:10");
  assert.equal(formatTime(null), "—");
  assert.equal(formatTime("not a time"), "—");
});

test("formatRate, formatPercent, formatCount", () => {
  assert.equal(formatRate(412), "412 rows/s");
  assert.equal(formatRate(2.25), "2.3 rows/s");
  assert.equal(formatRate(1234), "1.2k rows/s");
  assert.equal(formatRate(56_000), "56k rows/s");
  assert.equal(formatRate(3_400_000), "3.4M rows/s");
  assert.equal(formatRate(null), "—");
  assert.equal(formatPercent(0.104), "10%");
  assert.equal(formatPercent(null), "—");
  assert.equal(formatCount(100000), "100,000");
  assert.equal(formatCount(7), "7");
});

test("shortId and truncate keep short strings and mark cuts", () => {
  assert.equal(shortId("run-1"), "run-1");
  assert.equal(shortId("01HQX2ABCDEFGHJKMNPQRS9F3K"), "01HQX2AB…9F3K");
  assert.equal(shortId(null), "—");
  assert.equal(truncate("abcdef", 10), "abcdef");
  assert.equal(truncate("abcdefghijkl", 5), "abcd…");
});

test("status words: unknown values become 'unknown', every status has an icon", () => {
  assert.equal(asStatus("FAILED"), "failed");
  assert.equal(asStatus(" running "), "running");
  assert.equal(asStatus("exploded"), "unknown");
  assert.equal(asStatus(42), "unknown");
  assert.equal(statusLabel("succeeded"), "✓ succeeded");
  for (const icon of Object.values(STATUS_ICON)) assert.ok(icon.length > 0);
});

test("strip: 10 slots, padding first, heights scale with duration", () => {
  const runs = [1, 2, 3].map((i) => ({ run_id: `r${i}`, status: "succeeded", duration_ms: i * 1000 }));
  const slots = stripSlots(runs);
  assert.equal(slots.length, 10);
  assert.deepEqual(slots.slice(0, 7), Array(7).fill(null));
  assert.equal(slots[9]?.run_id, "r3");
  const many = Array.from({ length: 14 }, (_, i) => ({ run_id: `r${i}`, status: "failed" }));
  assert.equal(stripSlots(many)[0]?.run_id, "r4");
  assert.equal(maxDuration(slots), 3000);
  assert.equal(squareHeight(3000, 3000), SQUARE_MAX_PX);
  assert.equal(squareHeight(0, 3000), SQUARE_MIN_PX);
  assert.ok(squareHeight(750, 3000) > SQUARE_MIN_PX && squareHeight(750, 3000) < SQUARE_MAX_PX);
  assert.equal(squareHeight(null, 3000), SQUARE_MAX_PX);
  assert.equal(squareHeight(500, 0), SQUARE_MAX_PX);
});

test("pager helpers", () => {
  assert.equal(pageSummary(0, 25, 0), "0 runs");
  assert.equal(pageSummary(1, 25, 1000), "26–50 of 1,000 runs");
  assert.equal(pageSummary(3, 25, 90), "76–90 of 90 runs");
  assert.equal(pageSummary(0, 25, 1), "1–1 of 1 run");
  assert.equal(pageCount(0, 25), 1);
  assert.equal(pageCount(100_000, 25), 4000);
  assert.equal(pageCount(26, 25), 2);
});

test("counted: one thing, many things", () => {
  assert.deepEqual([0, 1, 2, 1204].map((n) => counted(n, "run")), ["0 runs", "1 run", "2 runs", "1,204 runs"]);
  assert.equal(counted(1, "entry", "entries"), "1 entry");
  assert.equal(counted(3, "entry", "entries"), "3 entries");
});
