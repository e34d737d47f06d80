import assert from "node:assert/strict";
import { test } from "node:test";
import { compareTable, formatDelta } from "../src/lib/compare";
import { EVIL, newDocument } from "./helpers";

const side = (status: string | null, ms: number | null, error: string | null = null) =>
  ({ status, duration_ms: ms, reused_from: null, attempts: 1, error });

test("the comparison table: rows in the kernel's order, runner strings as text", () => {
  const { document } = newDocument();
  const opened: string[] = [];
  const el = compareTable(document, {
    a: { run_id: "a1", pipeline: EVIL, status: "succeeded", started_at: null, duration_ms: 1000, trigger: null, error: null },
    b: { run_id: EVIL, pipeline: EVIL, status: "failed", started_at: null, duration_ms: 900, trigger: null, error: EVIL },
    steps: [
      { step: EVIL, a: side("succeeded", 100), b: side("failed", 50, EVIL), delta_ms: -50, ratio: 0.5, change: "new_failure", skipped: false },
      { step: "load", a: side("succeeded", 100), b: side("succeeded", 2100), delta_ms: 2000, ratio: 21, change: "slower", skipped: false },
    ],
    first_error_diff: EVIL,
    delta_ms: -100,
  }, (id) => opened.push(id));
  assert.equal(el.querySelectorAll("img").length, 0);
  const rows = el.querySelectorAll("tbody tr");
  assert.equal(rows[0]!.getAttribute("data-step"), EVIL);
  assert.match(rows[0]!.textContent!, /✗ new failure/);
  assert.match(rows[1]!.textContent!, /▲ slower.*\+2\.0 s.*21\.00×/);
  assert.match(el.querySelector(".fw-cmp-err")!.textContent!, /B: <img/);
  (el.querySelectorAll(".fw-cmp-head .fw-link")[1] as HTMLElement).click();
  assert.deepEqual(opened, [EVIL]);
  assert.deepEqual([formatDelta(null), formatDelta(1500), formatDelta(-850)], ["—", "+1.5 s", "−850 ms"]);
});
