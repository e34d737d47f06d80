import assert from "node:assert/strict";
import { test } from "node:test";
import nav from "../src/widgets/dashboard";
import { BASE, EVIL, FakeModel, mount, newDocument } from "./helpers";

test("tabs come from the trait; breadcrumbs and back send navigation messages", async () => {
  const { el } = newDocument();
  const model = new FakeModel<Record<string, unknown>>({
    ...BASE,
    tabs: [
      { key: "cards", label: "Pipelines" },
      { key: "jobs", label: "Runs" },
    ],
    view: "jobs",
    crumbs: [
      { label: "Runs", target: "jobs", arg: null },
      { label: EVIL, target: "jobs", arg: EVIL },
      { label: "Run r1", target: "run", arg: "r1" },
    ],
    can_back: true,
  });
  const cleanup = await mount(nav, model, el);
  const tabs = Array.from(el.querySelectorAll(".fw-tab")) as HTMLButtonElement[];
  assert.deepEqual(tabs.map((t) => t.textContent), ["Pipelines", "Runs"]);
  assert.equal(tabs[1]!.getAttribute("aria-selected"), "true");
  assert.equal(tabs[0]!.getAttribute("aria-selected"), "false");
  tabs[0]!.click();
  assert.deepEqual(model.sent.at(-1), { target: "cards", kind: "nav" });

  const crumbs = Array.from(el.querySelectorAll(".fw-crumb")) as HTMLButtonElement[];
  assert.equal(crumbs.length, 3);
  assert.equal(el.querySelectorAll("img").length, 0);
  assert.equal(crumbs[2]!.getAttribute("aria-current"), "page");
  crumbs[1]!.click();
  assert.deepEqual(model.sent.at(-1), { target: "jobs", arg: EVIL, kind: "nav" });
  const before = model.sent.length;
  crumbs[2]!.click();
  assert.equal(model.sent.length, before, "the current crumb does nothing");
  (el.querySelector('button[aria-label="Back"]') as HTMLButtonElement).click();
  assert.deepEqual(model.sent.at(-1), { kind: "back" });

  // a new section is one more entry in the trait
  model.update({ tabs: [...(model.get("tabs") as object[]), { key: "timeline", label: "Timeline" }] });
  assert.equal(el.querySelectorAll(".fw-tab").length, 3);
  model.update({ can_back: false, connected: false });
  assert.equal((el.querySelector('button[aria-label="Back"]') as HTMLButtonElement).disabled, true);
  assert.match(el.textContent!, /offline/);
  cleanup();
  assert.equal(model.listenerCount(), 0);
});
