// Pure formatting helpers. Times are shown in UTC (the same on every machine and in the
// static fallback); durations compactly with units.

function pad(n: number, width = 2): string {
  return String(Math.trunc(n)).padStart(width, "0");
}

/** Milliseconds as "850 ms", "12.3 s", "4m 05s", "2h 03m", "3d 04h"; "—" when unknown. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const secs = ms / 1000;
  if (secs < 60) return `${secs.toFixed(1)} s`;
  const total = Math.floor(secs);
  const d = Math.floor(total / 86400);
  const hr = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (d > 0) return `${d}d ${pad(hr)}h`;
  if (hr > 0) return `${hr}h ${pad(m)}m`;
  return `${m}m ${pad(sec)}s`;
}

/** Parse an ISO-8601 time; null for missing or unreadable values. */
export function parseTime(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "2026-11-22 08:10:05" (UTC) or "—"; ``seconds=false`` drops the seconds. */
export function formatTime(iso: string | null | undefined, seconds = true): string {
  const d = parseTime(iso);
  if (!d) return "—";
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  return seconds ? `${date} ${time}:${pad(d.getUTCSeconds())}` : `${date} ${time}`;
}

/** Rows per second as "412 rows/s", "1.2k rows/s", "3.4M rows/s"; "—" when unknown. */
export function formatRate(perSec: number | null | undefined, unit = "rows/s"): string {
  if (perSec === null || perSec === undefined || !Number.isFinite(perSec)) return "—";
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(1)}M ${unit}`;
  if (perSec >= 1e4) return `${Math.round(perSec / 1e3)}k ${unit}`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(1)}k ${unit}`;
  return `${perSec >= 10 ? Math.round(perSec) : perSec.toFixed(1)} ${unit}`;
}

/** A fraction 0..1 as "12%" (or "—"). */
export function formatPercent(frac: number | null | undefined): string {
  if (frac === null || frac === undefined || !Number.isFinite(frac)) return "—";
  return `${Math.round(frac * 100)}%`;
}

/** A long id shortened for display ("01HQX2AB…9F3K"); the full id belongs in a title. */
export function shortId(id: string | null | undefined, keep = 12): string {
  if (!id) return "—";
  return id.length <= keep + 2 ? id : `${id.slice(0, keep - 4)}…${id.slice(-4)}`;
}

/** Truncate ``text`` to ``max`` characters with an ellipsis. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}

/** Count with thousands separators: 100000 → "100,000". */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  return Math.trunc(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** ``n`` and the noun in the right number: "1 run", "1,204 runs". */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : plural}`;
}
