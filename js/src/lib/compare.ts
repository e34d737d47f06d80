// Two runs compared step by step (the payload of flowwidgets.compare.compare_runs), drawn
// by RunCompare and by the run view's "Compare with…". Runner strings stay text.
import { h } from "./dom";
import { formatDuration, shortId } from "./format";
import { asStatus, statusLabel } from "./status";

export interface CompareSide {
  status: string | null;
  duration_ms: number | null;
  reused_from: string | null;
  attempts: number | null;
  error: string | null;
}

export interface CompareRow {
  step: string;
  a: CompareSide;
  b: CompareSide;
  delta_ms: number | null;
  ratio: number | null;
  change: string;
  skipped: boolean;
}

export interface CompareRun {
  run_id: string;
  pipeline: string;
  status: string;
  started_at: string | null;
  duration_ms: number | null;
  trigger: string | null;
  error: string | null;
}

export interface Comparison {
  a?: CompareRun;
  b?: CompareRun;
  steps?: CompareRow[];
  first_error_diff?: string | null;
  delta_ms?: number | null;
}

const CHANGE_WORD: Record<string, string> = {
  new_failure: "✗ new failure",
  fixed: "✓ fixed",
  slower: "▲ slower",
  faster: "▼ faster",
  same: "= same",
  reused: "↺ reused",
  only_a: "only in A",
  only_b: "only in B",
  not_run: "○ not run in B",
};

/** "+12.0 s" / "−850 ms" / "—". */
export function formatDelta(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return `${ms >= 0 ? "+" : "−"}${formatDuration(Math.abs(ms))}`;
}

function side(doc: Document, x: CompareSide): HTMLElement {
  if (!x.status) return h(doc, "td", { class: "fw-muted" }, "—");
  const st = asStatus(x.status);
  const what = x.reused_from ? `reused from ${shortId(x.reused_from, 20)}` : formatDuration(x.duration_ms);
  return h(doc, "td", { class: `fw-cmp-side fw-cmp-side--${st}`, title: x.error ?? "" },
    h(doc, "span", { class: `fw-cmp-st fw-cmp-st--${st}` }, statusLabel(st)), " ", what,
    x.attempts && x.attempts > 1 ? ` · ${x.attempts} attempts` : "");
}

/** The comparison as a table with a heading; ``onOpen(run_id)`` opens a run. */
export function compareTable(doc: Document, c: Comparison, onOpen: (runId: string) => void): HTMLElement {
  const rows = c.steps ?? [];
  if (!c.a || !c.b) return h(doc, "div", { class: "fw-empty" }, "Nothing to compare.");
  const runLink = (r: CompareRun, tag: string) =>
    h(doc, "button", { type: "button", class: "fw-link", "data-run-id": r.run_id, title: `open run ${r.run_id}`, onclick: () => onOpen(r.run_id) },
      `${tag} ${shortId(r.run_id, 28)} · ${statusLabel(r.status)} · ${formatDuration(r.duration_ms)}`);
  const head = h(doc, "div", { class: "fw-cmp-head" }, runLink(c.a, "A"), h(doc, "span", { class: "fw-muted" }, "→"), runLink(c.b, "B"),
    h(doc, "span", { class: "fw-cmp-total" }, `run ${formatDelta(c.delta_ms)}`));
  const diff = c.first_error_diff ? rows.find((r) => r.step === c.first_error_diff) : undefined;
  const errNote = diff ? h(doc, "div", { class: "fw-cmp-err" },
    h(doc, "span", { class: "fw-label" }, `First differing error · ${diff.step}`),
    h(doc, "pre", { class: "fw-cmp-pre" }, `A: ${diff.a.error ?? "—"}\nB: ${diff.b.error ?? "—"}`)) : null;
  const table = h(doc, "table", { class: "fw-cmp-table" },
    h(doc, "thead", null, h(doc, "tr", null, ["Step", "Change", "A", "B", "Δ", "×"].map((t) => h(doc, "th", { scope: "col" }, t)))),
    h(doc, "tbody", null, rows.map((r) => h(doc, "tr", { class: `fw-cmp-row fw-cmp-row--${r.change}`, "data-step": r.step },
      h(doc, "td", { class: "fw-cmp-step" }, r.step),
      h(doc, "td", { class: "fw-cmp-change" }, CHANGE_WORD[r.change] ?? r.change),
      side(doc, r.a), side(doc, r.b),
      h(doc, "td", { class: "fw-cmp-num" }, formatDelta(r.delta_ms)),
      h(doc, "td", { class: "fw-cmp-num" }, r.ratio === null ? "—" : `${r.ratio.toFixed(2)}×`)))));
  return h(doc, "div", { class: "fw-cmp" }, head, errNote, table);
}

interface CompareHost {
  get(key: "_compare"): Comparison | undefined;
  get(key: "run_id"): string | null | undefined;
}

/** The run view's "Compare with…" section: a button (the previous successful run of the
 * same pipeline), a run id field for any other run, and the comparison the kernel sends
 * back in the ``_compare`` trait. */
export function comparePanel(
  doc: Document,
  model: CompareHost,
  call: (kind: string, payload: Record<string, unknown>) => Promise<unknown>,
  onOpen: (runId: string) => void,
): { el: HTMLElement; update(): void } {
  const other = h(doc, "input", { type: "text", class: "fw-input fw-cmp-input", placeholder: "another run id (blank: previous success)", "aria-label": "Run to compare with" });
  const status = h(doc, "span", { class: "fw-muted fw-cmp-status", "aria-live": "polite" });
  const body = h(doc, "div", { class: "fw-cmp-body" });
  const go = h(doc, "button", {
    type: "button", class: "fw-btn", "data-action": "compare",
    onclick: async () => {
      status.textContent = "comparing…";
      try {
        await call("compare", { run_id: model.get("run_id"), with: other.value.trim() || null });
        status.textContent = "";
      } catch (err) {
        status.textContent = `✗ ${(err as Error).message}`;
      }
    },
  }, "Compare with…");
  const el = h(doc, "div", { class: "fw-section fw-cmp-section" }, h(doc, "span", { class: "fw-label" }, "Compare"),
    h(doc, "div", { class: "fw-cmp-controls" }, go, other, status), body);
  const update = () => {
    const c = model.get("_compare") ?? {};
    if (!c.b || c.b.run_id !== model.get("run_id")) {
      body.textContent = "";
      return;
    }
    body.textContent = "";
    body.appendChild(compareTable(doc, c, onOpen));
  };
  update();
  return { el, update };
}
