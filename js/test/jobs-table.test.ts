import assert from "node:assert/strict";
import { test } from "node:test";
import jobsTable, { COLUMNS } from "../src/widgets/jobs-table";
import { BASE, EVIL, FakeModel, mount, newDocument } from "./helpers";

function rows() {
  return [
    { run_id: "r2", pipeline: "orders_daily", status: "failed", started_at: "2026-11-22T08:00:00.000Z", finished_at: "2026-11-22T08:01:00.000Z", attempts: 3, duration_ms: 60_000, failed_step: EVIL },
    { run_id: "r1", pipeline: "orders_daily", status: "succeeded", started_at: "2026-11-22T07:00:00.000Z", finished_at: "2026-11-22T07:00:02.000Z", attempts: 1, duration_ms: 2000, failed_step: null },
    { run_id: "r0", pipeline: "clicks", status: "running", started_at: "2026-11-22T06:00:00.000Z", finished_at: null, attempts: null, duration_ms: null, failed_step: null },
  ];
}

function setup() {
  const { document, el, window } = newDocument();
  const model = new FakeModel<Record<string, unknown>>({
    ...BASE,
    pipeline: null,
    status: null,
    last: null,
    since: null,
    until: null,
    search: "",
    sort_by: "started_at",
    ascending: false,
    page: 0,
    page_size: 3,
    total: 7,
    _rows: rows(),
    _options: { pipelines: ["clicks", "orders_daily"], statuses: ["running", "succeeded", "failed"] },
    selected_run_id: null,
    loading: false,
    last_action: {},
  });
  return { document, el, window, model };
}

test("columns, pills, failed step as text, pager summary", async () => {
  const { el, model, document } = setup();
  const cleanup = await mount(jobsTable, model, el);
  const ths = Array.from(el.querySelectorAll("thead th")).map((t) => t.textContent!.replace(/[ ▲▼]+$/, ""));
  assert.deepEqual(ths, COLUMNS.map((c) => c.label));
  const trs = el.querySelectorAll("tbody tr");
  assert.equal(trs.length, 3);
  assert.ok(trs[0]!.querySelector(".fw-pill--failed"));
  assert.match(trs[0]!.textContent!, /✗failed/);
  assert.ok(trs[2]!.querySelector(".fw-pill--running"));
  assert.equal(document.querySelectorAll("img").length, 0, "the failed step name creates no element");
  assert.ok(trs[0]!.textContent!.includes(EVIL));
  assert.match(trs[0]!.textContent!, /2026-11-22 08:00:00/);
  assert.match(trs[0]!.textContent!, /1m 00s/);
  assert.match(el.querySelector(".fw-count")!.textContent!, /1–3 of 7 runs$/);
  model.update({ loading: true });
  assert.match(el.querySelector(".fw-count")!.textContent!, /1–3 of 7 runs · loading history…/);
  model.update({ loading: false });
  assert.match(el.textContent!, /Page 1 of 3/);
  assert.equal(el.querySelector("th[aria-sort=descending]")!.textContent, "Started (UTC) ▼");
  cleanup();
  assert.equal(model.listenerCount(), 0);
});

test("sorting, filters and paging set the kernel's traits", async () => {
  const { el, model } = setup();
  const cleanup = await mount(jobsTable, model, el);
  const sortBy = (label: string) =>
    Array.from(el.querySelectorAll("button.fw-sort")).find((b) => b.textContent!.startsWith(label)) as HTMLButtonElement;
  sortBy("Duration").click();
  assert.equal(model.get("sort_by"), "duration_ms");
  assert.equal(model.get("ascending"), false);
  sortBy("Duration").click();
  assert.equal(model.get("ascending"), true);
  assert.equal(el.querySelector("th[aria-sort=ascending]")!.textContent, "Duration ▲");

  const [pipelineSel, statusSel, windowSel] = Array.from(el.querySelectorAll("select")) as HTMLSelectElement[];
  assert.deepEqual(Array.from(pipelineSel!.options).map((o) => o.value), ["", "clicks", "orders_daily"]);
  pipelineSel!.value = "clicks";
  pipelineSel!.dispatchEvent(new (el.ownerDocument.defaultView as unknown as typeof globalThis).Event("change"));
  assert.equal(model.get("pipeline"), "clicks");
  statusSel!.value = "failed";
  statusSel!.dispatchEvent(new (el.ownerDocument.defaultView as unknown as typeof globalThis).Event("change"));
  assert.equal(model.get("status"), "failed");
  windowSel!.value = "24h";
  windowSel!.dispatchEvent(new (el.ownerDocument.defaultView as unknown as typeof globalThis).Event("change"));
  assert.equal(model.get("last"), "24h");

  model.update({ page: 0 });
  const next = el.querySelector('button[aria-label="Next page"]') as HTMLButtonElement;
  const prev = el.querySelector('button[aria-label="Previous page"]') as HTMLButtonElement;
  assert.equal(prev.disabled, true);
  next.click();
  assert.equal(model.get("page"), 1);
  model.update({ page: 2 });
  assert.equal(next.disabled, true);
  cleanup();
});

test("search is debounced into the search trait", async () => {
  const { el, model } = setup();
  const cleanup = await mount(jobsTable, model, el);
  const input = el.querySelector("input[type=search]") as HTMLInputElement;
  input.value = "merge";
  input.dispatchEvent(new (el.ownerDocument.defaultView as unknown as typeof globalThis).Event("input"));
  assert.equal(model.get("search"), "");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(model.get("search"), "merge");
  assert.equal(model.get("page"), 0);
  cleanup();
});

test("rows: one tab stop, arrows/Home/End move, click, Enter and Space open", async () => {
  const { el, model } = setup();
  const cleanup = await mount(jobsTable, model, el);
  const w = el.ownerDocument.defaultView as unknown as typeof globalThis;
  const stops = () => (Array.from(el.querySelectorAll("tbody tr")) as HTMLElement[]).map((t) => t.getAttribute("tabindex"));
  const trs = Array.from(el.querySelectorAll("tbody tr")) as HTMLElement[];
  assert.deepEqual(stops(), ["0", "-1", "-1"], "Tab reaches the table once, on the first row");
  trs[1]!.click();
  assert.equal(model.get("selected_run_id"), "r1");
  assert.deepEqual(model.sent.at(-1), { run_id: "r1", pipeline: "orders_daily", kind: "select" });
  const now = Array.from(el.querySelectorAll("tbody tr")) as HTMLElement[];
  assert.equal(now[1]!.getAttribute("aria-current"), "true");
  assert.equal(now[0]!.getAttribute("aria-current"), null);
  assert.deepEqual(stops(), ["-1", "0", "-1"], "the picked row is the tab stop");
  now[1]!.focus();
  now[1]!.dispatchEvent(new w.KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
  assert.equal(el.ownerDocument.activeElement, now[2]);
  assert.deepEqual(stops(), ["-1", "-1", "0"], "the stop follows the focus");
  now[2]!.dispatchEvent(new w.KeyboardEvent("keydown", { key: "Home", bubbles: true }));
  assert.equal(el.ownerDocument.activeElement, now[0]);
  now[0]!.dispatchEvent(new w.KeyboardEvent("keydown", { key: "End", bubbles: true }));
  assert.equal(el.ownerDocument.activeElement, now[2]);
  now[2]!.dispatchEvent(new w.KeyboardEvent("keydown", { key: "ArrowUp", bubbles: true }));
  assert.equal(el.ownerDocument.activeElement, now[1]);
  now[1]!.dispatchEvent(new w.KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
  assert.equal(model.sent.at(-1)!.kind, "select");
  const space = new w.KeyboardEvent("keydown", { key: " ", bubbles: true, cancelable: true });
  (el.ownerDocument.activeElement as HTMLElement).dispatchEvent(space);
  assert.ok(space.defaultPrevented, "Space opens the row instead of scrolling");
  assert.equal(model.sent.length, 3);
  // a live update rebuilds the rows: the keyboard stays on its run
  const last = Array.from(el.querySelectorAll("tbody tr")).at(-1) as HTMLElement;
  last.focus();
  model.update({ _rows: (model.get("_rows") as unknown[]).map((r) => ({ ...(r as object) })) });
  assert.equal((el.ownerDocument.activeElement as HTMLElement).dataset.runId, last.dataset.runId);
  assert.notEqual(el.ownerDocument.activeElement, last, "a new element, the same row");
  assert.equal((el.ownerDocument.activeElement as HTMLElement).getAttribute("tabindex"), "0");
  model.update({ _rows: [], total: 0 });
  assert.match(el.textContent!, /No runs match/);
  cleanup();
});

test("started: relative within a day with the absolute time on hover; the header names the zone", async () => {
  const { el, model } = setup();
  const recent = new Date(Date.now() - 3 * 60_000 - 10_000).toISOString();
  const rs = rows();
  rs[0]!.started_at = recent;
  model.update({ _rows: rs });
  const cleanup = await mount(jobsTable, model, el);
  const cell = el.querySelector("tbody tr time") as HTMLElement;
  assert.equal(cell.textContent, "3 min ago");
  assert.match(cell.title, / UTC$/);
  assert.match(el.querySelector("thead")!.textContent!, /Started \(UTC\)/);
  model.update({ time_zone: "local" });
  assert.match(el.querySelector("thead")!.textContent!, /Started \(local\).*Finished \(local\)/);
  assert.equal((el.querySelector("tbody tr time") as HTMLElement).textContent, "3 min ago");
  cleanup();
});
