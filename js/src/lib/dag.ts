// The run DAG as SVG. Geometry comes from the kernel (flowwidgets.layout, computed once per
// graph shape); this module only draws it, and on a status poll only restyles the nodes.
import { s, setText, visible } from "./dom";
import { counted, formatDuration, truncate } from "./format";
import { STATUS_ICON, asStatus } from "./status";

export type Point = [number, number];

export interface LayoutNode {
  name: string;
  rank: number;
  order: number;
  x: number;
  y: number;
  width: number;
  height: number;
  cyclic: boolean;
}

export interface LayoutEdge {
  source: string;
  target: string;
  points: Point[];
  cyclic: boolean;
}

/** ``flowwidgets.layout.Layout.to_dict()``. */
export interface DagLayout {
  nodes: LayoutNode[];
  edges: LayoutEdge[];
  width: number;
  height: number;
  unknown: [string, string][];
  cycles: string[][];
  duplicates: string[];
}

/** What the DAG shows of each step (a subset of a step in the ``run`` trait). */
export interface StepState {
  name: string;
  status: string;
  duration_ms?: number | null;
  reused_from?: string | null;
  attempts?: number | null;
  /** On the run's critical path (outlined). */
  critical?: boolean;
  /** The next step on the critical path (its edge is outlined too). */
  critical_next?: string | null;
}

export interface DagOptions {
  onSelect?(step: string): void;
}

export interface DagView {
  svg: SVGSVGElement;
  /** Update node classes and labels from new step states (the geometry stays). */
  restyle(steps: ReadonlyMap<string, StepState>, selected: string | null): void;
  /** Mark what a restart would do (``again``: runs again, ``reused``: output reused);
   * null clears the marks. */
  mark(plan: ReadonlyMap<string, "again" | "reused"> | null): void;
  destroy(): void;
}

/** A step that must run (again) restarting from ``from``: it, everything downstream of it,
 * and any step that did not succeed (it has no output to reuse) with its downstream — the
 * local runner's reuse plan; the other steps' outputs are reused. */
export function restartPlan(steps: readonly { name: string; status: string; depends_on: string[] }[], from: string): Map<string, "again" | "reused"> {
  const children = new Map<string, string[]>();
  for (const st of steps) for (const d of st.depends_on) children.set(d, [...(children.get(d) ?? []), st.name]);
  const again = new Set<string>();
  const add = (name: string) => {
    const todo = [name];
    while (todo.length) {
      const n = todo.pop()!;
      if (again.has(n)) continue;
      again.add(n);
      todo.push(...(children.get(n) ?? []));
    }
  };
  add(from);
  for (const st of steps) if (asStatus(st.status) !== "succeeded") add(st.name);
  return new Map(steps.map((st) => [st.name, again.has(st.name) ? "again" : "reused"]));
}

/** SVG path data through ``points``: a cubic Bézier for 4 points, straight segments otherwise. */
export function edgePath(points: readonly Point[]): string {
  const fmt = (p: Point) => `${round(p[0])} ${round(p[1])}`;
  if (points.length === 0) return "";
  const [first, ...rest] = points as [Point, ...Point[]];
  if (rest.length === 3) {
    return `M ${fmt(first)} C ${fmt(rest[0]!)}, ${fmt(rest[1]!)}, ${fmt(rest[2]!)}`;
  }
  return `M ${fmt(first)}${rest.map((p) => ` L ${fmt(p)}`).join("")}`;
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** The second line of a node: icon, status word, duration (or "reused"). */
export function nodeMeta(step: StepState | undefined): string {
  const st = asStatus(step?.status ?? "pending");
  const word = step?.reused_from && st === "succeeded" ? "reused" : st;
  const dur = step?.duration_ms;
  const tail = dur !== null && dur !== undefined ? ` · ${formatDuration(dur)}` : "";
  const tries = step?.attempts && step.attempts > 1 ? ` · ${step.attempts} tries` : "";
  // a reused step did not run here: the legend's ↺, not the ✓ of a step that ran
  const icon = word === "reused" ? "↺" : STATUS_ICON[st];
  return `${icon} ${word.toUpperCase()}${tail}${tries}`;
}

/** Characters of a step name that fit a node of ``width`` px (monospace, ~7.2 px each). */
export function nameFits(width: number): number {
  return Math.max(4, Math.floor((width - 20) / 7.2));
}

let uid = 0;

/** Draw ``layout`` with each node styled from ``steps``. */
export function renderDag(
  doc: Document,
  layout: DagLayout,
  steps: ReadonlyMap<string, StepState>,
  selected: string | null,
  opts: DagOptions = {},
): DagView {
  uid += 1;
  const arrowId = `fw-arrow-${uid}`;
  const w = Math.max(1, layout.width);
  const hgt = Math.max(1, layout.height);
  const svg = s(doc, "svg", {
    class: "fw-dag",
    viewBox: `0 0 ${w} ${hgt}`,
    width: w,
    height: hgt,
    role: "group",
    "aria-label": `task graph, ${counted(layout.nodes.length, "step")}`,
  });
  svg.appendChild(
    s(
      doc,
      "defs",
      null,
      s(
        doc,
        "marker",
        { id: arrowId, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        s(doc, "path", { d: "M 0 0 L 10 5 L 0 10 z", class: "fw-arrow" }),
      ),
    ),
  );
  const edgeLayer = s(doc, "g", { class: "fw-edges" });
  const nodeLayer = s(doc, "g", { class: "fw-nodes" });
  svg.append(edgeLayer, nodeLayer);

  const edgesBySource = new Map<string, SVGPathElement[]>();
  for (const e of layout.edges) {
    const path = s(doc, "path", {
      class: e.cyclic ? "fw-edge fw-edge--cyclic" : "fw-edge",
      d: edgePath(e.points),
      "marker-end": `url(#${arrowId})`,
      "data-source": e.source,
      "data-target": e.target,
    });
    edgeLayer.appendChild(path);
    const list = edgesBySource.get(e.source) ?? [];
    list.push(path);
    edgesBySource.set(e.source, list);
  }

  interface NodeEls {
    g: SVGGElement;
    meta: SVGTextElement;
    title: SVGTitleElement;
  }
  const nodes = new Map<string, NodeEls>();
  for (const n of layout.nodes) {
    const title = s(doc, "title");
    const meta = s(doc, "text", { class: "fw-node-meta", x: 10, y: n.height / 2 + 13 });
    const g = s(
      doc,
      "g",
      {
        class: "fw-node",
        transform: `translate(${round(n.x)},${round(n.y)})`,
        tabindex: 0,
        role: "button",
        "data-step": n.name,
      },
      title,
      s(doc, "rect", { class: "fw-node-ring", x: -5, y: -5, width: n.width + 10, height: n.height + 10, rx: 6 }),
      s(doc, "rect", { class: "fw-node-focus", x: -4, y: -4, width: n.width + 8, height: n.height + 8, rx: 5 }),
      s(doc, "rect", { class: "fw-node-box", width: n.width, height: n.height, rx: 3 }),
      s(doc, "rect", { class: "fw-node-bar", width: 3, height: n.height, rx: 1 }),
      s(doc, "text", { class: "fw-node-name", x: 10, y: n.height / 2 - 4 }, truncate(n.name, nameFits(n.width))),
      meta,
    );
    nodeLayer.appendChild(g);
    nodes.set(n.name, { g, meta, title });
  }

  const pick = (ev: Event) => {
    const target = ev.target as Element | null;
    const g = target?.closest?.("g[data-step]");
    const name = g?.getAttribute("data-step");
    if (name === null || name === undefined) return;
    if (ev.type === "keydown") {
      const key = (ev as KeyboardEvent).key;
      if (key !== "Enter" && key !== " ") return;
      ev.preventDefault();
    }
    opts.onSelect?.(name);
  };
  svg.addEventListener("click", pick);
  svg.addEventListener("keydown", pick);

  let marks: ReadonlyMap<string, "again" | "reused"> | null = null;
  let last: [ReadonlyMap<string, StepState>, string | null] = [steps, selected];
  const restyle = (states: ReadonlyMap<string, StepState>, sel: string | null) => {
    last = [states, sel];
    for (const n of layout.nodes) {
      const els = nodes.get(n.name)!;
      const step = states.get(n.name);
      const st = asStatus(step?.status ?? "pending");
      const reused = st === "succeeded" && !!step?.reused_from;
      const planned = marks?.get(n.name);
      const crit = step?.critical ? " fw-node--critical" : "";
      const cls = `fw-node fw-node--${st}${reused ? " fw-node--reused" : ""}${n.cyclic ? " fw-node--cyclic" : ""}${sel === n.name ? " fw-node--selected" : ""}${crit}${planned ? ` fw-node--plan-${planned}` : ""}`;
      if (els.g.getAttribute("class") !== cls) els.g.setAttribute("class", cls);
      els.g.setAttribute("aria-pressed", sel === n.name ? "true" : "false");
      const meta = nodeMeta(step);
      setText(els.meta, meta);
      const label = visible(`step ${n.name}: ${meta.slice(2).toLowerCase()}`);
      if (els.g.getAttribute("aria-label") !== label) {
        els.g.setAttribute("aria-label", label);
        setText(els.title, `${n.name} — ${meta.slice(2).toLowerCase()}`);
      }
      const done = st === "succeeded";
      for (const edge of edgesBySource.get(n.name) ?? []) {
        edge.classList.toggle("fw-edge--done", done);
        edge.classList.toggle("fw-edge--critical", !!step?.critical_next && edge.getAttribute("data-target") === step.critical_next);
      }
    }
  };
  restyle(steps, selected);

  return {
    svg,
    restyle,
    mark(plan) {
      marks = plan;
      restyle(...last);
    },
    destroy() {
      svg.removeEventListener("click", pick);
      svg.removeEventListener("keydown", pick);
      svg.remove();
    },
  };
}
