// The jobs table's time filter (datetime-local values in a zone ↔ ISO UTC, the windows)
// and its paging texts.
import { counted, formatCount } from "../../lib/format";
import { type TimeZoneChoice, formatAt } from "../../lib/when";

/** A datetime-local value ("2026-11-22T08:10") read in the zone (UTC or the browser's
 * local time) as ISO UTC, or null. */
export function localToIso(value: string, zone: TimeZoneChoice = "UTC"): string | null {
  if (!value) return null;
  const d = new Date(zone === "UTC" ? `${value}:00Z` : `${value}:00`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** An ISO time as a datetime-local value in the zone ("" when missing). */
export function isoToLocal(iso: string | null | undefined, zone: TimeZoneChoice = "UTC"): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return formatAt(d, zone, { clock: "hm", withZone: false }).replace(" ", "T");
}

export const TIME_WINDOWS: [string, string][] = [
  ["", "any time"],
  ["1h", "last hour"],
  ["24h", "last 24 h"],
  ["7d", "last 7 days"],
  ["30d", "last 30 days"],
];

/** "26–50 of 1,000 runs" for a page. */
export function pageSummary(page: number, pageSize: number, total: number): string {
  if (total <= 0) return "0 runs";
  const first = page * pageSize + 1;
  const last = Math.min(total, (page + 1) * pageSize);
  return `${formatCount(first)}–${formatCount(last)} of ${counted(total, "run")}`;
}

/** Number of pages for ``total`` rows (at least 1). */
export function pageCount(total: number, pageSize: number): number {
  return Math.max(1, Math.ceil(Math.max(0, total) / Math.max(1, pageSize)));
}
