// RunCompare: two runs step by step. Twin of flowwidgets/widgets/_run_compare.py.
import type { RenderProps } from "@anywidget/types";
import { type Comparison, compareTable } from "../lib/compare";
import { replaceChildren } from "../lib/dom";
import { type BaseModel, mountView } from "../lib/shell";
import "../lib/theme.css";

/** Traits of flowwidgets.RunCompare. */
export interface RunCompareModel extends BaseModel {
  run_a: string | null;
  run_b: string;
  comparison: Comparison;
  selected_run_id: string | null;
}

function render({ model, el }: RenderProps<RunCompareModel>) {
  const view = mountView(model, el, "fw-compare");
  const draw = () => replaceChildren(view.shell.body,
    compareTable(view.doc, model.get("comparison") ?? {}, (runId) => view.rpc.notify("select", { run_id: runId })));
  view.on("change:comparison", draw);
  draw();
  return () => view.dispose();
}

export default { render };
