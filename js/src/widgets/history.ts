// HistoryView: durations over time (a mark per run or per bucket, p50/p90 band, restarts
// hollow and out of the band), the runs × steps grid of one pipeline, failures by cause and
// a summary row per pipeline. Twin of flowwidgets/widgets/_history_view.py.
import type { RenderProps } from "@anywidget/types";
import { h, replaceChildren, s } from "../lib/dom";
import { counted, formatDuration, formatPercent, shortId } from "../lib/format";
import { asZone, formatAt, zoneName, zoneTicks } from "../lib/when";
import { type BaseModel, mountView } from "../lib/shell";
import { asStatus, statusLabel } from "../lib/status";
import "../lib/theme.css";
import "./history.css";

/** A run mark: [t_ms, duration_ms, status, run_id, partial, pipeline index]; bucketed:
 * [t_ms, p50_ms, status, count, partial, min_ms, max_ms]. */
export type Mark = [number, number, string, string | number, boolean, number, number?];

export interface Chart {
  start?: number;
  end?: number;
  runs?: number;
  bucketed?: boolean;
  marks?: Mark[];
  band?: [number, number, number][];
  pipelines?: string[];
  imported?: number;
  streaming_left_out?: number;
}

export interface GridRun {
  run_id: string;
  status: string;
  started_at: string | null;
  duration_ms: number | null;
  trigger: string | null;
  failed_step: string | null;
  imported?: boolean;
}

export interface Grid {
  steps?: string[];
  runs?: GridRun[];
  /** [status, duration_ms, attempts, reused_from] (reused_from: the step did not run here) */
  cells?: ([string, number | null, number | null, (string | null)?] | null)[][];
}

export interface FailureGroup {
  pipeline: string;
  step: string | null;
  signature: string;
  count: number;
  first_seen: string | null;
  last_seen: string | null;
  example: string | null;
  run_ids: string[];
}

export interface SummaryRow {
  pipeline: string;
  runs: number;
  failed: number;
  success_rate: number | null;
  p50_ms: number | null;
  p90_ms: number | null;
  p50_last_7d_ms: number | null;
  p50_prev_7d_ms: number | null;
  trend: number | null;
}

/** Traits of flowwidgets.HistoryView. */
export interface HistoryModel extends BaseModel {
  pipeline: string | null;
  window: string;
  brush: string[];
  focus: { signature?: string; pipeline?: string; step?: string | null; run_ids?: string[] };
  selected_run_id: string | null;
  pipelines: string[];
  chart: Chart;
  grid: Grid;
  failures: FailureGroup[];
  summary_rows: SummaryRow[];
  loading: boolean;
  _can_show_runs: boolean;
}

// Geometry of the chart (px, in the SVG's own units; it scales to the width).
export const CHART = { width: 720, height: 220, left: 56, right: 12, top: 10, bottom: 24 } as const;
const WINDOWS = ["24h", "7d", "14d", "30d"];

/** "+12% slower", "8% faster", "3.2× faster" (under half the time: "100% faster" would
 * say nothing), "steady" or "—" (as flowwidgets/widgets/_fallback_history.py). */
export function trendText(trend: number | null | undefined): string {
  if (trend === null || trend === undefined || !Number.isFinite(trend)) return "—";
  if (trend < -0.5 && trend > -1) {
    const times = 1 / (1 + trend);
    return `${times < 10 ? times.toFixed(1) : Math.round(times)}× faster`;
  }
  const pct = Math.round(trend * 100);
  if (Math.abs(pct) < 3) return "steady";
  return pct > 0 ? `+${pct}% slower` : `${-pct}% faster`;
}

/** A log scale from [lo, hi] ms onto [bottom, top] px; flat when the range is empty. */
export function logScale(lo: number, hi: number, bottom: number, top: number): (ms: number) => number {
  const a = Math.log(Math.max(lo, 1));
  const b = Math.log(Math.max(hi, 1));
  return (ms: number) => {
    if (b <= a) return (bottom + top) / 2;
    const v = (Math.log(Math.max(ms, 1)) - a) / (b - a);
    return bottom - Math.min(1, Math.max(0, v)) * (bottom - top);
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function render({ model, el }: RenderProps<HistoryModel>) {
  const view = mountView(model, el, "fw-history");
  const { doc, shell, rpc, on } = view;

  const picker = h(doc, "select", { class: "fw-select", "aria-label": "Pipeline" });
  const windowPick = h(doc, "select", { class: "fw-select", "aria-label": "Window" });
  const meta = h(doc, "span", { class: "fw-history-meta" });
  const brushNote = h(doc, "span", { class: "fw-history-brush" });
  const chartBox = h(doc, "div", { class: "fw-history-chart" });
  const summaryBox = h(doc, "div", { class: "fw-history-summary" });
  const gridBox = h(doc, "div", { class: "fw-history-grid" });
  const failBox = h(doc, "div", { class: "fw-history-failures" });
  const head = h(doc, "div", { class: "fw-history-head" }, h(doc, "span", { class: "fw-label" }, "History"),
    picker, windowPick, meta, brushNote);
  replaceChildren(shell.body, head, chartBox,
    h(doc, "div", { class: "fw-label fw-history-h" }, "Per pipeline"), summaryBox,
    gridBox,
    h(doc, "div", { class: "fw-label fw-history-h" }, "Failures by cause"), failBox);

  picker.addEventListener("change", () => rpc.notify("pick", { pipeline: picker.value || null }));
  windowPick.addEventListener("change", () => {
    model.set("window", windowPick.value);
    model.save_changes();
  });

  const setBrush = (range: string[]) => {
    model.set("brush", range);
    model.save_changes();
  };

  const drawHead = () => {
    const names = model.get("pipelines") ?? [];
    const current = model.get("pipeline") ?? "";
    replaceChildren(picker, h(doc, "option", { value: "" }, "every pipeline"),
      names.map((n) => h(doc, "option", { value: n, selected: n === current }, n)));
    picker.value = current;
    const win = model.get("window");
    const wins = WINDOWS.includes(win) ? WINDOWS : [...WINDOWS, win];
    replaceChildren(windowPick, wins.map((w) => h(doc, "option", { value: w, selected: w === win }, `last ${w}`)));
    const c = model.get("chart") ?? {};
    const parts = [counted(c.runs ?? 0, "run")];
    if (c.imported) parts.push(`${counted(c.imported, "imported run")} (from the run log's import)`);
    if (c.bucketed) parts.push("bucketed: a mark per pixel column and status");
    if (model.get("loading")) parts.push("loading…");
    const zone = asZone(model.get("time_zone"));
    parts.push(`times in ${zone === "UTC" ? "UTC" : `local time (${zoneName(zone)})`}`);
    meta.textContent = parts.join(" · ");
  };

  const drawBrushNote = () => {
    const b = model.get("brush") ?? [];
    if (b.length !== 2) {
      replaceChildren(brushNote, h(doc, "span", { class: "fw-muted" }, "drag across the chart to select a time range"));
      return;
    }
    const lo = Date.parse(b[0]);
    const hi = Date.parse(b[1]);
    const n = (model.get("chart")?.marks ?? []).reduce((acc, m) => acc + (m[0] >= lo && m[0] <= hi ? (model.get("chart")?.bucketed ? (m[3] as number) : 1) : 0), 0);
    const zone = asZone(model.get("time_zone"));
    replaceChildren(brushNote, `selected ${formatAt(b[0], zone, { clock: "hm", withZone: false })} – ${formatAt(b[1], zone, { clock: "hm" })} · ${counted(n, "run")} `,
      model.get("_can_show_runs") ? h(doc, "button", { type: "button", class: "fw-btn", "data-action": "show-runs", onclick: () => rpc.notify("show_runs") }, "Show in Runs →") : null,
      h(doc, "button", { type: "button", class: "fw-btn fw-btn--ghost", "data-action": "clear-brush", onclick: () => setBrush([]) }, "Clear"));
  };

  // offline, an empty section says why (it read "0 runs · No finished runs in this window"
  // under the "No runner attached" banner)
  const emptyText = (normal: string) =>
    model.get("connected") === false ? "No runner attached: the history shows once it answers." : normal;

  // A drag in progress survives live updates: the chart is redrawn once it ends.
  let from: number | null = null;
  let stale = false;
  const drawChart = () => {
    if (from !== null) {
      stale = true;
      return;
    }
    stale = false;
    const c = model.get("chart") ?? {};
    const marks = c.marks ?? [];
    const focus = new Set(model.get("focus")?.run_ids ?? []);
    const { width: W, height: H, left: L, right: R, top: T, bottom: B } = CHART;
    const t0 = c.start ?? 0;
    const t1 = Math.max(c.end ?? 1, t0 + 1);
    const x = (t: number) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    if (!marks.length) {
      replaceChildren(chartBox, h(doc, "div", { class: "fw-empty" }, emptyText("No finished runs in this window.")));
      return;
    }
    let lo = Infinity;
    let hi = 0;
    for (const m of marks) {
      const a = c.bucketed ? (m[5] as number) : m[1];
      const b = c.bucketed ? (m[6] as number) : m[1];
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
    const y = logScale(lo, hi, H - B, T);
    const zone = asZone(model.get("time_zone"));
    const svg = s(doc, "svg", { class: "fw-history-svg", viewBox: `0 0 ${W} ${H}`, role: "img",
      "aria-label": `durations of ${c.runs ?? 0} runs over time` });
    // axes: day ticks on x, a few durations on y
    const day = 86_400_000;
    const step = (t1 - t0) > 20 * day ? 7 * day : (t1 - t0) > 2 * day ? day : 3_600_000 * 6;
    for (const t of zoneTicks(t0, t1, step, zone)) {
      const text = step >= day ? formatAt(t, zone, { date: "short", clock: "hm", withZone: false }).slice(0, 5).replace("-", "/")
        : formatAt(t, zone, { date: "none", clock: "hm", withZone: false });
      svg.appendChild(s(doc, "line", { class: "fw-history-tick", x1: x(t), x2: x(t), y1: T, y2: H - B }));
      svg.appendChild(s(doc, "text", { class: "fw-history-axis", x: x(t), y: H - 8, "text-anchor": "middle" }, text));
    }
    for (const v of [lo, Math.sqrt(lo * hi), hi]) {
      svg.appendChild(s(doc, "text", { class: "fw-history-axis", x: L - 6, y: y(v) + 3, "text-anchor": "end" }, formatDuration(v)));
    }
    // the p50/p90 band over full succeeded runs (one pipeline only: pipelines differ)
    const band = c.band ?? [];
    if (model.get("pipeline") && band.length > 1) {
      const upper = band.map((b) => `${x(b[0]).toFixed(1)},${y(b[2]).toFixed(1)}`);
      const lower = band.map((b) => `${x(b[0]).toFixed(1)},${y(b[1]).toFixed(1)}`).reverse();
      svg.appendChild(s(doc, "polygon", { class: "fw-history-band", points: [...upper, ...lower].join(" ") }));
      svg.appendChild(s(doc, "polyline", { class: "fw-history-p50", points: band.map((b) => `${x(b[0]).toFixed(1)},${y(b[1]).toFixed(1)}`).join(" ") }));
    }
    const names = c.pipelines ?? [];
    const markLayer = s(doc, "g", { class: "fw-history-marks" });
    for (const m of marks) {
      const st = asStatus(m[2]);
      const cx = x(m[0]);
      const cy = y(m[1]);
      if (c.bucketed) {
        const n = m[3] as number;
        const g = s(doc, "g", { class: `fw-mark fw-mark--${st}${m[4] ? " fw-mark--restart" : ""}` },
          s(doc, "title", null, `${statusLabel(st)} · ${n} runs · p50 ${formatDuration(m[1])} (${formatDuration(m[5] as number)}–${formatDuration(m[6] as number)}) · ${formatAt(m[0], zone, { clock: "hm" })}`),
          s(doc, "line", { x1: cx, x2: cx, y1: y(m[5] as number), y2: y(m[6] as number) }),
          m[4] ? s(doc, "rect", { x: cx - 2.5, y: cy - 2.5, width: 5, height: 5, transform: `rotate(45 ${cx} ${cy})` })
            : s(doc, "circle", { cx, cy, r: Math.min(4, 1.5 + Math.log2(n + 1) / 2) }));
        markLayer.appendChild(g);
        continue;
      }
      const runId = String(m[3]);
      const title = `${statusLabel(st)} · ${names[m[5]] ?? ""} · run ${runId} · ${formatDuration(m[1])} · started ${formatAt(m[0], zone)}${m[4] ? " · restart (part of the DAG, out of the band)" : ""}`;
      const cls = `fw-mark fw-mark--${st}${m[4] ? " fw-mark--restart" : ""}${focus.has(runId) ? " fw-mark--focus" : ""}`;
      const shape = m[4]
        ? s(doc, "rect", { x: cx - 3, y: cy - 3, width: 6, height: 6, transform: `rotate(45 ${cx} ${cy})` })
        : s(doc, "circle", { cx, cy, r: focus.has(runId) ? 4 : 2.6 });
      markLayer.appendChild(s(doc, "g", { class: cls, "data-run-id": runId,
        onclick: () => rpc.notify("select", { run_id: runId }) }, s(doc, "title", null, title), shape));
    }
    // brushing: drag on the plot area (under the marks, so a click on a mark still selects)
    const sel = s(doc, "rect", { class: "fw-history-sel", x: 0, y: T, width: 0, height: H - T - B, visibility: "hidden" });
    const b = model.get("brush") ?? [];
    if (b.length === 2) {
      const a = x(Date.parse(b[0]));
      const z = x(Date.parse(b[1]));
      sel.setAttribute("x", String(Math.min(a, z)));
      sel.setAttribute("width", String(Math.abs(z - a)));
      sel.setAttribute("visibility", "visible");
    }
    const overlay = s(doc, "rect", { class: "fw-history-overlay", x: L, y: T, width: W - L - R, height: H - T - B });
    const toT = (ev: MouseEvent): number => {
      const box = svg.getBoundingClientRect();
      const px = ((ev.clientX - box.left) / Math.max(box.width, 1)) * W;
      return t0 + ((Math.min(Math.max(px, L), W - R) - L) / (W - L - R)) * (t1 - t0);
    };
    overlay.addEventListener("mousedown", (ev) => {
      from = toT(ev as MouseEvent);
      ev.preventDefault();
    });
    svg.addEventListener("mousemove", (ev) => {
      if (from === null) return;
      const to = toT(ev as MouseEvent);
      sel.setAttribute("x", String(x(Math.min(from, to))));
      sel.setAttribute("width", String(Math.abs(x(to) - x(from))));
      sel.setAttribute("visibility", "visible");
    });
    const finish = (ev: Event) => {
      if (from === null) return;
      const to = toT(ev as MouseEvent);
      const [a, z] = [Math.min(from, to), Math.max(from, to)];
      from = null;
      if (x(z) - x(a) < 3) {
        sel.setAttribute("visibility", "hidden");
        if (stale) drawChart();
        return;
      }
      setBrush([iso(a), iso(z)]);
      if (stale) drawChart();
    };
    svg.addEventListener("mouseup", finish);
    svg.addEventListener("mouseleave", finish);
    svg.append(sel, overlay, markLayer);
    const legend = h(doc, "div", { class: "fw-history-legend" },
      h(doc, "span", { class: "fw-key fw-key--succeeded" }, "● succeeded"),
      h(doc, "span", { class: "fw-key fw-key--failed" }, "● failed"),
      h(doc, "span", { class: "fw-key fw-key--restart" }, "◇ restart (part of the DAG, out of the band)"),
      model.get("pipeline") ? h(doc, "span", { class: "fw-key fw-key--band" }, "▬ p50 – p90 band") :
        h(doc, "span", { class: "fw-muted" }, "pick a pipeline for its p50/p90 band and grid"),
      c.streaming_left_out ? h(doc, "span", { class: "fw-muted" }, `${counted(c.streaming_left_out, "streaming run")} not drawn (a duration there is uptime)`) : null);
    replaceChildren(chartBox, svg, legend);
  };

  const drawSummary = () => {
    const rows = model.get("summary_rows") ?? [];
    if (!rows.length) {
      replaceChildren(summaryBox, h(doc, "div", { class: "fw-empty" }, emptyText("No runs in this window.")));
      return;
    }
    const head = h(doc, "tr", null, ["Pipeline", "Runs", "Success", "p50", "p90", "Trend (7 d vs 7 before)"].map((t) => h(doc, "th", { scope: "col" }, t)));
    const body = rows.map((r) => {
      const tr = r.trend ?? null;
      const cls = tr === null ? "" : tr >= 0.03 ? "fw-trend--slower" : tr <= -0.03 ? "fw-trend--faster" : "";
      const title = `p50 last 7 d ${formatDuration(r.p50_last_7d_ms)} vs ${formatDuration(r.p50_prev_7d_ms)} the 7 before`;
      return h(doc, "tr", { "data-pipeline": r.pipeline },
        h(doc, "td", null, h(doc, "button", { type: "button", class: "fw-link fw-link--plain", title: `show ${r.pipeline} alone`, onclick: () => rpc.notify("pick", { pipeline: r.pipeline }) }, r.pipeline)),
        h(doc, "td", null, String(r.runs)),
        h(doc, "td", null, formatPercent(r.success_rate)),
        h(doc, "td", null, formatDuration(r.p50_ms)),
        h(doc, "td", null, formatDuration(r.p90_ms)),
        h(doc, "td", { class: `fw-trend ${cls}`, title }, trendText(tr)));
    });
    replaceChildren(summaryBox, h(doc, "table", { class: "fw-history-table" }, h(doc, "thead", null, head), h(doc, "tbody", null, body)));
  };

  const drawGrid = () => {
    const g = model.get("grid") ?? {};
    const steps = g.steps ?? [];
    const runs = g.runs ?? [];
    if (!model.get("pipeline") || !steps.length || !runs.length) {
      replaceChildren(gridBox);
      return;
    }
    const focus = new Set(model.get("focus")?.run_ids ?? []);
    const cell = 12;
    const gap = 2;
    const labelW = 150;
    const barH = 36;
    const W = labelW + runs.length * (cell + gap);
    const H = barH + 6 + steps.length * (cell + gap);
    const top = Math.max(1, ...runs.map((r) => r.duration_ms ?? 0));
    const svg = s(doc, "svg", { class: "fw-history-gridsvg", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img",
      "aria-label": `${runs.length} runs × ${steps.length} steps, oldest left` });
    runs.forEach((r, j) => {
      const hgt = Math.max(2, ((r.duration_ms ?? 0) / top) * barH);
      const gx = labelW + j * (cell + gap);
      svg.appendChild(s(doc, "rect", { class: `fw-gbar fw-gbar--${asStatus(r.status)}${r.trigger === "restart" ? " fw-gbar--restart" : ""}`,
        x: gx, y: barH - hgt, width: cell, height: hgt, "data-run-id": r.run_id,
        onclick: () => rpc.notify("select", { run_id: r.run_id }) },
      s(doc, "title", null, `run ${r.run_id} · ${statusLabel(r.status)} · ${formatDuration(r.duration_ms)} · ${r.trigger ?? ""}${r.imported ? " · imported" : ""} · ${formatAt(r.started_at, asZone(model.get("time_zone")))}`)));
      if (focus.has(r.run_id)) svg.appendChild(s(doc, "rect", { class: "fw-gfocus", x: gx - 1, y: barH + 4, width: cell + 2, height: steps.length * (cell + gap) + 2 }));
    });
    steps.forEach((name, i) => {
      const gy = barH + 6 + i * (cell + gap);
      svg.appendChild(s(doc, "text", { class: "fw-glabel", x: labelW - 6, y: gy + cell - 2, "text-anchor": "end" }, shortId(name, 20)));
      runs.forEach((r, j) => {
        const c = g.cells?.[j]?.[i] ?? null;
        const st = c ? asStatus(c[0]) : "pending";
        const from = c?.[3] ?? null; // a restart reused this step's output: it did not run
        const what = from ? `↺ reused from run ${from}` : `${statusLabel(st)} · ${formatDuration(c ? c[1] : null)}`;
        svg.appendChild(s(doc, "rect", {
          class: `fw-gcell fw-gcell--${st}${from ? " fw-gcell--reused" : ""}${c ? "" : " fw-gcell--none"}`, x: labelW + j * (cell + gap), y: gy, width: cell, height: cell,
          "data-run-id": r.run_id, "data-step": name,
          onclick: () => rpc.notify("open_step", { run_id: r.run_id, step: name }),
        }, s(doc, "title", null, `${name} · ${what}${c && c[2] && c[2] > 1 ? ` · ${c[2]} attempts` : ""} · run ${r.run_id}`)));
      });
    });
    replaceChildren(gridBox, h(doc, "div", { class: "fw-label fw-history-h" }, "Runs × steps (oldest left, newest right; bar height ∝ duration)"),
      h(doc, "div", { class: "fw-history-gridwrap" }, svg));
  };

  const drawFailures = () => {
    const groups = model.get("failures") ?? [];
    const focus = model.get("focus") ?? {};
    if (!groups.length) {
      replaceChildren(failBox, h(doc, "div", { class: "fw-empty" }, emptyText("No failures in this window.")));
      return;
    }
    replaceChildren(failBox, groups.map((g) => {
      const on = focus.signature === g.signature && focus.pipeline === g.pipeline && focus.step === g.step;
      const chips = on ? h(doc, "div", { class: "fw-history-chips" }, g.run_ids.map((id) =>
        h(doc, "button", { type: "button", class: "fw-chip", "data-run-id": id, title: `open run ${id}`, onclick: () => rpc.notify("select", { run_id: id }) }, shortId(id, 28)))) : null;
      return h(doc, "div", { class: `fw-fgroup${on ? " fw-fgroup--on" : ""}`, "data-signature": g.signature },
        h(doc, "button", {
          type: "button", class: "fw-fgroup-head", "aria-pressed": on ? "true" : "false",
          onclick: () => {
            model.set("focus", on ? {} : { signature: g.signature, pipeline: g.pipeline, step: g.step, run_ids: g.run_ids });
            model.save_changes();
          },
        },
        h(doc, "span", { class: "fw-fcount" }, `✗ ${g.count}×`),
        h(doc, "span", { class: "fw-fwhere" }, `${g.pipeline} · ${g.step ?? "—"}`),
        h(doc, "span", { class: "fw-muted" }, `first ${formatAt(g.first_seen, asZone(model.get("time_zone")), { clock: "hm", withZone: false })} · last ${formatAt(g.last_seen, asZone(model.get("time_zone")), { clock: "hm" })}`)),
        h(doc, "pre", { class: "fw-fsig" }, g.signature), chips);
    }));
  };

  const all = () => {
    drawHead();
    drawBrushNote();
    drawChart();
    drawSummary();
    drawGrid();
    drawFailures();
  };
  on(["change:pipelines", "change:pipeline", "change:window", "change:loading", "change:chart"], () => {
    drawHead();
    drawChart();
  });
  on("change:brush", () => {
    drawBrushNote();
    drawChart();
  });
  on("change:focus", () => {
    drawChart();
    drawGrid();
    drawFailures();
  });
  on("change:summary_rows", drawSummary);
  on("change:grid", drawGrid);
  on("change:failures", drawFailures);
  on(["change:time_zone", "change:connected"], all);
  all();

  return () => view.dispose();
}

export default { render };
