// The periods the stateful guards count in: UTC calendar days and months
// taken from `now` (a bucket lives until its period ends, plus a day), and the
// open-ended session and run ids the agent names in its context. Pure.
import type { EvaluationRequest } from '../evaluate.ts';

export const DAY_MS = 86_400_000;
/** Sessions and runs have no period end: their buckets live a month past their last use. */
export const SESSION_TTL_MS = 31 * DAY_MS;

export interface Periods {
  /** 2025-01-31 */
  day: string;
  /** 2025-01 */
  month: string;
  /** ms until the day's bucket may go: the rest of the day, plus a day. */
  dayTtl: number;
  monthTtl: number;
}

// counterQueries and evaluate ask for the same `now` in turn, guard after guard.
let last: { now: number; p: Periods } | undefined;

export function periods(now: number): Periods {
  if (last?.now === now) return last.p;
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const iso = d.toISOString();
  const p = {
    day: iso.slice(0, 10),
    month: iso.slice(0, 7),
    dayTtl: Date.UTC(y, m, d.getUTCDate() + 1) - now + DAY_MS,
    monthTtl: Date.UTC(y, m + 1, 1) - now + DAY_MS,
  };
  last = { now, p };
  return p;
}

/**
 * context.session_id or context.run_id: a non-empty string or a finite number;
 * anything else is no id (the guards that need one then do not count).
 */
export function contextId(req: EvaluationRequest, field: 'session_id' | 'run_id'): string | undefined {
  const s = req.context?.[field];
  if (typeof s === 'string' && s !== '') return s;
  if (typeof s === 'number' && Number.isFinite(s)) return String(s);
  return undefined;
}
