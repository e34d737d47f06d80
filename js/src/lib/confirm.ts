// Confirmation inside the widget (never window.confirm: it blocks the page and is
// suppressed in some front ends).
import { h, replaceChildren } from "./dom";

const open = new WeakMap<HTMLElement, (ok: boolean) => void>();

/**
 * Show ``message`` with Confirm (red with ``danger``) / Cancel (``dismissLabel``) in ``host`` (replacing what it shows) and resolve
 * true on Confirm, false on Cancel or Escape — or when another question replaces this one.
 * Confirm gets the focus; afterwards the host is emptied and the focus goes back to the
 * element that had it (when it is still on the page).
 */
export function askConfirm(host: HTMLElement, message: string, confirmLabel: string, dismissLabel = "Cancel",
  danger = false): Promise<boolean> {
  const doc = host.ownerDocument;
  open.get(host)?.(false);
  const before = doc.activeElement as HTMLElement | null;
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      if (open.get(host) !== done) return;
      open.delete(host);
      const hadFocus = host.contains(doc.activeElement);
      replaceChildren(host);
      host.hidden = true;
      if (hadFocus && before && before.isConnected) before.focus();
      resolve(ok);
    };
    open.set(host, done);
    // a destructive answer (Cancel run) in the failed colour, not the accent of "go ahead"
    const yes = h(doc, "button", { type: "button", class: `fw-btn fw-btn--primary${danger ? " fw-btn--danger" : ""}`, onclick: () => done(true) }, confirmLabel);
    const no = h(doc, "button", { type: "button", class: "fw-btn", onclick: () => done(false) }, dismissLabel);
    const box = h(
      doc,
      "div",
      {
        class: "fw-confirm",
        role: "alertdialog",
        "aria-label": message,
        onkeydown: (ev: Event) => {
          if ((ev as KeyboardEvent).key === "Escape") {
            ev.preventDefault();
            ev.stopPropagation(); // JupyterLab would leave the cell on Escape
            done(false);
          }
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
