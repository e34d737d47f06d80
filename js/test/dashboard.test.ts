import assert from "node:assert/strict";
import { test } from "node:test";
import nav from "../src/widgets/dashboard";
import { BASE, EVIL, FakeModel, mount, newDocument } from "./helpers";

test("breadcrumbs and back send navigation messages", async () => {
  const { el } = newDocument();
  const model = new FakeModel<Record<string, unknown>>({
    ...BASE,
    view: "run",
    crumbs: [
      { label: "Pipelines", target: "cards" },
      { label: `Jobs: ${EVIL}`, target: "jobs" },
      { label: "Run r1", target: "run" },
    ],
    can_back: true,
  });
  const cleanup = await mount(nav, model, el);
  const crumbs = Array.from(el.querySelectorAll(".fw-crumb")) as HTMLButtonElement[];
  assert.equal(crumbs.length, 3);
  assert.equal(el.querySelectorAll("img").length, 0);
  assert.equal(crumbs[2]!.getAttribute("aria-current"), "page");
  crumbs[1]!.click();
  assert.deepEqual(model.sent.at(-1), { target: "jobs", kind: "nav" });
  crumbs[2]!.click();
  assert.equal(model.sent.length, 1, "the current crumb does nothing");
  (el.querySelector('button[aria-label="Back"]') as HTMLButtonElement).click();
  assert.deepEqual(model.sent.at(-1), { kind: "back" });
  model.update({ can_back: false, connected: false });
  assert.equal((el.querySelector('button[aria-label="Back"]') as HTMLButtonElement).disabled, true);
  assert.match(el.textContent!, /offline/);
  cleanup();
  assert.equal(model.listenerCount(), 0);
});
