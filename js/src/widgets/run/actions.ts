// The run view's action buttons: which a run's ``actions`` allow, their labels and the
// confirmation each asks (a restart's plan of steps run again / reused).
import { restartPlan } from "../../lib/dag";
import type { RunLink, RunViewActions } from "../../lib/generated/models";
import { asStatus } from "../../lib/status";

/** The ``run`` trait's actions (``can_cancel`` may be absent from an older kernel). */
export type RunActions = Omit<RunViewActions, "can_cancel"> & Partial<Pick<RunViewActions, "can_cancel">>;

export interface ActionButton {
  kind: "restart" | "rerun" | "resume" | "cancel";
  label: string;
  confirm: string;
  from_step?: string;
  /** The confirmation's "no" button (default "Cancel"). */
  dismiss?: string;
  /** Drawn as the main button (false: demoted, e.g. a restart that already succeeded). */
  primary?: boolean;
  /** For a restart: each step → runs "again" or is "reused" (marked in the DAG while asked). */
  plan?: Map<string, "again" | "reused">;
}

/** A run started from this one (``lineage.children``). */
export interface ChildRun extends RunLink {
  from_step: string | null;
}

/** What the buttons know besides the actions: the DAG (for the restart plan) and the runs
 * already started from this one (a successful restart demotes Restart). */
export interface ActionContext {
  steps?: { name: string; status: string; depends_on: string[] }[];
  children?: ChildRun[];
}

function names(list: string[]): string {
  if (list.length === 0) return "none";
  return list.length > 12 ? `${list.slice(0, 12).join(", ")} and ${list.length - 12} more` : list.join(", ");
}

/** The buttons a run's ``actions`` allow; the restart target follows the selected step. */
export function actionButtons(
  runId: string,
  actions: Partial<RunActions> | undefined,
  selected: string | null,
  failedStep: string | null,
  ctx: ActionContext = {},
): ActionButton[] {
  const out: ActionButton[] = [];
  const steps = actions?.restart_from_step ?? [];
  const done = (ctx.children ?? []).filter((c) => c.trigger !== "resume" && asStatus(c.status) === "succeeded");
  const last = done[done.length - 1];
  const verb = last?.trigger === "rerun" ? "reran" : "restarted";
  const already = last ? `Run ${last.run_id} already ${verb} this run and succeeded. ` : "";
  if (steps.length) {
    const target =
      (selected && steps.includes(selected) && selected) ||
      (failedStep && steps.includes(failedStep) && failedStep) ||
      steps[0]!;
    const plan = ctx.steps?.length ? restartPlan(ctx.steps, target) : undefined;
    const again = plan ? [...plan].filter(([, v]) => v === "again").map(([k]) => k) : [];
    const reused = plan ? [...plan].filter(([, v]) => v === "reused").map(([k]) => k) : [];
    const what = plan
      ? `Run again: ${names(again)}. Reused from this run: ${names(reused)}.`
      : `"${target}" and everything downstream run again; upstream outputs are reused.`;
    out.push({
      kind: "restart",
      label: `Restart from step "${target}"`,
      confirm: `${already}Restart run ${runId} from step "${target}"? ${what}`,
      from_step: target,
      primary: !already,
      plan,
    });
  }
  if (actions?.rerun) {
    out.push({
      kind: "rerun",
      label: "Rerun from beginning",
      confirm: `Rerun ${runId} from the beginning? Every step runs again in a new run.`,
    });
  }
  if (actions?.resume_from_watermark) {
    out.push({
      kind: "resume",
      label: "Resume from watermark",
      confirm: `Resume the stream of run ${runId} from its last committed watermark?`,
    });
  }
  if (actions?.can_cancel) {
    out.push({
      kind: "cancel",
      label: "Cancel run",
      confirm: `Cancel run ${runId}? Its running steps are stopped and it is recorded as cancelled; steps that have not started will not run.`,
      dismiss: "Keep running",
    });
  }
  return out;
}
