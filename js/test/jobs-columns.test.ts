import assert from "node:assert/strict";
import { test } from "node:test";
import jobsTable, { COLUMNS, TABLE_MIN_WIDTH, isoToLocal, localToIso } from "../src/widgets/jobs-table";
import { BASE, EVIL, FakeModel, flush, mount, newDocument } from "./helpers";

function setup(extra: Record<string, unknown> = {}) {
  const { el } = newDocument();
  const model = new FakeModel<Record<string, unknown>>({
    ...BASE, pipeline: null, status: null, last: null, since: null, until: null, search: "",
    sort_by: "started_at", ascending: false, page: 0, page_size: 2, total: 5,
    _rows: [
      { run_id: EVIL, pipeline: "etl", status: "failed", started_at: null, finished_at: null, attempts: 1, duration_ms: 10, failed_step: "merge", trigger: "restart", error: EVIL, imported: false },
      { run_id: "imported-etl-1", pipeline: "etl", status: "succeeded", started_at: null, finished_at: null, attempts: 1, duration_ms: 10, failed_step: null, trigger: "schedule", error: null, imported: true },
    ],
    _options: { pipelines: ["etl"], statuses: ["failed", "succeeded"] },
    selected_run_id: null, loading: false, ...extra,
  });
  return { el, model };
}

test("run id with a copy button, trigger, imported, the error line; fixed widths", async () => {
  const { el, model } = setup();
  const cleanup = await mount(jobsTable, model, el);
  assert.equal(el.querySelectorAll("colgroup col").length, COLUMNS.length);
  assert.ok(el.querySelector("table")!.className.includes("fw-table--fixed"));
  const [bad, old] = Array.from(el.querySelectorAll("tbody tr"));
  assert.equal(el.querySelectorAll("img").length, 0);
  assert.equal(bad!.querySelector("code.fw-runid")!.textContent, EVIL);
  assert.equal(bad!.querySelector(".fw-error-line")!.textContent, EVIL);
  assert.match(bad!.textContent!, /restart/);
  assert.match(old!.textContent!, /schedule · imp\./);
  // the copy button copies (or selects): it never opens the run
  const before = model.sent.length;
  (bad!.querySelector(".fw-copy") as HTMLElement).click();
  await flush();
  assert.equal(model.sent.length, before);
  // both pagers: the top one shows while there is more than a page
  const pagers = el.querySelectorAll(".fw-pager");
  assert.equal(pagers.length, 2);
  assert.equal((pagers[0] as HTMLElement).hidden, false);
  assert.match(pagers[0]!.textContent!, /Page 1 of 3/);
  (pagers[0]!.querySelector("button:last-child") as HTMLElement).click();
  assert.equal(model.get("page"), 1);
  cleanup();
});

test("an empty result says 0 runs, never page 1 of 1", async () => {
  const { el, model } = setup({ total: 0, _rows: [] });
  const cleanup = await mount(jobsTable, model, el);
  assert.doesNotMatch(el.textContent!, /Page 1 of 1/);
  assert.match(el.querySelector(".fw-pager--bottom")!.textContent!, /0 runs/);
  assert.equal((el.querySelector(".fw-pager--top") as HTMLElement).hidden, true);
  cleanup();
});

test("a custom date range sets since and until (UTC)", async () => {
  const { el, model } = setup();
  const cleanup = await mount(jobsTable, model, el);
  const sel = el.querySelector('select[aria-label="Filter by start time"]') as HTMLSelectElement;
  sel.value = "custom";
  sel.dispatchEvent(new (el.ownerDocument.defaultView as unknown as { Event: typeof Event }).Event("change"));
  const from = el.querySelector('input[aria-label="Started from (UTC)"]') as HTMLInputElement;
  const to = el.querySelector('input[aria-label="Started before (UTC)"]') as HTMLInputElement;
  assert.equal((from.parentElement as HTMLElement).hidden, false);
  from.value = "2026-11-20T06:00";
  from.dispatchEvent(new (el.ownerDocument.defaultView as unknown as { Event: typeof Event }).Event("change"));
  to.value = "2026-11-21T06:30";
  to.dispatchEvent(new (el.ownerDocument.defaultView as unknown as { Event: typeof Event }).Event("change"));
  assert.equal(model.get("since"), "2026-11-20T06:00:00.000Z");
  assert.equal(model.get("until"), "2026-11-21T06:30:00.000Z");
  assert.equal(model.get("last"), null);
  assert.equal(isoToLocal("2026-11-20T06:00:00.000Z"), "2026-11-20T06:00");
  assert.equal(localToIso(""), null);
  cleanup();
});

test("a run-set filter (a failure group's runs) is a chip in the filter bar; its × lifts it", async () => {
  const { el, model } = setup();
  const cleanup = await mount(jobsTable, model, el);
  const chip = el.querySelector(".fw-runset") as HTMLElement;
  assert.equal(chip.hidden, true, "no chip without a run set");
  model.set("run_set", `failures: ${EVIL}`);
  assert.equal(chip.hidden, false);
  assert.equal(chip.querySelector(".fw-chip-text")!.textContent, `failures: ${EVIL}`);
  assert.equal(el.querySelectorAll("img").length, 0, "the signature stays text");
  const x = chip.querySelector('button[data-action="clear-run-set"]') as HTMLButtonElement;
  assert.equal(x.getAttribute("aria-label"), `Remove the filter failures: ${EVIL}`);
  x.click();
  assert.deepEqual(model.sent.at(-1), { kind: "clear_run_set" });
  model.set("run_set", "");
  assert.equal(chip.hidden, true);
  cleanup();
});

test("columns keep their widths on a narrow page: em widths, a least table width with room for the error", async () => {
  // with percent widths the fixed columns took more than 1222 px at 1280 px: the Error
  // column was 0 px wide, run ids read "customers_s…" and headers overlapped at 900 px
  const ems = COLUMNS.filter((c) => c.width !== "auto").map((c) => {
    assert.match(c.width, /^\d+(\.\d+)?em$/, `${c.key}: ${c.width}`);
    return parseFloat(c.width);
  });
  assert.equal(COLUMNS.filter((c) => c.width === "auto").map((c) => c.key).join(), "error");
  const room = parseFloat(TABLE_MIN_WIDTH) - ems.reduce((a, b) => a + b, 0);
  assert.ok(room >= 15, `the error line keeps ${room} em`);
  assert.ok(parseFloat(COLUMNS.find((c) => c.key === "run_id")!.width) >= 20, "a whole run id");
  const { el, model } = setup();
  const cleanup = await mount(jobsTable, model, el);
  const table = el.querySelector("table") as HTMLElement;
  assert.equal(table.style.minWidth, TABLE_MIN_WIDTH);
  assert.ok(table.parentElement!.classList.contains("fw-table-wrap"), "it scrolls sideways in its wrapper");
  // a cut id loses its head, not its tail: the id sits in an isolate inside an rtl box
  const id = el.querySelector("tbody code.fw-runid")!;
  assert.equal(id.firstElementChild!.tagName.toLowerCase(), "bdi");
  assert.equal(id.textContent, EVIL);
  cleanup();
});
