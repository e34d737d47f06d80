// The run view's task graph in its box. Like the graph views of Dagster, Airflow and
// Prefect, a graph wider than its box is scaled to fit by default (no sideways scrolling to
// find the last step), with a "Fit / 100 %" control to see it full size. Below MIN_FIT the
// names would be too small to read: the graph stays at MIN_FIT and scrolls. Whenever the
// drawing goes on beyond a side of the box, that side fades and says "scroll".
import { h } from "./dom";

/** The smallest fitted scale: 12 px step names stay ≥ 7 px. */
export const MIN_FIT = 0.6;

export type DagZoom = "fit" | "full";

/** The scale that draws a graph ``drawingWidth`` px wide in a box ``boxWidth`` px wide. */
export function fitScale(drawingWidth: number, boxWidth: number, zoom: DagZoom, min = MIN_FIT): number {
  if (zoom === "full" || !(boxWidth > 0) || drawingWidth <= boxWidth) return 1;
  return Math.max(min, boxWidth / drawingWidth);
}

export interface DagFrame {
  /** The box with its scroll cues: put it where the graph's scrolling box was. */
  el: HTMLElement;
  /** The "Fit / 100 %" control (hidden while the graph fits at full size). */
  tools: HTMLElement;
  /** Size the graph now drawn in the box (call after each redraw). */
  fit(): void;
  destroy(): void;
}

function naturalSize(svg: Element): [number, number] | null {
  const box = (svg.getAttribute("viewBox") ?? "").trim().split(/[\s,]+/).map(Number);
  return box.length === 4 && box[2]! > 0 && box[3]! > 0 ? [box[2]!, box[3]!] : null;
}

/** Wrap ``wrap`` (the scrolling box the graph's svg is drawn into). */
export function dagFrame(doc: Document, wrap: HTMLElement): DagFrame {
  let zoom: DagZoom = "fit";
  const note = h(doc, "span", { class: "fw-dim fw-dag-scale", "aria-live": "polite" });
  const button = (z: DagZoom, text: string, title: string) =>
    h(doc, "button", { type: "button", class: "fw-btn fw-dag-zoom", "data-zoom": z, title, "aria-pressed": String(z === zoom), onclick: () => { zoom = z; fit(); } }, text);
  const fitBtn = button("fit", "Fit", "Scale the graph to the width of the box");
  const fullBtn = button("full", "100 %", "Draw the graph at full size (scroll sideways)");
  const tools = h(doc, "div", { class: "fw-dag-tools", hidden: true }, note, h(doc, "span", { class: "fw-dag-zooms", role: "group", "aria-label": "graph size" }, fitBtn, fullBtn));
  const left = h(doc, "div", { class: "fw-dag-more fw-dag-more--left", "aria-hidden": "true", hidden: true }, h(doc, "span", null, "← scroll"));
  const right = h(doc, "div", { class: "fw-dag-more fw-dag-more--right", "aria-hidden": "true", hidden: true }, h(doc, "span", null, "scroll →"));
  const el = h(doc, "div", { class: "fw-dag-frame" }, wrap, left, right);

  const cues = () => {
    const over = wrap.scrollWidth - wrap.clientWidth;
    left.hidden = !(over > 1 && wrap.scrollLeft > 1);
    right.hidden = !(over > 1 && wrap.scrollLeft < over - 1);
  };
  let boxWidth = -1;
  const fit = () => {
    const svg = wrap.querySelector("svg.fw-dag");
    const size = svg ? naturalSize(svg) : null;
    boxWidth = wrap.clientWidth;
    if (!svg || !size) {
      tools.hidden = true;
      cues();
      return;
    }
    const [w, hgt] = size;
    const scale = fitScale(w, boxWidth, zoom);
    svg.setAttribute("width", (w * scale).toFixed(0));
    svg.setAttribute("height", (hgt * scale).toFixed(0));
    tools.hidden = !(boxWidth > 0 && w > boxWidth);
    note.textContent = scale < 1
      ? `scaled to ${Math.round(scale * 100)} %${w * scale > boxWidth + 1 ? " (the smallest readable): scroll sideways" : " to fit"}`
      : "full size: scroll sideways";
    fitBtn.setAttribute("aria-pressed", String(zoom === "fit"));
    fullBtn.setAttribute("aria-pressed", String(zoom === "full"));
    cues();
  };
  wrap.addEventListener("scroll", cues, { passive: true });
  // a narrower or wider box (window resized, sidebar opened) fits again
  const View = doc.defaultView as (Window & { ResizeObserver?: typeof ResizeObserver }) | null;
  const observer = View?.ResizeObserver
    ? new View.ResizeObserver(() => {
        if (Math.abs(wrap.clientWidth - boxWidth) > 1) fit();
      })
    : null;
  observer?.observe(wrap);

  return {
    el,
    tools,
    fit,
    destroy() {
      observer?.disconnect();
      wrap.removeEventListener("scroll", cues);
    },
  };
}
