// A run's timeline as SVG: one row per step (DAG order), a bar per attempt on a shared time
// axis, the wait before a step hatched, reused steps as a marker, running bars growing to
// "now", pending steps dashed where the ETA expects them, the critical path outlined.
// The data is flowwidgets.widgets._run_timing.timing_payload (epoch ms); the static twin is
// its timeline_svg, with the same geometry constants.
import { s } from "./dom";
import { formatDuration, truncate } from "./format";
import { STATUS_ICON, asStatus } from "./status";
import { type TimeZoneChoice, formatAt } from "./when";

export const ROW_HEIGHT = 20;
export const LABEL_WIDTH = 170;
export const AXIS_HEIGHT = 22;
const BAR = 12;

export interface TimelineSegment {
  attempt: number;
  status: string;
  start: number;
  end: number | null;
}

export interface TimelineStep {
  name: string;
  status: string;
  critical: boolean;
  wait_ms: number | null;
  slack_ms: number | null;
  reused_from: string | null;
  ready_at: number | null;
  segments: TimelineSegment[];
}

/** ``_timing`` trait of RunView. */
export interface RunTiming {
  run_id: string;
  start: number | null;
  end: number | null;
  critical_path: string[];
  critical_ms: number | null;
  critical_share: number | null;
  untimed: string[];
  steps: TimelineStep[];
  now: number;
  planned: Record<string, [number | null, number | null]>;
  eta_text: string;
}

export interface TimelineOptions {
  /** Total width in px (labels included). */
  width: number;
  /** The visible window [t0, t1] (epoch ms); null: the whole run. */
  zoom?: [number, number] | null;
  onSelect?(step: string): void;
  onZoom?(window: [number, number]): void;
  /** The zone of the absolute times in the hover titles (default UTC). */
  zone?: TimeZoneChoice;
}

/** "+0:12", "+1:02:03" (tenths "+0:00.2" when ``stepMs`` is under a second, hundredths
 * "+0:00.04" under 0.1 s): ``ms`` after the run's start. The Python twin is ``_rel`` in
 * flowwidgets/widgets/_run_timing.py. */
export function relLabel(ms: number, stepMs = 1000): string {
  if (stepMs < 100 && ms < 60_000) return `+0:${(ms / 1000).toFixed(2).padStart(5, "0")}`;
  if (stepMs < 1000 && ms < 60_000) return `+0:${(ms / 1000).toFixed(1).padStart(4, "0")}`;
  const sec = Math.round(ms / 1000);
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const r = sec % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0");
  return `+${h ? `${h}:` : ""}${mm}:${String(r).padStart(2, "0")}`;
}

/** The round tick steps (ms) of the time axes; the Python twin is ``TICK_STEPS`` in
 * flowwidgets/widgets/_run_timing.py (checked equal by tests/timing). */
export const TICK_STEPS = [10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 216e5, 432e5, 864e5];

/** A tick step (ms) giving about ``target`` ticks over ``span`` ms, on round values. */
export function tickStep(span: number, target = 6): number {
  const want = span / Math.max(1, target);
  return TICK_STEPS.find((x) => x >= want) ?? TICK_STEPS[TICK_STEPS.length - 1]!;
}

/** The time range the run covers, ``now`` included while it runs. */
export function timeExtent(t: RunTiming, now: number): [number, number] {
  const times: number[] = [];
  if (t.start !== null) times.push(t.start);
  for (const st of t.steps) {
    if (st.ready_at !== null) times.push(st.ready_at);
    for (const g of st.segments) {
      times.push(g.start);
      if (g.end !== null) times.push(g.end);
    }
  }
  for (const st of t.steps) for (const v of plannedAt(t, st.name, now) ?? []) if (v !== null) times.push(v);
  if (t.end !== null) times.push(t.end);
  else if (times.length) times.push(now);
  if (!times.length) return [now, now + 1000];
  const t0 = Math.min(...times);
  return [t0, Math.max(t0 + 1, ...times)];
}

/** Where a pending step is expected, moved on by the time passed since the kernel's
 * estimate (the steps it waits for have not finished meanwhile). */
export function plannedAt(t: RunTiming, step: string, now: number): [number | null, number | null] | null {
  const slot = t.planned?.[step];
  if (!slot) return null;
  const late = t.end === null ? Math.max(0, now - (t.now ?? now)) : 0;
  return [slot[0] === null ? null : slot[0] + late, slot[1] === null ? null : slot[1] + late];
}

/** "Critical path: a → b → c · 1.1 s · 100 % of the run", or why there is none. */
export function criticalLine(t: RunTiming): string {
  if (!t.critical_path?.length) return t.untimed?.length ? "Critical path: the runner gave no step times" : "";
  const share = t.critical_share !== null ? ` · ${Math.round(t.critical_share * 100)} % of the run` : "";
  return `${t.end === null ? "Critical path so far" : "Critical path"}: ${t.critical_path.join(" → ")} · ${formatDuration(t.critical_ms)}${share}`;
}

/** The tooltip of one attempt's bar. */
export function barTitle(step: TimelineStep, g: TimelineSegment, now: number, zone: TimeZoneChoice = "UTC"): string {
  const end = g.end ?? now;
  const st = asStatus(g.status);
  const what = g.end === null ? `${st} for ${formatDuration(end - g.start)}` : `${st} · ${formatDuration(end - g.start)}`;
  const slack = step.critical
    ? " · on the critical path"
    : step.slack_ms !== null
      ? ` · could take ${formatDuration(step.slack_ms)} longer without delaying the run`
      : "";
  return `${step.name} · attempt ${g.attempt} · ${what}${slack} · ${formatAt(g.start, zone, { date: "none", clock: "hmsms" })}`;
}

/** Draw the timeline: an axis SVG and a rows SVG (the rows scroll, the axis stays). */
export function renderTimeline(doc: Document, t: RunTiming, now: number, opts: TimelineOptions): { axis: SVGSVGElement; rows: SVGSVGElement } {
  const [f0, f1] = timeExtent(t, now);
  const [t0, t1] = opts.zoom ?? [f0, f1];
  const span = Math.max(1, t1 - t0);
  const plot = Math.max(80, opts.width - LABEL_WIDTH - 12);
  const x = (v: number) => LABEL_WIDTH + ((v - t0) / span) * plot;
  const width = LABEL_WIDTH + plot + 12;
  const runStart = t.start ?? f0;

  const axis = s(doc, "svg", { class: "fw-tl-axis", width, height: AXIS_HEIGHT, viewBox: `0 0 ${width} ${AXIS_HEIGHT}`, "aria-hidden": "true" });
  const stepMs = tickStep(span);
  const first = Math.ceil((t0 - runStart) / stepMs) * stepMs + runStart;
  const tickXs: number[] = [];
  for (let v = first; v <= t1 + 1e-6; v += stepMs) {
    const xv = x(v);
    tickXs.push(xv);
    axis.append(
      s(doc, "text", { class: "fw-tl-tick", x: xv.toFixed(1), y: 14, "text-anchor": "middle" },
        s(doc, "title", null, formatAt(v, opts.zone ?? "UTC", { clock: "hmsms" })),
        relLabel(v - runStart, stepMs)),
    );
  }

  const height = Math.max(1, t.steps.length) * ROW_HEIGHT + 4;
  const rows = s(doc, "svg", { class: "fw-tl-rows", width, height, viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": `run timeline, ${t.steps.length} steps` });
  const clipId = `fw-tl-clip-${Math.random().toString(36).slice(2, 8)}`;
  const hatchId = `${clipId}-hatch`;
  rows.append(
    s(doc, "defs", null,
      s(doc, "clipPath", { id: clipId }, s(doc, "rect", { x: LABEL_WIDTH, y: 0, width: plot + 2, height })),
      s(doc, "pattern", { id: hatchId, width: 4, height: 4, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
        s(doc, "rect", { class: "fw-tl-hatch", width: 2, height: 4 }))),
  );
  const grid = s(doc, "g", { class: "fw-tl-grid" });
  for (const xv of tickXs) grid.append(s(doc, "line", { x1: xv.toFixed(1), x2: xv.toFixed(1), y1: 0, y2: height }));
  rows.append(grid);
  const bars = s(doc, "g", { "clip-path": `url(#${clipId})` });
  const labels = s(doc, "g", { class: "fw-tl-labels" });
  t.steps.forEach((st, i) => {
    const y = i * ROW_HEIGHT;
    const yb = y + (ROW_HEIGHT - BAR) / 2;
    const row = s(doc, "g", { class: `fw-tl-row${st.critical ? " fw-tl-row--critical" : ""}`, "data-step": st.name });
    labels.append(
      s(doc, "text", { class: `fw-tl-label${st.critical ? " fw-tl-label--critical" : ""}`, x: 4, y: y + 14, "data-step": st.name, tabindex: 0, role: "button" },
        s(doc, "title", null, st.name), truncate(st.name, 22)),
    );
    if (st.reused_from) {
      row.append(
        s(doc, "g", { class: "fw-tl-reused" },
          s(doc, "line", { x1: x(runStart).toFixed(1), x2: x(runStart).toFixed(1), y1: yb, y2: yb + BAR }),
          s(doc, "text", { x: (x(runStart) + 5).toFixed(1), y: y + 14 }, `↺ reused from run ${st.reused_from}`),
          s(doc, "title", null, `${st.name}: reused from run ${st.reused_from} (it did not run here)`)),
      );
    }
    const firstStart = st.segments[0]?.start ?? null;
    if (st.wait_ms && st.ready_at !== null && firstStart !== null) {
      const x0 = x(st.ready_at);
      row.append(
        s(doc, "rect", { class: "fw-tl-wait", x: x0.toFixed(1), y: yb, width: Math.max(1, x(firstStart) - x0).toFixed(1), height: BAR, fill: `url(#${hatchId})` },
          s(doc, "title", null, `${st.name} was ready (its dependencies done) but started ${formatDuration(st.wait_ms)} later`)),
      );
    }
    for (const g of st.segments) {
      const end = g.end ?? Math.max(now, g.start);
      const x0 = x(g.start);
      const gst = asStatus(g.status === "succeeded" || g.end !== null ? g.status : "running");
      row.append(
        s(doc, "rect", { class: `fw-tl-bar fw-tl-bar--${gst}${st.critical ? " fw-tl-bar--critical" : ""}`, x: x0.toFixed(1), y: yb, width: Math.max(2, x(end) - x0).toFixed(1), height: BAR, rx: 2, "data-attempt": g.attempt },
          s(doc, "title", null, barTitle(st, g, now, opts.zone ?? "UTC"))),
      );
    }
    if (t.end !== null && !st.segments.length && !st.reused_from) {
      // a finished run's step that never ran (after a failure or a cancel): say so — it was
      // an empty row with nothing to explain it
      const stp = asStatus(st.status);
      row.append(
        s(doc, "g", { class: "fw-tl-notrun" },
          s(doc, "text", { x: (x(runStart) + 5).toFixed(1), y: y + 14 }, `${STATUS_ICON[stp]} ${stp}: did not run`)),
      );
    }
    const slot = plannedAt(t, st.name, now);
    if (!st.segments.length && !st.reused_from && slot && slot[0] !== null && slot[1] !== null) {
      const x0 = x(slot[0]);
      row.append(
        s(doc, "rect", { class: "fw-tl-bar fw-tl-bar--planned", x: x0.toFixed(1), y: yb, width: Math.max(2, x(slot[1]) - x0).toFixed(1), height: BAR, rx: 2 },
          s(doc, "title", null, `${st.name}: expected to run ${formatDuration(slot[1] - slot[0])} (median of past runs)`)),
      );
    }
    bars.append(row);
  });
  rows.append(bars, labels);
  if (t.end === null) {
    const xn = x(now);
    rows.append(s(doc, "line", { class: "fw-tl-now", x1: xn.toFixed(1), x2: xn.toFixed(1), y1: 0, y2: height }));
  }

  // click a row: select the step; drag across the plot: zoom to the selection
  const sel = s(doc, "rect", { class: "fw-tl-selection", x: 0, y: 0, width: 0, height, visibility: "hidden" });
  rows.append(sel);
  let dragFrom: number | null = null;
  let zoomed = false; // the click that ends a drag is not a step pick
  const px = (ev: MouseEvent) => {
    const r = rows.getBoundingClientRect();
    return Math.min(LABEL_WIDTH + plot, Math.max(LABEL_WIDTH, ev.clientX - r.left));
  };
  rows.addEventListener("mousedown", (ev) => {
    if (ev.button !== 0 || ev.clientX - rows.getBoundingClientRect().left < LABEL_WIDTH) return;
    dragFrom = px(ev);
  });
  rows.addEventListener("mousemove", (ev) => {
    if (dragFrom === null) return;
    const a = Math.min(dragFrom, px(ev));
    sel.setAttribute("x", a.toFixed(1));
    sel.setAttribute("width", Math.abs(px(ev) - dragFrom).toFixed(1));
    sel.setAttribute("visibility", "visible");
  });
  rows.addEventListener("mouseup", (ev) => {
    if (dragFrom === null) return;
    const a = Math.min(dragFrom, px(ev));
    const b = Math.max(dragFrom, px(ev));
    dragFrom = null;
    sel.setAttribute("visibility", "hidden");
    if (b - a >= 6) {
      zoomed = true;
      opts.onZoom?.([t0 + ((a - LABEL_WIDTH) / plot) * span, t0 + ((b - LABEL_WIDTH) / plot) * span]);
    }
  });
  const pick = (ev: Event) => {
    if (zoomed) {
      zoomed = false;
      return;
    }
    const el = (ev.target as Element | null)?.closest?.("[data-step]");
    const name = el?.getAttribute("data-step");
    if (!name) return;
    if (ev.type === "keydown") {
      const key = (ev as KeyboardEvent).key;
      if (key !== "Enter" && key !== " ") return;
      ev.preventDefault();
    }
    opts.onSelect?.(name);
  };
  rows.addEventListener("click", pick);
  rows.addEventListener("keydown", pick);
  return { axis, rows };
}
