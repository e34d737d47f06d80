// The run view's step panel: the selected step's newest error and its log tail.
import { type Child, h } from "../../lib/dom";
import { STATUS_ICON, asStatus } from "../../lib/status";

/** ``_step_log`` trait: what the kernel read for the selected step. */
export interface StepLog {
  step?: string;
  /** The newest attempt's number (null: the step has no attempt). */
  attempt?: number | null;
  /** The log tail (null: none; ``note`` says why). */
  text?: string | null;
  /** The newest attempt's error (its traceback where the runner keeps one). */
  error?: string | null;
  /** Why there is no text: nothing captured, not run, no logs kept, unreadable. */
  note?: string | null;
  /** The newest attempt's status (else the step's): a cancelled step's error is no failure. */
  status?: string | null;
}

/** The class of an error's text: failure red, or the cancelled colour for a step that was
 *  stopped (cancel, the runner's stop): a stop is not a failure and must not read as one. */
export function errorClass(status: string | null | undefined): string {
  const st = asStatus(status ?? "failed");
  return st === "cancelled" || st === "skipped" ? "fw-cut-step" : "fw-failed-step";
}

/**
 * The selected step's panel: its newest attempt's error, then its log tail, or a neutral
 * line saying why there is none (the kernel's ``note``). ``log`` null: still loading.
 */
export function logPanel(doc: Document, step: string, log: StepLog | null, onClose: () => void): Child[] {
  const attempt = log?.attempt ? ` · attempt ${log.attempt}` : "";
  const head = h(
    doc,
    "div",
    { class: "fw-log-head" },
    h(doc, "span", { class: "fw-label" }, `Step · ${step}${attempt}`),
    h(doc, "button", { type: "button", class: "fw-btn fw-btn--ghost", "aria-label": `Close the log of ${step}`, onclick: onClose }, "Close"),
  );
  if (!log) return [head, h(doc, "div", { class: "fw-dim" }, "loading…")];
  return [
    head,
    log.error
      ? errorClass(log.status) === "fw-cut-step"
        ? h(doc, "span", { class: "fw-label fw-cut-step" }, `${STATUS_ICON.cancelled} Stopped`)
        : h(doc, "span", { class: "fw-label fw-failed-step" }, "✗ Error")
      : null,
    log.error
      ? h(doc, "pre", { class: `fw-pre fw-log-error${errorClass(log.status) === "fw-cut-step" ? " fw-log-error--cut" : ""}` }, log.error)
      : null,
    h(doc, "span", { class: "fw-label" }, "Log"),
    log.text
      ? h(doc, "pre", { class: "fw-pre fw-log-text" }, log.text)
      : h(doc, "div", { class: "fw-dim fw-log-note" }, log.note || "no output was captured"),
  ];
}
