// The Dashboard's navigation bar: brand, back, breadcrumbs, live indicator. The three views
// below it are their own widgets; flowwidgets/widgets/_dashboard.py shows one at a time.
import type { RenderProps } from "@anywidget/types";
import { h, replaceChildren, setText } from "../lib/dom";
import { type BaseModel, mountView } from "../lib/shell";
import "../lib/theme.css";
import "./dashboard.css";

export interface Crumb {
  /** What the crumb shows. */
  label: string;
  /** The view it opens: "cards" | "jobs" | "run". */
  target: string;
}

/** Traits of the Dashboard's nav bar (flowwidgets.widgets._dashboard.NavBar). */
export interface NavModel extends BaseModel {
  /** The view shown: "cards" | "jobs" | "run". */
  view: string;
  /** The path to the current view, first to last. */
  crumbs: Crumb[];
  /** True when there is a previous view to go back to. */
  can_back: boolean;
}

function render({ model, el }: RenderProps<NavModel>) {
  const view = mountView(model, el, "fw-navbar");
  const { doc, shell, rpc, on } = view;
  const back = h(
    doc,
    "button",
    { type: "button", class: "fw-btn", "aria-label": "Back", onclick: () => rpc.notify("back") },
    "◂ Back",
  );
  const crumbs = h(doc, "nav", { class: "fw-crumbs", "aria-label": "breadcrumb" });
  const live = h(doc, "span", { class: "fw-nav-live" });
  shell.body.append(h(doc, "div", { class: "fw-nav" }, h(doc, "span", { class: "fw-nav-brand" }, "FLOWWIDGETS"), back, crumbs, live));

  const update = () => {
    back.disabled = !model.get("can_back");
    const list = model.get("crumbs") ?? [];
    replaceChildren(
      crumbs,
      list.map((c, i) => {
        const last = i === list.length - 1;
        return [
          i > 0 ? h(doc, "span", { class: "fw-crumb-sep", "aria-hidden": "true" }, "›") : null,
          h(
            doc,
            "button",
            {
              type: "button",
              class: "fw-crumb",
              title: c.label,
              "aria-current": last ? "page" : null,
              "data-target": c.target,
              onclick: () => {
                if (!last) rpc.notify("nav", { target: c.target });
              },
            },
            c.label,
          ),
        ];
      }),
    );
    const connected = model.get("connected") !== false;
    setText(live, connected ? "● live" : "○ offline");
    live.classList.toggle("fw-nav-live--off", !connected);
  };
  on(["change:crumbs", "change:can_back", "change:view", "change:connected"], update);
  update();
  return () => {
    view.dispose();
  };
}

export default { render };
