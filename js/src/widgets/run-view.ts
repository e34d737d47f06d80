// RunView: one run's DAG (laid out in the kernel), its failure, attempt history, a step's log
// tail, and the actions the runner allows. Twin of flowwidgets/widgets/_run_view.py.
import type { RenderProps } from "@anywidget/types";
import { comparePanel } from "../lib/compare";
import { askConfirm } from "../lib/confirm";
import { type DagLayout, type DagView, type StepState, renderDag } from "../lib/dag";
import { dagFrame } from "../lib/dag-fit";
import { h, replaceChildren, setText } from "../lib/dom";
import { counted, formatDuration, formatRate, parseTime } from "../lib/format";
import { absoluteTime, asZone, etaInZone, formatAt, refreshTimes, relativeTime, timeElement, zoneName } from "../lib/when";
import { type BaseModel, mountView } from "../lib/shell";
import { STATUS_ICON, asStatus } from "../lib/status";
import type { RunViewAttempt, RunViewRun, RunViewStepFields } from "../lib/generated/models";
import { type RunTiming, criticalLine, renderTimeline } from "../lib/timeline";
import { type ActionButton, type ChildRun, type RunActions, actionButtons } from "./run/actions";
import { type StepLog, errorClass, logPanel } from "./run/step-panel";
import "../lib/theme.css";
import "./run-view.css";

// the action buttons and the step panel live in ./run/; re-exported for the tests and users
export { type ActionButton, type ActionContext, type ChildRun, type RunActions, actionButtons } from "./run/actions";
export { type StepLog, errorClass, logPanel } from "./run/step-panel";

/** A step of the ``run`` trait: the Step fields the kernel copies plus its attempt count. */
export interface RunStep extends StepState, Omit<RunViewStepFields, keyof StepState> {}

/** One attempt of the ``run`` trait (fields generated from flowwidgets.models.Attempt). */
export type RunAttempt = RunViewAttempt;

/** ``run`` trait: the run detail as the kernel sends it. */
export interface RunPayload {
  /** Every field of the run but ``extra`` (generated from flowwidgets.models.Run). */
  run: RunViewRun;
  steps: RunStep[];
  attempts: RunAttempt[];
  actions: RunActions;
  error: string | null;
  failed_watermark: string | null;
  parent_run_id: string | null;
  /** Where this run came from (``from_step`` of a restart) and the runs started from it. */
  lineage?: { from_step: string | null; children: ChildRun[] };
  /** Step names of the critical path, first to last (empty: unknown). */
  critical_path?: string[];
  /** "ETA 14:42:05 UTC (in 3 min, p90 in 5 min)" for a running run, else "". */
  eta_text?: string;
  /** A streaming run's live figures (null: a batch run, or no commit of this run yet). */
  stream?: StreamStats | null;
}

/** What the run view shows of a stream (``stream`` of the run payload). */
export interface StreamStats {
  rows_per_sec: number | null;
  rows_total: number | null;
  watermark: string | null;
  committed_at: string | null;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;

export interface ActionOutcome {
  kind?: string;
  run_id?: string | null;
  from_step?: string | null;
  new_run_id?: string | null;
  /** A cancel's outcome: the run's status word (followed to its end). */
  status?: string | null;
  /** The status of the run the action started, followed until it ends. */
  new_status?: string | null;
  error?: string | null;
  at?: string;
}

/** Traits of flowwidgets.RunView. */
export interface RunModel extends BaseModel {
  /** The run shown (null: none yet). */
  run_id: string | null;
  /** The run's detail (empty until loaded). */
  run: RunPayload | Record<string, never>;
  /** DAG geometry from flowwidgets.layout, replaced only when the graph's shape changes. */
  _layout: DagLayout | Record<string, never>;
  /** The step whose log tail is shown (null: none). */
  selected_step: string | null;
  /** The selected step's log tail, fetched by the kernel. */
  _step_log: StepLog;
  /** The outcome of the last restart / rerun / resume. */
  last_action: ActionOutcome;
  /** Which drawing shows: the task graph or the timeline. */
  view: "dag" | "timeline";
  /** The timeline's data (flowwidgets.widgets._run_timing.timing_payload). */
  _timing: RunTiming | Record<string, never>;
}

/** [swatch class, icon, word] of each legend entry. */
const LEGEND: [string, string, string][] = [
  ["succeeded", STATUS_ICON.succeeded, "succeeded"],
  ["reused", "↺", "reused"],
  ["running", STATUS_ICON.running, "running"],
  ["failed", STATUS_ICON.failed, "failed"],
  ["pending", STATUS_ICON.pending, "pending"],
  ["skipped", STATUS_ICON.skipped, "skipped"],
  ["cancelled", STATUS_ICON.cancelled, "cancelled"],
];

function firstLine(text: string | null | undefined): string {
  if (!text) return "";
  const lines = text.trim().split("\n");
  return lines[lines.length - 1] ?? "";
}

function render({ model, el }: RenderProps<RunModel>) {
  const view = mountView(model, el, "fw-run");
  const { doc, shell, rpc, on } = view;

  const head = h(doc, "div", { class: "fw-run-head" });
  const actionsBar = h(doc, "div", { class: "fw-actions" });
  const confirmHost = h(doc, "div", { class: "fw-confirm-host", hidden: true });
  const lastAction = h(doc, "div", { class: "fw-last-action", "aria-live": "polite" });
  const dagWrap = h(doc, "div", { class: "fw-dag-wrap" });
  const problems = h(doc, "div", { class: "fw-problems" });
  const legend = h(
    doc,
    "div",
    { class: "fw-legend", "aria-label": "legend" },
    LEGEND.map(([cls, icon, word]) =>
      h(
        doc,
        "span",
        { class: "fw-legend-item" },
        h(doc, "span", { class: `fw-swatch fw-swatch--${cls}`, "aria-hidden": "true" }),
        `${icon} ${word}`,
      ),
    ),
  );
  const tabButton = (key: "dag" | "timeline", text: string) =>
    h(doc, "button", { type: "button", role: "tab", class: "fw-vtab", "data-view": key, onclick: () => { model.set("view", key); model.save_changes(); } }, text);
  const tabs = h(doc, "div", { class: "fw-view-tabs", role: "tablist", "aria-label": "run drawing" }, tabButton("dag", "Task graph"), tabButton("timeline", "Timeline"));
  const critLine = h(doc, "div", { class: "fw-critical-line" });
  const dagFit = dagFrame(doc, dagWrap); // scaled to fit, "scroll" cues where it overflows
  const dagBox = h(doc, "div", null, dagFit.tools, dagFit.el, problems);
  const tlReset = h(doc, "button", { type: "button", class: "fw-btn fw-btn--ghost", hidden: true }, "Reset zoom");
  const tlNote = h(doc, "span", { class: "fw-dim" }, "hatched: ready but not started yet · outlined: critical path · dashed: expected · drag across the bars to zoom");
  const tlAxis = h(doc, "div", { class: "fw-tl-axis-wrap" });
  const tlScroll = h(doc, "div", { class: "fw-tl-wrap" });
  const tlBox = h(doc, "div", { class: "fw-tl", hidden: true }, h(doc, "div", { class: "fw-tl-tools" }, tlNote, tlReset), tlAxis, tlScroll);
  const failure = h(doc, "div", { class: "fw-section", hidden: true });
  const compare = comparePanel(doc, model as never, (kind, payload) => rpc.call(kind, payload), (runId) => rpc.notify("open_run", { run_id: runId }));
  const attempts = h(doc, "div", { class: "fw-section", hidden: true });
  const logBox = h(doc, "div", { class: "fw-section", hidden: true });
  const empty = h(doc, "div", { class: "fw-empty" }, "No run selected");
  const content = h(
    doc,
    "div",
    null,
    head,
    actionsBar,
    confirmHost,
    lastAction,
    h(doc, "div", { class: "fw-section" }, tabs, critLine, dagBox, tlBox, legend),
    failure,
    compare.el,
    attempts,
    logBox,
  );
  shell.body.append(content, empty);

  let dag: DagView | null = null;
  let busy = false;

  const payload = (): RunPayload | null => {
    const r = model.get("run") as RunPayload | Record<string, never>;
    return r && "run" in r && r.run ? (r as RunPayload) : null;
  };
  const stepMap = (p: RunPayload | null): Map<string, StepState> => {
    const path = p?.critical_path ?? [];
    const next = new Map(path.map((n, i) => [n, path[i + 1] ?? null]));
    return new Map((p?.steps ?? []).map((st) => [st.name, { ...st, critical: next.has(st.name), critical_next: next.get(st.name) ?? null }]));
  };

  /** The step whose panel should be brought into view once drawn (a click asked for it). */
  let scrollTo: string | null = null;
  const selectStep = (name: string) => {
    scrollTo = name;
    model.set("selected_step", name);
    model.save_changes();
    updateLog(); // draw the panel now ("loading…") and bring it into view
  };

  const drawDag = () => {
    dag?.destroy();
    dag = null;
    const layout = model.get("_layout") as DagLayout;
    replaceChildren(dagWrap);
    replaceChildren(problems);
    if (!layout || !Array.isArray(layout.nodes) || layout.nodes.length === 0) {
      dagWrap.append(h(doc, "div", { class: "fw-empty" }, "No steps reported for this run"));
      dagFit.fit();
      return;
    }
    dag = renderDag(doc, layout, stepMap(payload()), model.get("selected_step"), { onSelect: selectStep });
    dagWrap.append(dag.svg);
    dagFit.fit();
    const notes: string[] = [];
    for (const [step, dep] of layout.unknown ?? []) notes.push(`"${step}" depends on unknown step "${dep}"`);
    for (const cyc of layout.cycles ?? []) notes.push(`dependency cycle: ${cyc.join(" → ")}`);
    for (const dup of layout.duplicates ?? []) notes.push(`step "${dup}" is listed twice`);
    if (notes.length) problems.append(h(doc, "span", null, `⚠ ${notes.join("; ")}`));
  };

  /** Keep the keyboard where it was: the action's button, when the focus fell off it. */
  const refocus = (kind: string) => {
    const active = doc.activeElement;
    if (active && active !== doc.body && shell.root.contains(active)) return;
    (actionsBar.querySelector(`[data-action="${kind}"]`) as HTMLButtonElement | null)?.focus();
  };

  const act = async (btn: ActionButton, runId: string) => {
    if (busy) return;
    if (btn.plan) dag?.mark(btn.plan);
    const ok = await askConfirm(confirmHost, btn.confirm, btn.label, btn.dismiss, btn.kind === "cancel");
    dag?.mark(null);
    if (!ok) {
      refocus(btn.kind);
      return;
    }
    busy = true;
    updateActions();
    shell.notice(`${btn.label}: asking the runner…`);
    try {
      const res = (await rpc.call(btn.kind, { run_id: runId, from_step: btn.from_step ?? null })) as
        | { new_run_id?: string; status?: string }
        | undefined;
      shell.notice(
        btn.kind === "cancel"
          ? `✓ ${btn.label}: run ${runId} is ${res?.status ?? "?"}`
          : `✓ ${btn.label}: started run ${res?.new_run_id ?? "?"}; opening it`,
      );
    } catch (err) {
      shell.notice(`✗ ${btn.label} failed: ${(err as Error).message}`, true);
    } finally {
      busy = false;
      updateActions();
      refocus(btn.kind);
    }
  };

  const updateActions = () => {
    const p = payload();
    const active = doc.activeElement as HTMLElement | null;
    const focused = active && actionsBar.contains(active) ? active.dataset.action : undefined;
    replaceChildren(actionsBar);
    if (!p) return;
    const buttons = actionButtons(p.run.run_id, p.actions, model.get("selected_step"), p.run.failed_step, {
      steps: p.steps,
      children: p.lineage?.children ?? [],
    });
    for (const b of buttons) {
      const el = h(
        doc,
        "button",
        {
          type: "button",
          class: b.kind === "restart" && b.primary !== false ? "fw-btn fw-btn--primary" : b.kind === "cancel" ? "fw-btn fw-btn--danger" : "fw-btn",
          "data-action": b.kind,
          disabled: busy,
        },
        b.label,
      );
      el.addEventListener("click", () => void act(b, p.run.run_id));
      actionsBar.append(el);
    }
    const reasons = Object.entries(p.actions?.reasons ?? {});
    if (buttons.length === 0) {
      actionsBar.append(h(doc, "span", { class: "fw-label" }, "No actions apply to this run"));
    }
    if (reasons.length) {
      actionsBar.append(
        h(doc, "span", { class: "fw-dim", title: reasons.map(([k, v]) => `${k}: ${v}`).join("\n") },
          reasons.map(([k, v]) => `${k.replace(/_/g, " ")}: ${v}`).join(" · ")),
      );
    }
    if ((p.actions?.restart_from_step ?? []).length > 1) {
      actionsBar.append(h(doc, "span", { class: "fw-dim" }, "click a step to restart from it"));
    }
    if (focused) refocus(focused); // a poll rebuilt the buttons under the keyboard
  };

  const updateLastAction = () => {
    const a = model.get("last_action") ?? {};
    replaceChildren(lastAction);
    // the line belongs to its run: shown on that run and on the run the action started
    const shown = model.get("run_id");
    if (!a.kind || (shown !== a.run_id && shown !== a.new_run_id)) return;
    const what = `${a.kind}${a.from_step ? ` from "${a.from_step}"` : ""} of run ${a.run_id ?? "?"}`;
    if (a.error) {
      lastAction.className = "fw-last-action fw-last-action--error";
      lastAction.append(h(doc, "span", { class: "fw-label" }, "Last action "), `✗ ${what} refused: ${a.error}`);
    } else if (a.kind === "cancel") {
      const st = asStatus(a.status);
      lastAction.className = `fw-last-action fw-last-action--${st}`;
      lastAction.append(h(doc, "span", { class: "fw-label" }, "Last action "), `${STATUS_ICON.cancelled} cancel of run ${a.run_id ?? "?"} → ${STATUS_ICON[st]} ${st}`);
    } else {
      // follow the new run to its end: its status, in its colour
      const st = asStatus(a.new_status ?? "requested");
      const end = st === "succeeded" || st === "failed" || st === "cancelled" ? `ended ${st}` : `${st}…`;
      lastAction.className = `fw-last-action fw-last-action--${st}`;
      lastAction.append(h(doc, "span", { class: "fw-label" }, "Last action "), `${what} → new run ${a.new_run_id ?? "?"}: ${STATUS_ICON[st]} ${end}`);
    }
  };

  const runLink = (id: string) =>
    h(doc, "button", { type: "button", class: "fw-link fw-link--plain", title: `open run ${id}`, onclick: () => rpc.notify("open_run", { run_id: id }) }, id);

  /** The run's duration; while it runs, the time elapsed so far (kept current each second). */
  const elapsedSpan = (r: RunPayload["run"], st: string) => {
    const running = (st === "running" || st === "paused") && r.duration_ms == null && !!r.started_at;
    const label = h(doc, "span", { class: "fw-label" }, running ? "Elapsed " : "Duration ");
    if (!running) return h(doc, "span", null, label, formatDuration(r.duration_ms));
    const value = h(doc, "span", { class: "fw-elapsed", "data-started": r.started_at }, elapsedText(r.started_at));
    return h(doc, "span", null, label, value);
  };
  const elapsedText = (started: string | null) =>
    started ? `${formatDuration(Math.max(0, Date.now() - Date.parse(started)))} so far` : "—";
  const elapsedTicker = setInterval(() => {
    for (const el of Array.from(head.querySelectorAll<HTMLElement>(".fw-elapsed"))) {
      el.textContent = elapsedText(el.dataset.started ?? null);
    }
    for (const el of Array.from(head.querySelectorAll<HTMLElement>(".fw-since"))) {
      el.textContent = sinceText(el.dataset.at ?? null);
    }
    for (const el of Array.from(head.querySelectorAll<HTMLElement>(".fw-lag"))) {
      el.textContent = lagText(el.dataset.at ?? null);
    }
    refreshTimes(head);
  }, 1000);
  const sinceText = (at: string | null) => (at ? `(${relativeTime(at)})` : "");
  const lagText = (at: string | null) => {
    const d = parseTime(at);
    return d ? formatDuration(Math.max(0, Date.now() - d.getTime())) : "—";
  };

  /** A streaming run's live line: throughput, rows so far, the last watermark and the time
   * since its commit, and its lag (how far the watermark is behind now, for a time
   * watermark; else the time since the last commit). */
  const streamLine = (s: StreamStats | null | undefined, live = true) => {
    if (!s) return null;
    if (!live) {
      // an ended stream (cancelled, failed): its last figures, no live dot and no lag that
      // keeps growing (it read "● STREAM … LAG 7.0 s" after a cancel)
      const label = (t: string) => h(doc, "span", { class: "fw-label" }, t);
      return h(doc, "div", { class: "fw-run-stream fw-run-stream--ended" },
        h(doc, "span", { class: "fw-label" }, "Stream (ended)"),
        s.rows_total != null ? h(doc, "span", { class: "fw-rows" }, `${counted(s.rows_total, "row")} in all`) : null,
        h(doc, "span", { title: s.committed_at ? `committed ${absoluteTime(s.committed_at, asZone(model.get("time_zone")))}` : null },
          label("Last watermark "), h(doc, "span", { class: "fw-value fw-watermark" }, s.watermark ?? "—")));
    }
    const label = (t: string) => h(doc, "span", { class: "fw-label" }, t);
    const wmIsTime = !!s.watermark && ISO_TIME.test(s.watermark);
    const lagAt = wmIsTime ? s.watermark : s.committed_at;
    return h(
      doc,
      "div",
      { class: "fw-run-stream" },
      h(doc, "span", { class: "fw-live" }, h(doc, "span", { class: "fw-live-dot", "aria-hidden": "true" }, "●"), " STREAM"),
      h(doc, "span", null, label("Throughput "), h(doc, "span", { class: "fw-value fw-throughput" }, formatRate(s.rows_per_sec)), " (1 min)"),
      s.rows_total != null ? h(doc, "span", { class: "fw-rows" }, `${counted(s.rows_total, "row")} so far`) : null,
      h(
        doc,
        "span",
        { title: s.committed_at ? `committed ${absoluteTime(s.committed_at, asZone(model.get("time_zone")))}` : null },
        label("Last watermark "),
        h(doc, "span", { class: "fw-value fw-watermark" }, s.watermark ?? "—"),
        " ",
        s.committed_at ? h(doc, "span", { class: "fw-since", "data-at": s.committed_at }, sinceText(s.committed_at)) : null,
      ),
      lagAt
        ? h(
            doc,
            "span",
            { title: wmIsTime ? "now minus the watermark's time" : "time since the last committed watermark" },
            label("Lag "),
            h(doc, "span", { class: "fw-lag", "data-at": lagAt }, lagText(lagAt)),
          )
        : null,
    );
  };

  const updateRun = () => {
    const p = payload();
    content.hidden = !p;
    empty.hidden = !!p;
    if (!p) {
      setEmptyText();
      return;
    }
    const r = p.run;
    const st = asStatus(r.status);
    replaceChildren(
      head,
      h(doc, "span", { class: "fw-run-title", title: r.run_id }, h(doc, "span", { class: "fw-label" }, "Run "), r.run_id),
      h(doc, "span", { class: `fw-pill fw-pill--${st}` }, h(doc, "span", { class: "fw-pill-icon", "aria-hidden": "true" }, STATUS_ICON[st]), st),
      h(
        doc,
        "span",
        { class: "fw-run-meta" },
        h(doc, "span", null, h(doc, "span", { class: "fw-label" }, "Pipeline "), r.pipeline),
        h(doc, "span", { class: "fw-started" }, h(doc, "span", { class: "fw-label" }, "Started "), timeElement(doc, r.started_at, asZone(model.get("time_zone")))),
        elapsedSpan(r, st),
        r.trigger ? h(doc, "span", null, h(doc, "span", { class: "fw-label" }, "Trigger "), r.trigger) : null,
        p.eta_text ? h(doc, "span", { class: "fw-eta" }, etaInZone(p.eta_text, asZone(model.get("time_zone")))) : null,
        p.parent_run_id
          ? h(
              doc,
              "span",
              { class: "fw-lineage-from" },
              h(doc, "span", { class: "fw-label" }, `${r.trigger && r.trigger !== "schedule" ? r.trigger : "from"} of run `),
              runLink(p.parent_run_id),
              p.lineage?.from_step ? ` from step "${p.lineage.from_step}"` : "",
            )
          : null,
      ),
      streamLine(p.stream, st === "running" || st === "requested"),
      ...(p.lineage?.children ?? []).slice(-3).map((c) => {
        const cst = asStatus(c.status);
        return h(
          doc,
          "span",
          { class: `fw-lineage-to fw-lineage--${cst}` },
          h(doc, "span", { class: "fw-label" }, `${c.trigger === "restart" ? "restarted" : c.trigger === "rerun" ? "rerun" : c.trigger === "resume" ? "resumed" : "continued"} → run `),
          runLink(c.run_id),
          ` ${STATUS_ICON[cst]} ${cst}`,
        );
      }),
    );
    dag?.restyle(stepMap(p), model.get("selected_step"));
    updateActions();

    // failure
    const failedSteps = p.steps.filter((x) => asStatus(x.status) === "failed");
    const errorText = p.error || failedSteps.map((x) => x.error).find(Boolean) || null;
    failure.hidden = st !== "failed" && failedSteps.length === 0;
    if (!failure.hidden) {
      replaceChildren(
        failure,
        h(doc, "span", { class: "fw-label" }, "Failure"),
        h(
          doc,
          "div",
          { class: "fw-failure" },
          h(doc, "div", null, h(doc, "span", { class: "fw-label" }, "Failed step "), h(doc, "span", { class: "fw-failure-step" }, `✗ ${r.failed_step ?? failedSteps[0]?.name ?? "—"}`)),
          p.failed_watermark ? h(doc, "div", null, h(doc, "span", { class: "fw-label" }, "Watermark "), p.failed_watermark) : null,
          errorText ? h(doc, "pre", { class: "fw-pre" }, errorText) : h(doc, "div", { class: "fw-dim" }, "the runner gave no error text"),
        ),
      );
    }

    // attempts
    attempts.hidden = p.attempts.length === 0;
    if (!attempts.hidden) {
      replaceChildren(
        attempts,
        h(doc, "span", { class: "fw-label" }, `Attempts (${p.attempts.length})`),
        h(
          doc,
          "div",
          { class: "fw-table-wrap" },
          h(
            doc,
            "table",
            { class: "fw-table", "aria-label": "attempt history" },
            h(doc, "thead", null, h(doc, "tr", null, ["#", "Step", "Status", `Started (${asZone(model.get("time_zone")) === "UTC" ? "UTC" : "local"})`, "Duration", "Error"].map((t) => h(doc, "th", { scope: "col", title: t.startsWith("Started") ? `times in ${zoneName(asZone(model.get("time_zone")))}` : null }, h(doc, "span", { class: "fw-sort fw-label" }, t))))),
            h(
              doc,
              "tbody",
              null,
              p.attempts.map((a) => {
                const ast = asStatus(a.status);
                const dur = a.started_at && a.finished_at ? Date.parse(a.finished_at) - Date.parse(a.started_at) : null;
                const step = a.step;
                return h(
                  doc,
                  "tr",
                  step
                    ? {
                        tabindex: 0,
                        "data-step": step,
                        title: `attempt ${a.number} of ${step} — Enter shows the step`,
                        onclick: () => selectStep(step),
                        onkeydown: (ev: Event) => {
                          const key = (ev as KeyboardEvent).key;
                          if (key !== "Enter" && key !== " ") return;
                          ev.preventDefault();
                          selectStep(step);
                        },
                      }
                    : { class: "fw-row-static" },
                  h(doc, "td", null, String(a.number)),
                  h(doc, "td", null, a.step ?? "—"),
                  h(doc, "td", null, h(doc, "span", { class: `fw-pill fw-pill--${ast}` }, `${STATUS_ICON[ast]} ${ast}`)),
                  h(doc, "td", { title: absoluteTime(a.started_at, asZone(model.get("time_zone"))) }, formatAt(a.started_at, asZone(model.get("time_zone")), { withZone: false })),
                  h(doc, "td", null, formatDuration(dur)),
                  h(doc, "td", { class: a.error ? errorClass(ast) : "fw-dim", title: a.error ?? "" }, firstLine(a.error) || "—"),
                );
              }),
            ),
          ),
        ),
      );
    }
  };

  const setEmptyText = () => {
    const id = model.get("run_id");
    setText(empty, id ? `Loading run ${id}…` : "No run selected");
  };

  const updateLog = () => {
    const step = model.get("selected_step");
    const log = model.get("_step_log") ?? {};
    logBox.hidden = !step;
    if (!step) return;
    const loaded = log.step === step;
    replaceChildren(logBox, logPanel(doc, step, loaded ? log : null, () => {
      model.set("selected_step", null);
      model.save_changes();
    }));
    if (scrollTo === step) {
      // below the fold at 1024×700: a click on a node must show where its answer is
      if (typeof logBox.scrollIntoView === "function") logBox.scrollIntoView({ block: "nearest" });
      logBox.dataset.scrolled = step;
      if (loaded) scrollTo = null;
    }
  };

  const onSelected = () => {
    dag?.restyle(stepMap(payload()), model.get("selected_step"));
    updateActions();
    updateLog();
  };

  // ---- the timeline ------------------------------------------------------------------
  let zoom: [number, number] | null = null;
  let ticker: ReturnType<typeof setInterval> | null = null;
  const timingData = (): RunTiming | null => {
    const t = model.get("_timing") as RunTiming | Record<string, never>;
    return t && Array.isArray((t as RunTiming).steps) ? (t as RunTiming) : null;
  };
  const drawTimeline = () => {
    const t = timingData();
    const isTl = model.get("view") === "timeline";
    for (const b of Array.from(tabs.querySelectorAll("button"))) {
      const on = b.getAttribute("data-view") === (isTl ? "timeline" : "dag");
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.classList.toggle("fw-vtab--on", on);
    }
    dagBox.hidden = isTl;
    tlBox.hidden = !isTl;
    critLine.textContent = t ? criticalLine(t) : "";
    if (!isTl || !t) return;
    replaceChildren(tlAxis);
    replaceChildren(tlScroll);
    if (!t.steps.length) {
      tlScroll.append(h(doc, "div", { class: "fw-empty" }, "No steps reported for this run"));
      return;
    }
    const now = Math.max(Date.now(), t.now ?? 0);
    const width = Math.max(480, (shell.body.clientWidth || 760) - 4);
    const { axis, rows } = renderTimeline(doc, t, now, {
      width,
      zoom,
      onSelect: selectStep,
      zone: asZone(model.get("time_zone")),
      onZoom: (w) => {
        zoom = w;
        drawTimeline();
      },
    });
    tlAxis.append(axis);
    tlScroll.append(rows);
    tlReset.hidden = zoom === null;
    if (t.untimed?.length) {
      tlScroll.append(h(doc, "div", { class: "fw-dim" }, `${t.untimed.length} step(s) ran without times from the runner: ${t.untimed.join(", ")}`));
    }
  };
  tlReset.addEventListener("click", () => {
    zoom = null;
    drawTimeline();
  });
  const tick = () => {
    const t = timingData();
    const live = !!t && t.end === null && model.get("view") === "timeline";
    if (live && !ticker) ticker = setInterval(drawTimeline, 1000);
    if (!live && ticker) {
      clearInterval(ticker);
      ticker = null;
    }
  };
  const onTiming = () => {
    drawTimeline();
    tick();
  };
  on("change:_timing", onTiming);
  on("change:view", onTiming);
  on("change:run_id", () => {
    zoom = null;
  });

  on("change:_layout", drawDag);
  on(["change:run", "change:time_zone"], updateRun);
  on(["change:_compare", "change:run_id"], compare.update);
  on("change:run_id", setEmptyText);
  on("change:selected_step", onSelected);
  on("change:_step_log", updateLog);
  on("change:last_action", updateLastAction);
  on("change:run_id", updateLastAction);
  drawDag();
  updateRun();
  onTiming();
  updateLog();
  updateLastAction();

  return () => {
    clearInterval(elapsedTicker);
    if (ticker) clearInterval(ticker);
    dag?.destroy();
    dagFit.destroy();
    view.dispose();
  };
}

export default { render };
