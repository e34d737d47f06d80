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

/** A wall clock in the chosen zone. */
interface Clock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
}

function clockOf(d: Date, zone: TimeZoneChoice): Clock {
  return zone === "UTC"
    ? { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), ms: d.getUTCMilliseconds() }
    : { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours(), minute: d.getMinutes(), second: d.getSeconds(), ms: d.getMilliseconds() };
}

function asDate(at: string | number | Date | null | undefined): Date | null {
  if (at === null || at === undefined) return null;
  if (typeof at === "string") return parseTime(at);
  const d = new Date(typeof at === "number" ? at : at.getTime());
  return Number.isNaN(d.getTime()) ? null : d;
}

/** The zone's name as shown after a time: "UTC", or the local zone's short name ("EST",
 * "GMT+5:30"; the offset "UTC+05:30" without Intl). */
export function zoneName(zone: TimeZoneChoice, at: number = Date.now()): string {
  return zone === "UTC" ? "UTC" : localZoneName(new Date(at));
}

/** Parts of a time in the zone: ``date`` "full" (2026-11-22), "short" (11-22) or "none";
 * ``clock`` "hm", "hms" or "hmsms" (milliseconds); ``withZone`` adds the zone's name. "—"
 * when unknown. */
export function formatAt(
  at: string | number | Date | null | undefined,
  zone: TimeZoneChoice = "UTC",
  opts: { date?: "full" | "short" | "none"; clock?: "hm" | "hms" | "hmsms"; withZone?: boolean } = {},
): string {
  const d = asDate(at);
  if (!d) return "—";
  const c = clockOf(d, zone);
  const date = opts.date ?? "full";
  const clock = opts.clock ?? "hms";
  const parts: string[] = [];
  if (date === "full") parts.push(`${c.year}-${pad(c.month)}-${pad(c.day)}`);
  else if (date === "short") parts.push(`${pad(c.month)}-${pad(c.day)}`);
  let hm = `${pad(c.hour)}:${pad(c.minute)}`;
  if (clock !== "hm") hm += `:${pad(c.second)}`;
  if (clock === "hmsms") hm += `.${String(c.ms).padStart(3, "0")}`;
  parts.push(hm);
  if (opts.withZone ?? true) parts.push(zoneName(zone, d.getTime()));
  return parts.join(" ");
}

/** Round axis ticks every ``step`` ms between ``t0`` and ``t1``, aligned on the zone's wall
 * clock (a 6 h step falls on 00:00, 06:00… local; a day step on local midnight). */
export function zoneTicks(t0: number, t1: number, step: number, zone: TimeZoneChoice = "UTC"): number[] {
  const out: number[] = [];
  if (!(step > 0) || !(t1 >= t0)) return out;
  // ms east of UTC at a time (0 for UTC); re-read per tick, so a DST change keeps
  // ticks on the local hour
  const off = (t: number) => (zone === "UTC" ? 0 : -new Date(t).getTimezoneOffset() * 60_000);
  const align = (t: number) => Math.round((t + off(t)) / step) * step - off(t);
  let v = Math.ceil((t0 + off(t0)) / step) * step - off(t0);
  for (let n = 0; v <= t1 && n < 1000; n++) {
    if (v >= t0) out.push(v);
    const next = align(v + step);
    v = next > v ? next : v + step;
  }
  return out;
}

/** An ETA line from the kernel ("ETA 14:42:05 UTC (in 3 min…)") in the chosen zone: the
 * clock is the UTC wall clock nearest to ``finishMs`` when known, else nearest to now plus
 * the "in …" (ETAs are minutes to hours away). */
export function etaInZone(text: string | null | undefined, zone: TimeZoneChoice, finishAt?: string | null, now: number = Date.now()): string {
  if (!text) return "";
  if (zone === "UTC") return text;
  const m = /^ETA (\d\d):(\d\d):(\d\d) UTC/.exec(text);
  if (!m) return text;
  let at = finishAt ? parseTime(finishAt)?.getTime() ?? null : null;
  if (at === null) {
    const day = 86_400_000;
    const clock = (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000;
    const base = Math.floor(now / day) * day + clock;
    at = [base - day, base, base + day].reduce((a, b) => (Math.abs(b - now) < Math.abs(a - now) ? b : a));
  }
  return `ETA ${formatAt(at, "local", { date: "none", clock: "hms" })}${text.slice(m[0].length)}`;
}

/** "2026-11-22 08:10:05 UTC" (or the local time, with the zone's short name); "—" when
 * unknown. ``seconds=false`` drops the seconds, ``withZone=false`` the zone's name (for a
 * column whose header names it). */
export function absoluteTime(iso: string | null | undefined, zone: TimeZoneChoice = "UTC", seconds = true, withZone = true): string {
  return formatAt(iso, zone, { clock: seconds ? "hms" : "hm", withZone });
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
