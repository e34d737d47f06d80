// The jobs table's rows and columns: a row's fields, its lineage text, the fixed-width
// columns and the trigger words.
import { shortId } from "../../lib/format";
import type { JobRowFields, RunLink } from "../../lib/generated/models";
import { STATUS_ICON, asStatus } from "../../lib/status";

/** One row of the visible page (``_rows`` trait). */
/** The Run fields are generated from flowwidgets.models.Run (widgets/_shapes.py: JOB_ROW). */
export interface JobRow extends JobRowFields {
  /** The error's summary line (its last line: a traceback's "Type: message"). */
  error?: string | null;
  /** The run came in through the run log's import (the demo's history). */
  imported?: boolean;
  /** "ETA 14:42:05 UTC (in 3 min, …)" for a running run, else "". */
  eta?: string;
  /** The run this one was restarted / rerun / resumed from (null: none). */
  parent_run_id?: string | null;
  /** The newest run started from this one (null: none). */
  child?: RunLink | null;
}

/** What the lineage cell says: where the run came from, and what was started from it. */
export function lineageText(row: Pick<JobRow, "trigger" | "parent_run_id" | "child">): string {
  const parts: string[] = [];
  if (row.parent_run_id) parts.push(`↰ ${row.trigger ?? "from"} of ${shortId(row.parent_run_id, 14)}`);
  if (row.child) {
    const st = asStatus(row.child.status);
    parts.push(`→ ${row.child.trigger ?? "new run"} ${shortId(row.child.run_id, 14)} ${STATUS_ICON[st]} ${st}`);
  }
  return parts.join(" · ");
}

/** The columns, with fixed widths (``table-layout: fixed``): sorting, filtering and paging
 * never make them jump. ``unsortable`` for the ETA, the lineage and the error line (the kernel sorts the rest). */
export const COLUMNS: { key: keyof JobRow; label: string; numeric?: boolean; width: string; unsortable?: boolean }[] = [
  { key: "run_id", label: "Run", width: "20em" },
  { key: "status", label: "Status", width: "9.5em" },
  { key: "pipeline", label: "Pipeline", width: "11em" },
  { key: "trigger", label: "Trigger", width: "10.5em" },
  { key: "started_at", label: "Started (UTC)", width: "13.5em" },
  { key: "finished_at", label: "Finished (UTC)", width: "13.5em" },
  { key: "attempts", label: "Tries", numeric: true, width: "4em" },
  { key: "duration_ms", label: "Duration", numeric: true, width: "6em" },
  { key: "failed_step", label: "Failed step", width: "10em" },
  { key: "eta", label: "ETA", width: "8em", unsortable: true },
  { key: "child", label: "Lineage", width: "12em", unsortable: true },
  { key: "error", label: "Error", width: "auto", unsortable: true },
];
/** The table's least width: every fixed column plus room for the error line. Below it
 * the table scrolls sideways in its wrapper instead of squeezing columns: with percent
 * widths the Error column was 0 px wide at 1280 px and headers overlapped at 900 px. */
export const TABLE_MIN_WIDTH = "138em";

/** What a trigger word reads as in the table. */
export const TRIGGER_WORD: Record<string, string> = {
  schedule: "schedule",
  run_now: "run now",
  manual: "run now",
  restart: "restart",
  rerun: "rerun",
  resume: "resume",
};
