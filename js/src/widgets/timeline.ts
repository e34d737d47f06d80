// Timeline: every pipeline on one time axis. The kernel sends bounded marks
// (flowwidgets.fleet.fleet_marks): per pipeline, bars [start, end, status, run_id, count]
// (count > 1: runs merged per bucket) and ghost bars of the scheduled future. This view
// draws them, grows running bars to "now", pans / zooms by setting the window traits, and
// a click on a bar selects its run. Twin of flowwidgets/widgets/_timeline.py.
import type { RenderProps } from "@anywidget/types";
import { h, replaceChildren, s } from "../lib/dom";
import { counted, formatDuration, truncate } from "../lib/format";
import { type BaseModel, mountView } from "../lib/shell";
import { STATUS_ICON, asStatus } from "../lib/status";
import { type TimeZoneChoice, asZone, formatAt, zoneName, zoneTicks } from "../lib/when";
import "../lib/theme.css";
import "./timeline.css";

export type Mark = [number, number, string, string, number];

export interface FleetRow {
  pipeline: string;
  marks: Mark[];
  ghosts: [number, number][];
}

/** ``_marks`` trait. */
export interface FleetMarks {
  t0: number;
  t1: number;
  now: number;
  width: number;
  bucket_ms: number;
  runs: number;
  merged: number;
  marks: number;
  rows: FleetRow[];
  window: string;
  live: boolean;
}

/** Traits of flowwidgets.Timeline. */
export interface TimelineModel extends BaseModel {
  window: string;
  window_end: number | null;
  width: number;
  _marks: FleetMarks | Record<string, never>;
  selected_run_id: string | null;
}

export const WINDOWS = ["1h", "6h", "24h", "7d", "30d"];
const WINDOW_MS: Record<string, number> = { "1h": 36e5, "6h": 216e5, "24h": 864e5, "7d": 6048e5, "30d": 2592e6 };
export const LABEL_W = 150;
export const ROW_H = 22;

/** The window one step wider (``dir`` 1) or narrower (-1), kept within 1 h – 30 d. */
export function zoomWindow(current: string, dir: 1 | -1): string {
  const i = WINDOWS.indexOf(current);
  const at = i < 0 ? 2 : i;
  return WINDOWS[Math.min(WINDOWS.length - 1, Math.max(0, at + dir))]!;
}

/** Milliseconds of a window word ("24h"), for the presets and any "<n>h" / "<n>d". */
export function windowMs(w: string): number {
  if (WINDOW_MS[w]) return WINDOW_MS[w]!;
  const n = Number.parseFloat(w);
  const unit = w.trim().slice(-1);
  return n * (unit === "d" ? 864e5 : unit === "m" ? 6e4 : 36e5);
}

/** Axis ticks: ~7 round times between t0 and t1 on the zone's wall clock, labelled HH:MM
 * (or MM-DD HH:MM) in that zone. */
export function axisTicks(t0: number, t1: number, zone: TimeZoneChoice = "UTC"): { at: number; label: string }[] {
  const span = t1 - t0;
  const steps = [6e4, 3e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5, 1728e5, 4320e5, 6048e5];
  const step = steps.find((x) => span / x <= 8) ?? 6048e5;
  return zoneTicks(t0, t1, step, zone).map((v) => ({
    at: v, label: formatAt(v, zone, { date: span > 2 * 864e5 ? "short" : "none", clock: "hm", withZone: false }) }));
}

/** The tooltip of a bar. */
export function markTitle(pipeline: string, m: Mark, now: number, zone: TimeZoneChoice = "UTC"): string {
  const [start, end, status, runId, count] = m;
  const st = asStatus(status);
  if (count > 1) return `${pipeline}: ${count} runs merged (worst: ${st}) from ${formatAt(start, zone, { clock: "hm" })} — click opens run ${runId}`;
  const running = st === "running";
  const dur = formatDuration((running ? Math.max(end, now) : end) - start);
  return `${pipeline}: run ${runId} · ${STATUS_ICON[st]} ${st} · ${dur}${running ? " so far" : ""} · ${formatAt(start, zone)}`;
}

/** Draw the marks as one SVG (axis on top, a row per pipeline). */
export function renderFleet(doc: Document, m: FleetMarks, now: number, plotW: number, onSelect: (runId: string) => void, zone: TimeZoneChoice = "UTC"): SVGSVGElement {
  const span = Math.max(1, m.t1 - m.t0);
  const x = (v: number) => LABEL_W + ((Math.min(Math.max(v, m.t0), m.t1) - m.t0) / span) * plotW;
  const height = 20 + m.rows.length * ROW_H + 4;
  const width = LABEL_W + plotW + 8;
  const svg = s(doc, "svg", { class: "fw-fl", width, height, viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": `pipelines timeline, ${counted(m.rows.length, "pipeline")}` });
  for (const t of axisTicks(m.t0, m.t1, zone)) {
    svg.append(
      s(doc, "line", { class: "fw-fl-grid", x1: x(t.at).toFixed(1), x2: x(t.at).toFixed(1), y1: 16, y2: height }),
      s(doc, "text", { class: "fw-fl-tick", x: x(t.at).toFixed(1), y: 12, "text-anchor": "middle" }, s(doc, "title", null, formatAt(t.at, zone)), t.label),
    );
  }
  m.rows.forEach((row, i) => {
    const y = 20 + i * ROW_H;
    const g = s(doc, "g", { class: "fw-fl-row", "data-pipeline": row.pipeline });
    g.append(s(doc, "text", { class: "fw-fl-label", x: 4, y: y + 15 }, s(doc, "title", null, row.pipeline), truncate(row.pipeline, 19)));
    for (const [g0, g1] of row.ghosts) {
      g.append(s(doc, "rect", { class: "fw-fl-ghost", x: x(g0).toFixed(1), y: y + 5, width: Math.max(2, x(g1) - x(g0)).toFixed(1), height: 12, rx: 1 }, s(doc, "title", null, `${row.pipeline}: scheduled ${formatAt(g0, zone, { clock: "hm" })}, ~${formatDuration(g1 - g0)} (median)`)));
    }
    for (const mk of row.marks) {
      const [start, end0, status, runId, count] = mk;
      const st = asStatus(status);
      const end = st === "running" ? Math.max(end0, now) : end0;
      g.append(
        s(doc, "rect", { class: `fw-fl-bar fw-fl-bar--${st}${count > 1 ? " fw-fl-bar--merged" : ""}`, x: x(start).toFixed(1), y: y + 5, width: Math.max(2, x(end) - x(start)).toFixed(1), height: 12, rx: 1, "data-run-id": runId, "data-count": count, tabindex: 0, role: "button" },
          s(doc, "title", null, markTitle(row.pipeline, mk, now, zone))),
      );
    }
    svg.append(g);
  });
  if (m.now >= m.t0 && m.now <= m.t1) {
    const xn = x(Math.min(m.t1, Math.max(now, m.now)));
    svg.append(s(doc, "line", { class: "fw-fl-now", x1: xn.toFixed(1), x2: xn.toFixed(1), y1: 16, y2: height }));
  }
  const pick = (ev: Event) => {
    const el = (ev.target as Element | null)?.closest?.("[data-run-id]");
    const rid = el?.getAttribute("data-run-id");
    if (!rid) return;
    if (ev.type === "keydown") {
      const key = (ev as KeyboardEvent).key;
      if (key !== "Enter" && key !== " ") return;
      ev.preventDefault();
    }
    onSelect(rid);
  };
  svg.addEventListener("click", pick);
  svg.addEventListener("keydown", pick);
  return svg;
}

function render({ model, el }: RenderProps<TimelineModel>) {
  const view = mountView(model, el, "fw-fleet");
  const { doc, shell, rpc, on } = view;
  const setTraits = (t: Partial<TimelineModel>) => {
    for (const [k, v] of Object.entries(t)) model.set(k as keyof TimelineModel, v as never);
    model.save_changes();
  };
  const marks = (): FleetMarks | null => {
    const m = model.get("_marks") as FleetMarks | Record<string, never>;
    return m && Array.isArray((m as FleetMarks).rows) ? (m as FleetMarks) : null;
  };
  const pan = (dir: number) => {
    const m = marks();
    if (!m) return;
    const end = (model.get("window_end") ?? m.t1) + dir * windowMs(model.get("window")) / 2;
    setTraits({ window_end: end >= Date.now() + windowMs(model.get("window")) / 6 ? null : end });
  };
  const btn = (label: string, aria: string, fn: () => void) => h(doc, "button", { type: "button", class: "fw-btn", "aria-label": aria, onclick: fn }, label);
  const presets = h(doc, "span", { class: "fw-fl-presets", role: "group", "aria-label": "window" },
    WINDOWS.map((w) => h(doc, "button", { type: "button", class: "fw-btn fw-fl-preset", "data-window": w, onclick: () => setTraits({ window: w }) }, w)));
  const live = btn("Now", "Back to now", () => setTraits({ window_end: null }));
  const tools = h(doc, "div", { class: "fw-fl-tools" },
    btn("◀", "Earlier", () => pan(-1)), btn("▶", "Later", () => pan(1)),
    btn("−", "Zoom out", () => setTraits({ window: zoomWindow(model.get("window"), 1) })),
    btn("+", "Zoom in", () => setTraits({ window: zoomWindow(model.get("window"), -1) })),
    presets, live);
  const note = h(doc, "div", { class: "fw-fl-note fw-dim" });
  const plot = h(doc, "div", { class: "fw-fl-wrap" });
  const legend = h(doc, "div", { class: "fw-legend" },
    (["succeeded", "running", "failed", "cancelled"] as const).map((st) => h(doc, "span", { class: "fw-legend-item" }, h(doc, "span", { class: `fw-fl-swatch fw-fl-bar--${st}`, "aria-hidden": "true" }), `${STATUS_ICON[st]} ${st}`)),
    h(doc, "span", { class: "fw-legend-item" }, h(doc, "span", { class: "fw-fl-swatch fw-fl-swatch--ghost", "aria-hidden": "true" }), "scheduled (median)"));
  shell.body.append(tools, note, plot, legend);

  let ticker: ReturnType<typeof setInterval> | null = null;
  const plotWidth = () => Math.max(240, (shell.body.clientWidth || 900) - LABEL_W - 12);
  const draw = () => {
    const m = marks();
    for (const b of Array.from(presets.querySelectorAll("button"))) {
      b.classList.toggle("fw-btn--primary", b.getAttribute("data-window") === model.get("window"));
    }
    (live as HTMLButtonElement).disabled = model.get("window_end") === null;
    replaceChildren(plot);
    if (!m) {
      // offline there is nothing to wait for: say why (it read "Loading the runs…" for ever)
      plot.append(h(doc, "div", { class: "fw-empty" },
        model.get("connected") === false ? "No runner attached: the runs show once it answers." : "Loading the runs…"));
      return;
    }
    if (!m.rows.length) {
      plot.append(h(doc, "div", { class: "fw-empty" }, "No pipelines"));
      return;
    }
    const sec = Math.max(1, Math.round(m.bucket_ms / 1000));
    const zone = asZone(model.get("time_zone"));
    note.textContent = `${counted(m.runs, "run")} in the last ${m.window}${m.live ? "" : " (panned)"} · ${counted(m.marks, "mark")} · times in ${zone === "UTC" ? "UTC" : `local time (${zoneName(zone, m.t1)})`}` +
      (m.merged ? ` · ${counted(m.merged, "run")} narrower than a few pixels merged per ${formatDuration(sec * 1000)} bucket` : "");
    plot.append(renderFleet(doc, m, Math.max(Date.now(), m.now), plotWidth(), (rid) => {
      model.set("selected_run_id", rid);
      model.save_changes();
      rpc.notify("select", { run_id: rid });
    }, zone));
  };
  const syncWidth = () => {
    const w = plotWidth();
    if (Math.abs((model.get("width") ?? 0) - w) > 40) setTraits({ width: w });
  };
  const onMarks = () => {
    draw();
    const m = marks();
    const running = !!m && m.rows.some((r) => r.marks.some((mk) => asStatus(mk[2]) === "running"));
    if (running && !ticker) ticker = setInterval(draw, 1000);
    if (!running && ticker) {
      clearInterval(ticker);
      ticker = null;
    }
  };
  on("change:_marks", onMarks);
  on("change:window", draw);
  on("change:window_end", draw);
  on(["change:time_zone", "change:connected"], draw);
  onMarks();
  syncWidth();
  return () => {
    if (ticker) clearInterval(ticker);
    view.dispose();
  };
}

export default { render };
