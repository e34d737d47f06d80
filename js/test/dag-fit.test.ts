import assert from "node:assert/strict";
import { test } from "node:test";
import { MIN_FIT, dagFrame, fitScale } from "../src/lib/dag-fit";
import { newDocument } from "./helpers";

test("fitScale: a wider graph shrinks to the box, never below MIN_FIT; 100 % never scales", () => {
  assert.equal(fitScale(896, 850, "fit"), 850 / 896);
  assert.equal(fitScale(600, 850, "fit"), 1, "a graph that fits is never enlarged");
  assert.equal(fitScale(3000, 850, "fit"), MIN_FIT);
  assert.equal(fitScale(896, 850, "full"), 1);
  assert.equal(fitScale(896, 0, "fit"), 1, "a hidden box (width 0) leaves the graph alone");
});

/** A graph of ``w`` px in a box whose width the test sets (happy-dom has no layout). */
function framed(w: number) {
  const { document } = newDocument();
  const wrap = document.createElement("div");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "fw-dag");
  svg.setAttribute("viewBox", `0 0 ${w} 200`);
  wrap.append(svg);
  const box = { width: 850, left: 0 };
  Object.defineProperty(wrap, "clientWidth", { get: () => box.width });
  Object.defineProperty(wrap, "scrollWidth", { get: () => Math.max(box.width, Number(svg.getAttribute("width"))) });
  Object.defineProperty(wrap, "scrollLeft", { get: () => box.left, set: (v: number) => { box.left = v; } });
  const frame = dagFrame(document, wrap);
  document.body.append(frame.tools, frame.el);
  const cue = (side: string) => frame.el.querySelector(`.fw-dag-more--${side}`) as HTMLElement;
  const zoom = (z: string) => frame.tools.querySelector(`[data-zoom="${z}"]`) as HTMLButtonElement;
  return { wrap, svg, box, frame, cue, zoom };
}

test("a graph wider than its box is scaled to fit by default; '100 %' shows it full size with a scroll cue", () => {
  const { wrap, svg, box, frame, cue, zoom } = framed(896);
  frame.fit();
  assert.equal(svg.getAttribute("width"), "850");
  assert.equal(svg.getAttribute("height"), String(Math.round(200 * 850 / 896)));
  assert.equal(frame.tools.hidden, false, "the zoom control shows when the graph is wider than the box");
  assert.match(frame.tools.textContent!, /scaled to 95 % to fit/);
  assert.equal(zoom("fit").getAttribute("aria-pressed"), "true");
  assert.ok(cue("right").hidden && cue("left").hidden, "no cue while it all shows");

  zoom("full").click();
  assert.equal(svg.getAttribute("width"), "896");
  assert.equal(zoom("full").getAttribute("aria-pressed"), "true");
  assert.match(frame.tools.textContent!, /full size: scroll sideways/);
  assert.equal(cue("right").hidden, false, "more to the right: the right side says so");
  assert.equal(cue("right").textContent, "scroll →");
  assert.equal(cue("left").hidden, true);
  box.left = 46; // scrolled to the end
  wrap.dispatchEvent(new wrap.ownerDocument.defaultView!.Event("scroll") as unknown as Event);
  assert.ok(cue("right").hidden && !cue("left").hidden, "at the end the cue moves to the left side");

  zoom("fit").click();
  box.left = 0;
  box.width = 1000; // a wider box: nothing to fit, no control
  frame.fit();
  assert.equal(svg.getAttribute("width"), "896");
  assert.equal(frame.tools.hidden, true);
  frame.destroy();
});

test("a graph too wide to fit readably stays at MIN_FIT and cues the scroll", () => {
  const { svg, frame, cue } = framed(3000);
  frame.fit();
  assert.equal(svg.getAttribute("width"), String(3000 * MIN_FIT));
  assert.match(frame.tools.textContent!, /scaled to 60 % \(the smallest readable\): scroll sideways/);
  assert.equal(cue("right").hidden, false);
  frame.destroy();
});
