// The status vocabulary (flowwidgets.models.Status, generated into ./generated/models.ts) with the icon and word shown beside
// every colour: status is never told by colour alone. Mirrored by flowwidgets/widgets/_fallback.py.

import { STATUSES, type Status } from "./generated/models";

export { STATUSES, type Status };

export const STATUS_ICON: Record<Status, string> = {
  pending: "○",
  requested: "◌",
  running: "●",
  paused: "‖",
  succeeded: "✓",
  failed: "✗",
  cancelled: "⊘",
  skipped: "↷",
  unknown: "?",
};

const KNOWN = new Set<string>(STATUSES);

/** A status word from the kernel as a known Status (anything else is "unknown"). */
export function asStatus(value: unknown): Status {
  const word = typeof value === "string" ? value.trim().toLowerCase() : "";
  return (KNOWN.has(word) ? word : "unknown") as Status;
}

/** "✓ succeeded": the icon and the word, for labels and tooltips. */
export function statusLabel(value: unknown): string {
  const st = asStatus(value);
  return `${STATUS_ICON[st]} ${st}`;
}
