// PipelineCards: a card per pipeline with its last-10 execution strip.
// Twin of flowwidgets/widgets/_cards.py.
import type { RenderProps } from "@anywidget/types";
import { h, replaceChildren } from "../lib/dom";
import { counted, formatDuration, formatPercent, formatRate, shortId } from "../lib/format";
import { type TimeZoneChoice, absoluteTime, asZone, etaInZone, refreshTimes, timeElement } from "../lib/when";
import { type BaseModel, mountView } from "../lib/shell";
import { STATUS_ICON, asStatus, statusLabel } from "../lib/status";
import type { CardPipelineFields, StripRunFields } from "../lib/generated/models";
import { STRIP_SLOTS, type StripRun, maxDuration, squareHeight, stripSlots } from "../lib/strip";
import "../lib/theme.css";
import "./cards.css";

/** One pipeline as the ``pipelines`` trait carries it. */
export interface CardPipeline extends CardPipelineFields {
  recent_runs: StripRunFields[];
  /** The running latest run's ETA line ("" when none). */
  eta?: string;
  streaming_stats: {
    rows_consumed_total?: number | null;
    stats_1m?: { rows_consumed_per_sec?: number | null } | null;
  } | null;
}

/** The outcome of the last action, mirrored by the kernel (``last_action`` trait). */
export interface ActionOutcome {
  kind?: string;
  run_id?: string | null;
  pipeline?: string | null;
  from_step?: string | null;
  new_run_id?: string | null;
  error?: string | null;
  at?: string;
}

/** Traits of flowwidgets.PipelineCards. */
export interface CardsModel extends BaseModel {
  /** Every pipeline of the runner, in the runner's order. */
  pipelines: CardPipeline[];
  /** The run whose square was clicked last (null before any). */
  selected_run_id: string | null;
  /** The outcome of the last "Run now". */
  last_action: ActionOutcome;
  /** True when a "history →" link has somewhere to go (the Dashboard's History tab). */
  _can_show_history?: boolean;
}

function squareTitle(run: StripRun, zone: TimeZoneChoice = "UTC"): string {
  return [
    statusLabel(run.status),
    `run ${run.run_id}`,
    `started ${absoluteTime(run.started_at ?? null, zone)}`,
    `duration ${formatDuration(run.duration_ms ?? null)}`,
  ].join(" · ");
}

/** What the strip says to a screen reader: how many runs it shows, in which order. */
export function stripLabel(p: CardPipeline): string {
  const n = Math.min(p.recent_runs?.length ?? 0, STRIP_SLOTS);
  return n ? `last ${counted(n, "run")} of ${p.name}, oldest first` : `no runs of ${p.name} yet`;
}

function render({ model, el }: RenderProps<CardsModel>) {
  const view = mountView(model, el, "fw-cards");
  const { doc, shell, rpc, on } = view;
  const grid = h(doc, "div", { class: "fw-cards-grid", role: "list" });
  const empty = h(doc, "div", { class: "fw-empty" }, "No pipelines yet");
  shell.body.append(grid);

  const cards = new Map<string, { el: HTMLElement; key: string }>();

  const select = (run: StripRun, pipeline: string) => {
    model.set("selected_run_id", run.run_id);
    model.save_changes();
    rpc.notify("select", { run_id: run.run_id, pipeline });
  };

  const runNow = async (pipeline: string, button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      const res = (await rpc.call("run_now", { pipeline })) as { new_run_id?: string } | undefined;
      shell.notice(`Started ${pipeline}: run ${res?.new_run_id ?? "?"}`);
    } catch (err) {
      shell.notice(`Run now of ${pipeline} failed: ${(err as Error).message}`, true);
    } finally {
      button.disabled = false;
    }
  };

  const buildCard = (p: CardPipeline, selected: string | null): HTMLElement => {
    const zone = asZone(model.get("time_zone"));
    const slots = stripSlots(p.recent_runs ?? []);
    const maxMs = maxDuration(slots);
    const latest = p.recent_runs?.length ? asStatus(p.recent_runs[p.recent_runs.length - 1]!.status) : null;
    const strip = h(
      doc,
      "div",
      { class: "fw-strip", role: "group", "aria-label": stripLabel(p) },
      slots.map((run) => {
        if (!run) {
          return h(doc, "span", { class: "fw-sq fw-sq--empty", title: "no run yet", "aria-hidden": "true" });
        }
        const st = asStatus(run.status);
        const cls = `fw-sq fw-sq--${st}${run.run_id === selected ? " fw-sq--selected" : ""}`;
        return h(
          doc,
          "button",
          {
            type: "button",
            class: cls,
            style: `height:${squareHeight(run.duration_ms, maxMs)}px`,
            title: squareTitle(run, zone),
            "aria-label": squareTitle(run, zone),
            "aria-current": run.run_id === selected ? "true" : null,
            "data-run-id": run.run_id,
            onclick: () => select(run, p.name),
          },
          h(doc, "span", { "aria-hidden": "true" }, STATUS_ICON[st]),
        );
      }),
    );

    let schedule: HTMLElement;
    if (p.kind === "streaming") {
      const rate = p.streaming_stats?.stats_1m?.rows_consumed_per_sec;
      const total = p.streaming_stats?.rows_consumed_total;
      const throughput =
        rate !== null && rate !== undefined
          ? formatRate(rate)
          : total !== null && total !== undefined
            ? `${counted(total, "row")} so far`
            : "—";
      schedule = h(
        doc,
        "div",
        { class: "fw-card-line" },
        h(doc, "span", { class: "fw-live" }, h(doc, "span", { class: "fw-live-dot", "aria-hidden": "true" }, "●"), " LIVE STREAMING"),
        h(doc, "span", null, h(doc, "span", { class: "fw-label" }, "Throughput "), h(doc, "span", { class: "fw-value" }, throughput)),
      );
    } else if (p.paused) {
      schedule = h(doc, "div", { class: "fw-card-line" }, h(doc, "span", { class: "fw-label" }, "‖ Paused"));
    } else {
      schedule = h(
        doc,
        "div",
        { class: "fw-card-line" },
        h(doc, "span", { class: "fw-label" }, "Next"),
        p.next_run_at
          ? h(doc, "span", { class: "fw-value fw-next" }, timeElement(doc, p.next_run_at, zone))
          : h(doc, "span", { class: "fw-value" }, p.schedule ? "—" : "manual"),
      );
    }

    const runButton = h(doc, "button", { type: "button", class: "fw-btn", "aria-label": `Run now: ${p.name}` }, "▶ Run now");
    runButton.addEventListener("click", () => void runNow(p.name, runButton));

    return h(
      doc,
      "article",
      { class: `fw-card${latest ? ` fw-card--${latest}` : ""}`, role: "listitem", "data-pipeline": p.name },
      h(
        doc,
        "div",
        { class: "fw-card-head" },
        h(doc, "span", { class: "fw-card-name", title: p.name }, p.name),
        h(doc, "span", { class: "fw-label" }, p.kind || "batch"),
      ),
      strip,
      schedule,
      p.eta ? h(doc, "div", { class: "fw-card-line fw-eta" }, etaInZone(p.eta, zone)) : null,
      h(
        doc,
        "div",
        { class: "fw-card-line" },
        h(doc, "span", null, h(doc, "span", { class: "fw-label" }, "Median "), h(doc, "span", { class: "fw-value" }, formatDuration(p.median_duration_ms))),
        h(doc, "span", null, h(doc, "span", { class: "fw-label" }, "7d fail "), h(doc, "span", { class: "fw-value" }, formatPercent(p.failure_rate_7d))),
        p.total_runs !== null && p.total_runs !== undefined
          ? h(doc, "span", null, h(doc, "span", { class: "fw-label" }, "Runs "), h(doc, "span", { class: "fw-value" }, String(p.total_runs)))
          : null,
      ),
      h(
        doc,
        "div",
        { class: "fw-card-foot" },
        runButton,
        h(
          doc,
          "button",
          {
            type: "button",
            class: "fw-link",
            title: `every run of ${p.name}`,
            "aria-label": `all jobs of ${p.name}`,
            onclick: () => rpc.notify("show_jobs", { pipeline: p.name }),
          },
          "all jobs →",
        ),
        model.get("_can_show_history")
          ? h(doc, "button", {
            type: "button", class: "fw-link fw-link--history", title: `durations, steps and failures of ${p.name} over time`,
            "aria-label": `history of ${p.name}`, onclick: () => rpc.notify("show_history", { pipeline: p.name }),
          }, "history →")
          : null,
      ),
    );
  };

  const update = () => {
    const pipelines = model.get("pipelines") ?? [];
    const selected = model.get("selected_run_id") ?? null;
    if (pipelines.length === 0) {
      replaceChildren(grid, empty);
      cards.clear();
      return;
    }
    const seen = new Set<string>();
    const ordered: HTMLElement[] = [];
    for (const p of pipelines) {
      seen.add(p.name);
      const key = JSON.stringify(p) + String(model.get("time_zone")) + (p.recent_runs?.some((r) => r.run_id === selected) ? `|${selected}` : "");
      let entry = cards.get(p.name);
      if (!entry || entry.key !== key) {
        entry = { el: buildCard(p, selected), key };
        cards.set(p.name, entry);
      }
      ordered.push(entry.el);
    }
    for (const name of [...cards.keys()]) if (!seen.has(name)) cards.delete(name);
    // Re-append only when the order or membership changed (keeps focus on a square).
    const current = Array.from(grid.children);
    if (current.length !== ordered.length || current.some((c, i) => c !== ordered[i])) {
      replaceChildren(grid, ordered);
    }
  };

  const showOutcome = () => {
    const a = model.get("last_action");
    if (!a || !a.kind) return;
    if (a.error) shell.notice(`✗ ${a.kind} ${a.pipeline ?? ""}: ${a.error}`, true);
    else if (a.new_run_id) shell.notice(`✓ ${a.kind} ${a.pipeline ?? ""} → run ${shortId(a.new_run_id, 16)}`);
  };

  on(["change:pipelines", "change:selected_run_id", "change:time_zone"], update);
  on("change:last_action", showOutcome);
  update();
  const clock = setInterval(() => refreshTimes(grid), 15_000);

  return () => {
    clearInterval(clock);
    view.dispose();
  };
}

export default { render };
