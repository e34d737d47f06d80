import assert from "node:assert/strict";
import { test } from "node:test";
import { type DagLayout, type StepState, edgePath, nameFits, nodeMeta, renderDag, restartPlan } from "../src/lib/dag";
import { EVIL, newDocument } from "./helpers";

const LAYOUT: DagLayout = {
  nodes: [
    { name: "extract", rank: 0, order: 0, x: 12, y: 40, width: 176, height: 48, cyclic: false },
    { name: EVIL, rank: 1, order: 0, x: 244, y: 12, width: 176, height: 48, cyclic: false },
    { name: "load", rank: 1, order: 1, x: 244, y: 74, width: 176, height: 48, cyclic: false },
  ],
  edges: [
    { source: "extract", target: EVIL, points: [[188, 64], [216, 64], [216, 36], [244, 36]], cyclic: false },
    { source: "extract", target: "load", points: [[188, 64], [216, 64], [216, 98], [244, 98]], cyclic: false },
  ],
  width: 432,
  height: 134,
  unknown: [],
  cycles: [],
  duplicates: [],
};

test("edgePath: a cubic Bézier for four points, straight segments otherwise", () => {
  assert.equal(edgePath([[0, 0], [10, 0], [10, 20], [20, 20]]), "M 0 0 C 10 0, 10 20, 20 20");
  assert.equal(edgePath([[0.25, 1], [5, 6]]), "M 0.3 1 L 5 6");
  assert.equal(edgePath([[1.05, -0.25], [2, 3], [4, 5]]), "M 1.1 -0.3 L 2 3 L 4 5");
  assert.equal(edgePath([]), "");
  // tests/widgets/test_layout.py asserts the same strings for flowwidgets.layout.edge_path
});

test("nodeMeta: icon, word, duration, retries; reused steps say so", () => {
  assert.equal(nodeMeta({ name: "a", status: "failed", duration_ms: 1200 }), "✗ FAILED · 1.2 s");
  // the legend's ↺ (it read "✓ REUSED" beside a legend "↺ REUSED")
  assert.equal(nodeMeta({ name: "a", status: "succeeded", reused_from: "r0" }), "↺ REUSED");
  assert.equal(nodeMeta({ name: "a", status: "running", attempts: 3 }), "● RUNNING · 3 tries");
  assert.equal(nodeMeta(undefined), "○ PENDING");
  assert.ok(nameFits(176) >= 20);
});

test("renderDag draws every node and edge, status classes, names as text only", () => {
  const { document } = newDocument();
  const steps = new Map<string, StepState>([
    ["extract", { name: "extract", status: "succeeded", duration_ms: 900 }],
    [EVIL, { name: EVIL, status: "failed" }],
    ["load", { name: "load", status: "pending" }],
  ]);
  const picked: string[] = [];
  const view = renderDag(document, LAYOUT, steps, null, { onSelect: (n) => picked.push(n) });
  document.body.appendChild(view.svg);
  const nodes = view.svg.querySelectorAll("g[data-step]");
  assert.equal(nodes.length, 3);
  assert.equal(view.svg.querySelectorAll("path.fw-edge").length, 2);
  assert.equal(view.svg.querySelectorAll("img").length, 0, "a step name must not create elements");
  assert.equal(document.querySelectorAll("img").length, 0);
  const evil = Array.from(nodes).find((n) => n.getAttribute("data-step") === EVIL)!;
  assert.ok(evil.getAttribute("class")!.includes("fw-node--failed"));
  assert.ok(evil.textContent!.includes("<img"), "shown as literal text");
  assert.match(evil.getAttribute("aria-label")!, /failed/);
  assert.ok(nodes[0]!.getAttribute("class")!.includes("fw-node--succeeded"));
  assert.ok(nodes[2]!.getAttribute("class")!.includes("fw-node--pending"));
  // edges out of a succeeded step are marked done
  assert.equal(view.svg.querySelectorAll("path.fw-edge--done").length, 2);

  // a poll restyles in place: same elements, new classes
  const before = nodes[2];
  view.restyle(new Map([["load", { name: "load", status: "running", duration_ms: 5000 }]]), "load");
  const after = view.svg.querySelector('g[data-step="load"]')!;
  assert.equal(after, before);
  assert.ok(after.getAttribute("class")!.includes("fw-node--running"));
  assert.ok(after.getAttribute("class")!.includes("fw-node--selected"));
  assert.match(after.textContent!, /RUNNING · 5\.0 s/);
  assert.equal(view.svg.querySelectorAll("path.fw-edge--done").length, 0);

  // click and keyboard select a step
  (after as unknown as HTMLElement).dispatchEvent(new (document.defaultView as unknown as typeof globalThis).MouseEvent("click", { bubbles: true }));
  const KE = (document.defaultView as unknown as typeof globalThis).KeyboardEvent;
  nodes[0]!.dispatchEvent(new KE("keydown", { key: "Enter", bubbles: true }));
  nodes[0]!.dispatchEvent(new KE("keydown", { key: "x", bubbles: true }));
  assert.deepEqual(picked, ["load", "extract"]);
  view.destroy();
  assert.equal(document.querySelector("svg"), null);
});

test("two DAGs on one page use distinct arrow markers", () => {
  const { document } = newDocument();
  const a = renderDag(document, LAYOUT, new Map(), null);
  const b = renderDag(document, LAYOUT, new Map(), null);
  const idA = a.svg.querySelector("marker")!.getAttribute("id");
  const idB = b.svg.querySelector("marker")!.getAttribute("id");
  assert.notEqual(idA, idB);
});

test("restartPlan: the step, its downstream and whatever did not succeed run again", () => {
  const steps = [
    { name: "a", status: "succeeded", depends_on: [] },
    { name: "b", status: "succeeded", depends_on: ["a"] },
    { name: "c", status: "failed", depends_on: ["a"] },
    { name: "d", status: "pending", depends_on: ["b", "c"] },
    { name: "e", status: "succeeded", depends_on: [] },
  ];
  assert.deepEqual(Object.fromEntries(restartPlan(steps, "c")), { a: "reused", b: "reused", c: "again", d: "again", e: "reused" });
  assert.deepEqual(Object.fromEntries(restartPlan(steps, "a")), { a: "again", b: "again", c: "again", d: "again", e: "reused" });
});

test("reused steps have their own class; marks show a restart plan and clear", () => {
  const { document } = newDocument();
  const layout: DagLayout = {
    nodes: [
      { name: "a", rank: 0, order: 0, x: 12, y: 12, width: 176, height: 48, cyclic: false },
      { name: "b", rank: 1, order: 0, x: 244, y: 12, width: 176, height: 48, cyclic: false },
    ],
    edges: [{ source: "a", target: "b", points: [[188, 36], [244, 36]], cyclic: false }],
    width: 440, height: 72, unknown: [], cycles: [], duplicates: [],
  };
  const steps = new Map<string, StepState>([
    ["a", { name: "a", status: "succeeded", reused_from: "r0" }],
    ["b", { name: "b", status: "failed" }],
  ]);
  const dag = renderDag(document, layout, steps, null);
  const cls = (n: string) => dag.svg.querySelector(`g[data-step="${n}"]`)!.getAttribute("class")!;
  assert.match(cls("a"), /fw-node--reused/);
  assert.doesNotMatch(cls("b"), /fw-node--reused/);
  dag.mark(new Map([["a", "reused"], ["b", "again"]]));
  assert.match(cls("a"), /fw-node--plan-reused/);
  assert.match(cls("b"), /fw-node--plan-again/);
  dag.mark(null);
  assert.doesNotMatch(cls("b"), /plan/);
});
