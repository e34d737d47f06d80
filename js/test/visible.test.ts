import assert from "node:assert/strict";
import { test } from "node:test";
import { h, setText, visible } from "../src/lib/dom";
import cards from "../src/widgets/cards";
import { BASE, FakeModel, mount, newDocument } from "./helpers";

const SPOOF = "evil\u202egnp.exe";

test("visible: control, bidi and zero-width characters become U+FFFD; breaks and tabs stay", () => {
  assert.equal(visible(SPOOF), "evil\ufffdgnp.exe");
  assert.equal(visible("a\x1b[31mb\u200fc\u2066d\u0000e"), "a\ufffd[31mb\ufffdc\ufffdd\ufffde");
  assert.equal(visible("line\nnext\ttab"), "line\nnext\ttab");
  assert.equal(visible("plain é ✓ 数据"), "plain é ✓ 数据");
});

test("text nodes, setText and readable attributes go through visible; data attributes do not", () => {
  const { document } = newDocument();
  const el = h(document, "span", { title: SPOOF, "aria-label": SPOOF, "data-run-id": SPOOF }, SPOOF);
  assert.equal(el.textContent, "evil\ufffdgnp.exe");
  assert.equal(el.getAttribute("title"), "evil\ufffdgnp.exe");
  assert.equal(el.getAttribute("aria-label"), "evil\ufffdgnp.exe");
  assert.equal(el.getAttribute("data-run-id"), SPOOF, "ids round-trip to Python unchanged");
  setText(el, `x${SPOOF}`);
  assert.equal(el.textContent, "xevil\ufffdgnp.exe");
});

test("a pipeline named with a bidi override shows it as U+FFFD on its card", async () => {
  const { el } = newDocument();
  const model = new FakeModel<Record<string, unknown>>({
    ...BASE,
    pipelines: [{ name: SPOOF, kind: "batch", recent_runs: [], schedule: null, timezone: null,
                  next_run_at: null, median_duration_ms: null, failure_rate_7d: null,
                  total_runs: 0, paused: false, streaming_stats: null }],
    selected_run_id: null,
    last_action: {},
  });
  const cleanup = await mount(cards, model, el);
  assert.ok(!el.textContent!.includes("\u202e"));
  assert.ok(el.textContent!.includes("evil\ufffdgnp.exe"));
  for (const node of el.querySelectorAll("[title], [aria-label]")) {
    assert.ok(!(node.getAttribute("title") ?? "").includes("\u202e"));
    assert.ok(!(node.getAttribute("aria-label") ?? "").includes("\u202e"));
  }
  cleanup();
});
