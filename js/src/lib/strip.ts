// The last-10 execution strip of a pipeline card: pure helpers (tested on their own).

export interface StripRun {
  run_id: string;
  status: string;
  started_at?: string | null;
  finished_at?: string | null;
  duration_ms?: number | null;
}

export const STRIP_SLOTS = 10;
export const SQUARE_MIN_PX = 10;
export const SQUARE_MAX_PX = 30;

/** ``STRIP_SLOTS`` slots, oldest → newest: null padding (no run yet) first, then the runs. */
export function stripSlots(recent: readonly StripRun[]): (StripRun | null)[] {
  const runs = recent.slice(-STRIP_SLOTS);
  return [...Array<null>(STRIP_SLOTS - runs.length).fill(null), ...runs];
}

/**
 * Square height for a run: square-root scaled between the min and max height by its
 * duration relative to the longest run in the strip; running or unknown-duration runs are
 * full height.
 */
export function squareHeight(durationMs: number | null | undefined, maxMs: number): number {
  if (durationMs === null || durationMs === undefined || !(maxMs > 0)) return SQUARE_MAX_PX;
  const frac = Math.sqrt(Math.max(0, Math.min(1, durationMs / maxMs)));
  return Math.round(SQUARE_MIN_PX + (SQUARE_MAX_PX - SQUARE_MIN_PX) * frac);
}

/** The longest known duration in ``runs`` (0 when none is known). */
export function maxDuration(runs: readonly (StripRun | null)[]): number {
  let m = 0;
  for (const r of runs) {
    const d = r?.duration_ms;
    if (typeof d === "number" && d > m) m = d;
  }
  return m;
}
