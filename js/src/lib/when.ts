// Times for people: relative where it helps ("in 57 min", "3 min ago") with the absolute
// time (in the chosen zone) for a hover title. One helper for every view.

import { parseTime } from "./format";

/** Where absolute times are shown: UTC (the default, the same on every machine) or the
 * browser's local zone. */
export type TimeZoneChoice = "UTC" | "local";

function pad(n: number): string {
  return String(Math.trunc(n)).padStart(2, "0");
}

/** The zone a trait value names ("local" or anything else → "UTC"). */
export function asZone(value: unknown): TimeZoneChoice {
  return value === "local" ? "local" : "UTC";
}

/** "2026-11-22 08:10:05 UTC" (or the local time, with the zone's short name); "—" when
 * unknown. ``seconds=false`` drops the seconds, ``withZone=false`` the zone's name (for a
 * column whose header names it). */
export function absoluteTime(iso: string | null | undefined, zone: TimeZoneChoice = "UTC", seconds = true, withZone = true): string {
  const d = parseTime(iso);
  if (!d) return "—";
  const utc = zone === "UTC";
  const date = utc
    ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
    : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const hm = utc ? `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const s = seconds ? `:${pad(utc ? d.getUTCSeconds() : d.getSeconds())}` : "";
  return withZone ? `${date} ${hm}${s} ${utc ? "UTC" : localZoneName(d)}` : `${date} ${hm}${s}`;
}

function localZoneName(d: Date): string {
  try {
    const part = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" })
      .formatToParts(d)
      .find((p) => p.type === "timeZoneName");
    if (part?.value) return part.value;
  } catch {
    // no Intl: the offset below
  }
  const off = -d.getTimezoneOffset();
  return `UTC${off >= 0 ? "+" : "-"}${pad(Math.abs(off) / 60)}:${pad(Math.abs(off) % 60)}`;
}

/** "just now", "45 s ago", "3 min ago", "2 h ago", "4 d ago", "in 57 min", "in 2 h" (""
 * when unknown). Rounded down, so "in 57 min" never promises too early. */
export function relativeTime(iso: string | null | undefined, now: number = Date.now()): string {
  const d = parseTime(iso);
  if (!d) return "";
  const diff = d.getTime() - now;
  const secs = Math.floor(Math.abs(diff) / 1000);
  if (secs < 5) return "just now";
  let span: string;
  if (secs < 60) span = `${secs} s`;
  else if (secs < 3600) span = `${Math.floor(secs / 60)} min`;
  else if (secs < 86400) {
    const hr = Math.floor(secs / 3600);
    const m = Math.floor((secs % 3600) / 60);
    span = hr < 10 && m > 0 ? `${hr} h ${m} min` : `${hr} h`;
  } else span = `${Math.floor(secs / 86400)} d`;
  return diff > 0 ? `in ${span}` : `${span} ago`;
}

/** A time as a person reads it: relative (``text``) for times within ``nearMs`` of now,
 * else absolute; ``title`` always the absolute time for a hover. */
export function humanTime(
  iso: string | null | undefined,
  zone: TimeZoneChoice = "UTC",
  now: number = Date.now(),
  nearMs = 24 * 3600 * 1000,
  inColumn = false,
): { text: string; title: string } {
  const d = parseTime(iso);
  if (!d) return { text: "—", title: "" };
  const abs = absoluteTime(iso, zone);
  const near = Math.abs(d.getTime() - now) < nearMs;
  // in a column whose header names the zone, a far time keeps its seconds and drops the zone
  const far = inColumn ? absoluteTime(iso, zone, true, false) : absoluteTime(iso, zone, false);
  return { text: near ? relativeTime(iso, now) : far, title: abs };
}

/** A ``<time>`` element for ``iso``: :func:`humanTime`'s text, the absolute time as its
 * title (the hover) and ``datetime``; ``data-at`` lets a ticker refresh it
 * (:func:`refreshTimes`). */
export function timeElement(doc: Document, iso: string | null | undefined, zone: TimeZoneChoice = "UTC", inColumn = false): HTMLElement {
  const el = doc.createElement("time");
  el.className = "fw-when";
  const t = humanTime(iso, zone, Date.now(), undefined, inColumn);
  el.textContent = t.text;
  if (iso && t.title) {
    el.title = t.title;
    el.setAttribute("datetime", iso);
    el.dataset.at = iso;
    el.dataset.zone = zone;
    if (inColumn) el.dataset.column = "1";
  }
  return el;
}

/** Re-draw the relative text of every :func:`timeElement` under ``root`` (call it each
 * few seconds so "in 57 min" counts down). */
export function refreshTimes(root: ParentNode): void {
  for (const el of Array.from(root.querySelectorAll<HTMLElement>("time[data-at]"))) {
    el.textContent = humanTime(el.dataset.at, asZone(el.dataset.zone), Date.now(), undefined, el.dataset.column === "1").text;
  }
}
