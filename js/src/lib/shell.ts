// The frame every widget shares: theme root, "No runner attached" banner, the error panel
// (the kernel's ``error`` trait, dismissable), a live region for short notices, and the
// ``data-ready`` marker browser tests wait for.
import type { AnyModel } from "@anywidget/types";
import { h, replaceChildren, setText } from "./dom";
import { type Listeners, listen } from "./listen";
import { type Rpc, createRpc } from "./rpc";

/** Traits every flowwidgets widget has (flowwidgets/widgets/_base.py). */
export interface BaseModel {
  /** False while the runner is unreachable. */
  connected: boolean;
  /** Why the runner is unreachable ("" while connected). */
  connection_error: string;
  /** The last error a handler hit in the kernel ("" when none). */
  error: string;
  /** "auto" follows JupyterLab's theme; "dark" / "light" force one. */
  theme: string;
  /** "UTC" (default) or "local": the zone of absolute times (lib/when.ts). */
  time_zone?: string;
  [key: string]: unknown;
}

export interface Shell {
  root: HTMLElement;
  body: HTMLElement;
  /** Show a short notice (errors stay until replaced or dismissed). */
  notice(text: string, isError?: boolean): void;
  dispose(): void;
}

/** Build the shared frame inside ``el`` and keep it in step with the base traits. */
export function mountShell(
  model: AnyModel<BaseModel>,
  el: HTMLElement,
  widgetClass: string,
): Shell {
  const doc = el.ownerDocument;
  const bannerText = h(doc, "span", { class: "fw-banner-text" });
  const banner = h(
    doc,
    "div",
    { class: "fw-banner", role: "status", hidden: true },
    h(doc, "span", { class: "fw-banner-icon", "aria-hidden": "true" }, "⚠"),
    h(doc, "strong", null, "No runner attached"),
    bannerText,
  );
  const errorText = h(doc, "pre", { class: "fw-error-text" });
  const dismiss = h(
    doc,
    "button",
    {
      type: "button",
      class: "fw-btn fw-btn--ghost",
      "aria-label": "Dismiss the error",
      onclick: () => {
        model.set("error", "");
        model.save_changes();
      },
    },
    "Dismiss",
  );
  const errorBox = h(
    doc,
    "div",
    { class: "fw-error", role: "alert", hidden: true },
    h(doc, "div", { class: "fw-error-head" }, h(doc, "span", { class: "fw-label" }, "✗ Error"), dismiss),
    errorText,
  );
  const noticeBox = h(doc, "div", { class: "fw-notice", "aria-live": "polite" });
  const body = h(doc, "div", { class: "fw-body" });
  const root = h(doc, "div", { class: `fw-root ${widgetClass}` }, banner, errorBox, body, noticeBox);
  let noticeTimer: ReturnType<typeof setTimeout> | undefined;

  const update = () => {
    const connected = model.get("connected") !== false;
    banner.hidden = connected;
    setText(bannerText, connected ? "" : ` — ${model.get("connection_error") || "the runner does not answer"}. Retrying…`);
    root.classList.toggle("fw-offline", !connected);
    const err = model.get("error") || "";
    errorBox.hidden = !err;
    setText(errorText, err);
    const theme = model.get("theme");
    root.classList.toggle("fw-theme-dark", theme === "dark");
    root.classList.toggle("fw-theme-light", theme === "light");
  };
  const listeners = listen(model);
  listeners.on(["change:connected", "change:connection_error", "change:error", "change:theme"], update);
  update();
  replaceChildren(el, root);
  root.dataset.ready = "1";

  return {
    root,
    body,
    notice(text, isError = false) {
      if (noticeTimer) clearTimeout(noticeTimer);
      noticeBox.classList.toggle("fw-notice--error", isError);
      setText(noticeBox, text);
      if (!isError && text) {
        noticeTimer = setTimeout(() => setText(noticeBox, ""), 6000);
      }
    },
    dispose() {
      if (noticeTimer) clearTimeout(noticeTimer);
      listeners.dispose();
      replaceChildren(el);
    },
  };
}

/** What every widget's ``render`` starts with: the shell, an RPC channel, listeners. */
export interface View {
  doc: Document;
  shell: Shell;
  rpc: Rpc;
  /** Listen to model events until ``dispose``. */
  on: Listeners["on"];
  /** The widget's cleanup: listeners off, pending calls rejected, the shell removed. */
  dispose(): void;
}

/** Mount the shared frame in ``el`` and open the widget's channels to its model. */
export function mountView(model: AnyModel<any>, el: HTMLElement, widgetClass: string): View {
  const shell = mountShell(model as AnyModel<BaseModel>, el, widgetClass);
  const rpc = createRpc(model);
  const listeners = listen(model);
  return {
    doc: el.ownerDocument,
    shell,
    rpc,
    on: listeners.on,
    dispose() {
      listeners.dispose();
      rpc.dispose();
      shell.dispose();
    },
  };
}
