// `GET /v1/usage` for the SDK: spend against the budgets (the guards' own
// counters) and what the decision ledger sums to for a session, a run and each
// action — AgentSentinel's CostTracker totals, kept by the server instead of
// in the agent's memory, so every process of a run sees the same numbers.
import { InvalidRequest } from './errors.ts';

/**
 * What `usage()` asks about. All optional: with nothing, the tenant-wide
 * budgets and today's (UTC) per-action totals for every agent.
 *
 * @example
 * const opts: UsageOptions = { agentId: 'billing-bot', runId: 'nightly-2026-11-30' };
 */
export interface UsageOptions {
  /** Budgets this agent's next call counts against, its calls in the last minute, and totals counting only it. */
  agentId?: string;
  /** Adds `session` (the ledger's totals for `context.session_id`) and that session's budget buckets. */
  sessionId?: string;
  /** Adds `run` (the ledger's totals for `context.run_id`) and its budget bucket. */
  runId?: string;
  /** Start of the per-action period (inclusive); default the start of today (UTC). */
  since?: Date | string;
  /** End of the per-action period (exclusive); default now. At most 366 days after `since`. */
  until?: Date | string;
}

/**
 * Calls, outcomes and cost over some decisions. `spent_usd` is what ran and was
 * reported (a completed call's reported cost, else its declared one; a failed
 * call only what it reported); `held_usd` is let through but not reported yet
 * (the budget still holds it as a reservation). Denied, rejected, expired and
 * cancelled calls cost nothing.
 *
 * @example
 * const total = (t: UsageTotals) => t.spent_usd + t.held_usd;
 */
export interface UsageTotals {
  calls: number;
  allowed: number;
  denied: number;
  approvals: number;
  spent_usd: number;
  held_usd: number;
}

/**
 * A session's or run's totals, with when its first and last decisions were made.
 *
 * @example
 * const lasted = (s: UsageScope) => (s.first_at && s.last_at ? Date.parse(s.last_at) - Date.parse(s.first_at) : 0);
 */
export interface UsageScope extends UsageTotals {
  first_at: string | null;
  last_at: string | null;
}

/**
 * `GET /v1/usage` as the server answers it (snake_case, like `Approval`).
 * See docs/ledger.md for how each number is counted.
 *
 * @example
 * const u: Usage = await hp.usage({ agentId: 'bot', sessionId: 'S' });
 * for (const b of u.budgets) console.log(`${b.scope}: $${b.spent_usd} of $${b.limit_usd}`);
 * console.log('this session so far:', u.session?.spent_usd);
 */
export interface Usage {
  agent_id: string | null;
  /** From the guards' Redis counters: spend (reserved included) against each budget bucket that applies. */
  budgets: { scope: string; spent_usd: number; limit_usd: number }[];
  /** With `agentId`: its calls in the last minute and the policy's per-minute limit (null without one). */
  rate: { calls_last_minute: number; limit_per_minute: number | null } | null;
  /** With `sessionId`. */
  session?: UsageScope & { session_id: string };
  /** With `runId`. */
  run?: UsageScope & { run_id: string };
  /** The period's totals, and the 500 most-called actions (`truncated` when there were more). */
  actions: UsageTotals & { since: string; until: string; by_action: (UsageTotals & { action: string })[]; truncated: boolean };
}

const KNOWN = new Set(['agentId', 'sessionId', 'runId', 'since', 'until']);

function instant(name: string, v: Date | string): string {
  const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) throw new InvalidRequest('validation_failed', `${name} must be a Date or an ISO 8601 timestamp`, { details: { path: name } });
  return new Date(ms).toISOString();
}

/**
 * The request path for these options, or `InvalidRequest` before anything is
 * sent for an option the server would refuse or the SDK does not know.
 *
 * @example
 * usagePath({ runId: 'r-1' }); // '/v1/usage?run_id=r-1'
 */
export function usagePath(options: UsageOptions): string {
  for (const k of Object.keys(options)) {
    if (!KNOWN.has(k)) throw new InvalidRequest('validation_failed', `usage() has no option ${k}`, { details: { path: k } });
  }
  const q = new URLSearchParams();
  const ids: [keyof UsageOptions, string][] = [
    ['agentId', 'agent_id'],
    ['sessionId', 'session_id'],
    ['runId', 'run_id'],
  ];
  for (const [opt, wire] of ids) {
    const v = options[opt];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '') throw new InvalidRequest('validation_failed', `${opt} must be a non-empty string`, { details: { path: opt } });
    q.set(wire, v);
  }
  if (options.since !== undefined) q.set('since', instant('since', options.since));
  if (options.until !== undefined) q.set('until', instant('until', options.until));
  const s = q.toString();
  return s ? `/v1/usage?${s}` : '/v1/usage';
}
