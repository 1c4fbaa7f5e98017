// What the evaluation dashboard shows for one period: read in parallel, each
// panel one bounded SQL aggregate (src/db/dashboard.ts), the gauges from the
// policy and the Redis budget buckets.
import { z } from 'zod';
import type { Sql } from '../db/client.ts';
import { agentsSeen, periodStats, recentDecisions, riskSeries, topReasons, type FeedRow, type PeriodStats, type ReasonCount, type RiskPoint } from '../db/dashboard.ts';
import { budgetGauges, type BudgetView } from '../services/budget-gauges.ts';
import type { CounterStore } from '../services/counters.ts';
import type { PolicyStore } from '../services/policies.ts';

export const PERIODS = {
  '1h': { ms: 3_600_000, step: 300, label: 'last hour', stepLabel: '5 minutes' },
  '24h': { ms: 86_400_000, step: 3_600, label: 'last 24 hours', stepLabel: 'hour' },
  '7d': { ms: 7 * 86_400_000, step: 6 * 3_600, label: 'last 7 days', stepLabel: '6 hours' },
} as const;
export type Period = keyof typeof PERIODS;

export const PeriodQuery = z.object({ period: z.enum(['1h', '24h', '7d']).default('24h') });

/** Rows in the live feed, and the most it keeps as rows arrive. */
export const FEED_ROWS = 50;
/** Agents with gauges: the busiest of the period. */
export const GAUGE_AGENTS = 12;
const GUARD_NAMES = ['budget', 'rate_limit', 'sensitive_data', 'scope'] as const;

export interface GuardStatus {
  guard: string;
  active: boolean;
  denies: number;
  approvals: number;
}

export interface DashboardData {
  period: Period;
  since: Date;
  now: Date;
  stats: PeriodStats;
  reasons: ReasonCount[];
  guards: GuardStatus[];
  rules: number;
  risk: RiskPoint[];
  budgets: BudgetView;
  feed: FeedRow[];
}

/** Where the chart's first bucket starts: `since` rounded down to a whole step (whole hours, whole 5 minutes). Pure. */
export function seriesOrigin(since: Date, period: Period): Date {
  const step = PERIODS[period].step * 1000;
  return new Date(Math.floor(since.getTime() / step) * step);
}

/** Every bucket from `origin` up to `now`, empty ones included, oldest first. Pure. */
export function fillSeries(points: readonly RiskPoint[], origin: Date, now: Date, period: Period): RiskPoint[] {
  const step = PERIODS[period].step * 1000;
  const byTime = new Map(points.map((p) => [new Date(p.at).getTime(), p]));
  const out: RiskPoint[] = [];
  for (let t = origin.getTime(); t <= now.getTime(); t += step) {
    out.push(byTime.get(t) ?? { at: new Date(t), n: 0, avg: null, max: null, denied: 0 });
  }
  return out;
}

export async function loadDashboard(deps: { sql: Sql; policies: PolicyStore; counters: CounterStore }, tenantId: string, period: Period, now: Date): Promise<DashboardData> {
  const since = new Date(now.getTime() - PERIODS[period].ms);
  const origin = seriesOrigin(since, period);
  const [stats, reasons, risk, agents, feed, { policy }] = await Promise.all([
    periodStats(deps.sql, tenantId, since),
    topReasons(deps.sql, tenantId, since, 50),
    riskSeries(deps.sql, tenantId, since, origin, PERIODS[period].step),
    agentsSeen(deps.sql, tenantId, since, GAUGE_AGENTS),
    recentDecisions(deps.sql, tenantId, since, FEED_ROWS),
    deps.policies.current(tenantId),
  ]);
  const budgets = await budgetGauges(deps, tenantId, agents, now.getTime());
  const configured = policy.guards ?? {};
  const guards = GUARD_NAMES.map((g) => {
    const r = reasons.filter((x) => x.source === 'guard' && x.name === g);
    return { guard: g, active: configured[g] !== undefined, denies: r.reduce((s, x) => s + x.denies, 0), approvals: r.reduce((s, x) => s + x.approvals, 0) };
  });
  return { period, since, now, stats, reasons: reasons.slice(0, 10), guards, rules: policy.rules.length, risk: fillSeries(risk, origin, now, period), budgets, feed };
}
