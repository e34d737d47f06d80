import assert from "node:assert/strict";
import { test } from "node:test";
import cards from "../src/widgets/cards";
import { BASE, EVIL, FakeModel, flush, mount, newDocument } from "./helpers";

const run = (id: string, status: string, duration_ms: number | null = 60_000) => ({
  run_id: id,
  status,
  started_at: "2026-11-22T08:00:00.000Z",
  finished_at: null,
  duration_ms,
});

function pipelines() {
  return [
    {
      name: "orders_daily",
      kind: "batch",
      schedule: "30 2 * * *",
      timezone: "UTC",
      next_run_at: "2026-11-23T02:30:00.000Z",
      recent_runs: [run("r1", "succeeded"), run("r2", "failed", 10_000), run("r3", "running", null)],
      median_duration_ms: 60_000,
      failure_rate_7d: 0.33,
      total_runs: 3,
      paused: false,
      streaming_stats: null,
    },
    {
      name: EVIL,
      kind: "streaming",
      schedule: null,
      timezone: null,
      next_run_at: null,
      recent_runs: [run(EVIL, "succeeded")],
      median_duration_ms: null,
      failure_rate_7d: null,
      total_runs: null,
      paused: false,
      streaming_stats: { stats_1m: { rows_consumed_per_sec: 412 } },
    },
  ];
}

function setup() {
  const { document, el, window } = newDocument();
  const model = new FakeModel<Record<string, unknown>>({
    ...BASE,
    pipelines: pipelines(),
    selected_run_id: null,
    last_action: {},
  });
  return { document, el, window, model };
}

test("a card per pipeline: strip oldest→newest, padding dashed, status classes and icons", async () => {
  const { el, model } = setup();
  const cleanup = await mount(cards, model, el);
  const cardEls = el.querySelectorAll("article.fw-card");
  assert.equal(cardEls.length, 2);
  const first = cardEls[0]!;
  const squares = first.querySelectorAll(".fw-sq");
  assert.equal(squares.length, 10);
  assert.equal(first.querySelectorAll(".fw-sq--empty").length, 7);
  const real = Array.from(first.querySelectorAll("button.fw-sq"));
  assert.deepEqual(real.map((b) => b.getAttribute("data-run-id")), ["r1", "r2", "r3"]);
  assert.ok(real[0]!.className.includes("fw-sq--succeeded"));
  assert.ok(real[1]!.className.includes("fw-sq--failed"));
  assert.ok(real[2]!.className.includes("fw-sq--running"));
  assert.deepEqual(real.map((b) => b.textContent), ["✓", "✗", "●"], "status never by colour alone");
  assert.match(real[1]!.getAttribute("title")!, /failed · run r2 · started 2026-11-22 08:00:00 UTC · duration 10\.0 s/);
  // the failed run was shorter: a lower square
  assert.ok(parseInt((real[1] as HTMLElement).style.height) < parseInt((real[0] as HTMLElement).style.height));
  assert.match(first.textContent!, /Next2026-11-23 02:30 UTC/);
  assert.match(first.textContent!, /Median 1m 00s/);
  assert.match(first.textContent!, /7d fail 33%/);
  assert.ok(first.className.includes("fw-card--running"));
  assert.equal(first.querySelector(".fw-strip")!.getAttribute("aria-label"), "last 3 runs of orders_daily, oldest first");
  assert.equal(cardEls[1]!.querySelector(".fw-strip")!.getAttribute("aria-label"), `last 1 run of ${EVIL}, oldest first`);
  cleanup();
  assert.equal(model.listenerCount(), 0, "cleanup removes every listener");
});

test("streaming cards say LIVE STREAMING with throughput; names are text, not markup", async () => {
  const { el, model, document } = setup();
  const cleanup = await mount(cards, model, el);
  const stream = el.querySelectorAll("article.fw-card")[1]!;
  assert.match(stream.textContent!, /LIVE STREAMING/);
  assert.match(stream.textContent!, /412 rows\/s/);
  assert.equal(document.querySelectorAll("img").length, 0);
  assert.ok(stream.querySelector(".fw-card-name")!.textContent === EVIL);
  // no rate over the last minute yet: the running total instead
  const ps = pipelines();
  ps[1]!.streaming_stats = { rows_consumed_total: 2625, stats_1m: { rows_consumed_per_sec: null } } as never;
  model.update({ pipelines: ps });
  assert.match(el.querySelectorAll("article.fw-card")[1]!.textContent!, /2,625 rows so far/);
  cleanup();
});

test("clicking a square selects the run (trait + message); all jobs and run now send messages", async () => {
  const { el, model } = setup();
  const cleanup = await mount(cards, model, el);
  const sq = el.querySelector('button[data-run-id="r2"]') as HTMLButtonElement;
  sq.click();
  assert.equal(model.get("selected_run_id"), "r2");
  assert.ok(model.saves >= 1);
  assert.deepEqual(model.sent.at(-1), { run_id: "r2", pipeline: "orders_daily", kind: "select" });
  assert.ok((el.querySelector('button[data-run-id="r2"]') as HTMLElement).className.includes("fw-sq--selected"));

  (el.querySelector(".fw-link") as HTMLButtonElement).click();
  assert.deepEqual(model.sent.at(-1), { pipeline: "orders_daily", kind: "show_jobs" });

  const runNow = Array.from(el.querySelectorAll("button")).find((b) => b.textContent === "▶ Run now")!;
  runNow.click();
  const msg = model.sent.at(-1)!;
  assert.equal(msg.kind, "run_now");
  assert.equal(msg.pipeline, "orders_daily");
  assert.equal(runNow.disabled, true);
  model.emitCustom({ kind: "run_now", id: msg.id, response: { new_run_id: "r4" } });
  await flush();
  assert.equal(runNow.disabled, false);
  assert.match(el.querySelector(".fw-notice")!.textContent!, /Started orders_daily: run r4/);

  runNow.click();
  const msg2 = model.sent.at(-1)!;
  model.emitCustom({ kind: "run_now", id: msg2.id, error: "pipeline orders_daily is paused" });
  await flush();
  assert.match(el.querySelector(".fw-notice")!.textContent!, /failed: pipeline orders_daily is paused/);
  assert.ok(el.querySelector(".fw-notice")!.className.includes("fw-notice--error"));
  cleanup();
});

test("a poll that changes nothing keeps the same card elements", async () => {
  const { el, model } = setup();
  const cleanup = await mount(cards, model, el);
  const before = el.querySelector("article.fw-card");
  model.update({ pipelines: pipelines() });
  assert.equal(el.querySelector("article.fw-card"), before);
  const changed = pipelines();
  changed[0]!.recent_runs[2]!.status = "succeeded";
  model.update({ pipelines: changed });
  assert.notEqual(el.querySelector("article.fw-card"), before);
  assert.equal(el.querySelectorAll(".fw-sq--running").length, 0);
  model.update({ pipelines: [] });
  assert.match(el.textContent!, /No pipelines yet/);
  cleanup();
});

test("offline banner and error panel follow the base traits", async () => {
  const { el, model } = setup();
  const cleanup = await mount(cards, model, el);
  const banner = el.querySelector(".fw-banner") as HTMLElement;
  assert.equal(banner.hidden, true);
  assert.equal((el.querySelector(".fw-root") as HTMLElement).dataset.ready, "1");
  model.update({ connected: false, connection_error: `no runner reachable at http://127.0.0.1:9: ${EVIL}` });
  assert.equal(banner.hidden, false);
  assert.match(banner.textContent!, /No runner attached — no runner reachable at http:\/\/127\.0\.0\.1:9/);
  assert.equal(el.querySelectorAll("img").length, 0);
  model.update({ connected: true, connection_error: "" });
  assert.equal(banner.hidden, true);

  const errorBox = el.querySelector(".fw-error") as HTMLElement;
  assert.equal(errorBox.hidden, true);
  model.update({ error: "SchemaError: /api/pipelines: field 'name' missing" });
  assert.equal(errorBox.hidden, false);
  (errorBox.querySelector("button") as HTMLButtonElement).click();
  assert.equal(model.get("error"), "");
  assert.equal(errorBox.hidden, true);
  model.update({ theme: "light" });
  assert.ok((el.querySelector(".fw-root") as HTMLElement).classList.contains("fw-theme-light"));
  cleanup();
});

test("next run: relative text ('in 57 min'), the absolute time on hover, in the chosen zone", async () => {
  const { el, model } = setup();
  const soon = new Date(Date.now() + 57 * 60_000 + 30_000).toISOString();
  const ps = pipelines();
  ps[0]!.next_run_at = soon;
  model.update({ pipelines: ps });
  const cleanup = await mount(cards, model, el);
  const next = () => el.querySelector(".fw-card .fw-next time") as HTMLElement;
  assert.equal(next().textContent, "in 57 min");
  assert.match(next().title, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  assert.equal(next().getAttribute("datetime"), soon);
  model.update({ time_zone: "local" });
  assert.equal(next().textContent, "in 57 min");
  const d = new Date(soon);
  assert.ok(next().title.includes(` ${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}:`), next().title);
  cleanup();
});
