// The Dashboard's navigation bar: brand, the top-level tabs (Pipelines, Runs, … — read from
// the ``tabs`` trait, so a new view is one entry in SECTIONS in _dashboard.py), back, the
// breadcrumb of what is shown, live indicator. The views below it are their own widgets;
// flowwidgets/widgets/_dashboard.py shows one at a time.
import type { RenderProps } from "@anywidget/types";
import { h, replaceChildren, setText } from "../lib/dom";
import { type BaseModel, mountView } from "../lib/shell";
import { type TimeZoneChoice, asZone, formatAt, zoneName } from "../lib/when";
import "../lib/theme.css";
import "./dashboard.css";

export interface Crumb {
  /** What the crumb shows. */
  label: string;
  /** The view it opens: a tab key or "run". */
  target: string;
  /** Its argument (the Runs pipeline filter, a run id), or null. */
  arg?: string | null;
  /** A time range's crumb: its ends (ISO, either may be null); drawn in the nav bar's
   * ``time_zone`` (the kernel's label is in the kernel's zone). */
  since?: string | null;
  until?: string | null;
}

/** What a crumb says: a time range in the zone, named; else its label. */
export function crumbLabel(c: Crumb, zone: TimeZoneChoice): string {
  if (c.since === undefined && c.until === undefined) return c.label;
  if (!c.since && !c.until) return c.label;
  const end = (iso: string | null | undefined) => (iso ? formatAt(iso, zone, { clock: "hm", withZone: false }) : "…");
  const at = Date.parse(c.since ?? c.until ?? "");
  return `${end(c.since)} – ${end(c.until)} ${zoneName(zone, Number.isNaN(at) ? Date.now() : at)}`;
}

export interface Tab {
  /** The section's key (sent back in ``nav``). */
  key: string;
  /** What the tab says. */
  label: string;
}

/** Traits of the Dashboard's nav bar (flowwidgets.widgets._dashboard.NavBar). */
export interface NavModel extends BaseModel {
  /** The top-level views, in order. */
  tabs: Tab[];
  /** The active tab's key. */
  view: string;
  /** What is shown, from the section down, first to last. */
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
  const tabs = h(doc, "div", { class: "fw-tabs", role: "tablist", "aria-label": "Views" });
  const crumbs = h(doc, "nav", { class: "fw-crumbs", "aria-label": "breadcrumb" });
  const live = h(doc, "span", { class: "fw-nav-live" });
  shell.body.append(
    h(doc, "div", { class: "fw-nav" }, h(doc, "span", { class: "fw-nav-brand" }, "FLOWWIDGETS"), tabs, live),
    h(doc, "div", { class: "fw-nav fw-nav--path" }, back, crumbs),
  );

  const send = (target: string, arg?: string | null) =>
    rpc.notify("nav", arg == null ? { target } : { target, arg });

  const update = () => {
    back.disabled = !model.get("can_back");
    const active = model.get("view");
    replaceChildren(
      tabs,
      (model.get("tabs") ?? []).map((t) =>
        h(
          doc,
          "button",
          {
            type: "button",
            role: "tab",
            class: "fw-tab",
            "aria-selected": t.key === active ? "true" : "false",
            "data-key": t.key,
            onclick: () => send(t.key),
          },
          t.label,
        ),
      ),
    );
    const list = model.get("crumbs") ?? [];
    const zone = asZone(model.get("time_zone"));
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
              title: crumbLabel(c, zone),
              "aria-current": last ? "page" : null,
              "data-target": c.target,
              onclick: () => {
                if (!last) send(c.target, c.arg);
              },
            },
            crumbLabel(c, zone),
          ),
        ];
      }),
    );
    const connected = model.get("connected") !== false;
    setText(live, connected ? "● live" : "○ offline");
    live.classList.toggle("fw-nav-live--off", !connected);
  };
  on(["change:tabs", "change:crumbs", "change:can_back", "change:view", "change:connected", "change:time_zone"], update);
  update();
  return () => {
    view.dispose();
  };
}

export default { render };
