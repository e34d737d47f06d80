// Confirmation inside the widget (never window.confirm: it blocks the page and is
// suppressed in some front ends).
import { h, replaceChildren } from "./dom";

/**
 * Show ``message`` with Confirm / Cancel in ``host`` (replacing what it shows) and resolve
 * true on Confirm, false on Cancel or Escape. The host is emptied afterwards.
 */
export function askConfirm(host: HTMLElement, message: string, confirmLabel: string): Promise<boolean> {
  const doc = host.ownerDocument;
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      replaceChildren(host);
      host.hidden = true;
      resolve(ok);
    };
    const yes = h(doc, "button", { type: "button", class: "fw-btn fw-btn--primary", onclick: () => done(true) }, confirmLabel);
    const no = h(doc, "button", { type: "button", class: "fw-btn", onclick: () => done(false) }, "Cancel");
    const box = h(
      doc,
      "div",
      {
        class: "fw-confirm",
        role: "alertdialog",
        "aria-label": message,
        onkeydown: (ev: Event) => {
          if ((ev as KeyboardEvent).key === "Escape") done(false);
        },
      },
      h(doc, "p", { class: "fw-confirm-text" }, message),
      h(doc, "div", { class: "fw-confirm-buttons" }, yes, no),
    );
    replaceChildren(host, box);
    host.hidden = false;
    yes.focus();
  });
}
