import assert from "node:assert/strict";
import { test } from "node:test";
import { absoluteTime, asZone, humanTime, relativeTime } from "../src/lib/when";

const NOW = Date.parse("2026-11-22T08:00:00Z");

test("relativeTime says how far a time is, rounded down, both ways", () => {
  assert.equal(relativeTime(null, NOW), "");
  assert.equal(relativeTime("garbage", NOW), "");
  assert.equal(relativeTime("2026-11-22T08:00:02Z", NOW), "just now");
  assert.equal(relativeTime("2026-11-22T07:59:15Z", NOW), "45 s ago");
  assert.equal(relativeTime("2026-11-22T07:56:30Z", NOW), "3 min ago");
  assert.equal(relativeTime("2026-11-22T08:57:30Z", NOW), "in 57 min");
  assert.equal(relativeTime("2026-11-22T10:05:00Z", NOW), "in 2 h 5 min");
  assert.equal(relativeTime("2026-11-22T20:00:00Z", NOW), "in 12 h");
  assert.equal(relativeTime("2026-11-18T07:00:00Z", NOW), "4 d ago");
});

test("absoluteTime names its zone: UTC by default, the local zone on request", () => {
  assert.equal(absoluteTime("2026-11-22T08:10:05Z"), "2026-11-22 08:10:05 UTC");
  assert.equal(absoluteTime("2026-11-22T08:10:05Z", "UTC", false), "2026-11-22 08:10 UTC");
  assert.equal(absoluteTime(null), "—");
  const d = new Date("2026-11-22T08:10:05Z");
  const local = absoluteTime("2026-11-22T08:10:05Z", "local");
  const hh = String(d.getHours()).padStart(2, "0");
  assert.ok(local.includes(` ${hh}:10:05 `), local);
  assert.ok(!local.endsWith(" UTC") || d.getTimezoneOffset() === 0, local);
  assert.equal(asZone("local"), "local");
  assert.equal(asZone("Europe/Paris"), "UTC");
  assert.equal(asZone(undefined), "UTC");
});

test("humanTime: relative text near now, absolute far away, absolute title always", () => {
  assert.deepEqual(humanTime("2026-11-22T08:57:30Z", "UTC", NOW), { text: "in 57 min", title: "2026-11-22 08:57:30 UTC" });
  assert.deepEqual(humanTime("2026-11-10T08:00:00Z", "UTC", NOW), { text: "2026-11-10 08:00 UTC", title: "2026-11-10 08:00:00 UTC" });
  assert.deepEqual(humanTime(null, "UTC", NOW), { text: "—", title: "" });
});

test("in a column (its header names the zone) a far time keeps seconds, drops the zone", () => {
  assert.deepEqual(humanTime("2026-11-10T08:00:05Z", "UTC", NOW, undefined, true), { text: "2026-11-10 08:00:05", title: "2026-11-10 08:00:05 UTC" });
  assert.equal(humanTime("2026-11-22T07:57:00Z", "UTC", NOW, undefined, true).text, "3 min ago");
});
