// The budget guard: what a call costs (the request's cost_usd, or the cost
// table) against spend per agent per session / run / day / month, per tenant
// per day / month, and per action glob (per_action: tenant-wide or per agent,
// by session / run / day / month), in UTC periods taken from `now`. A call
// costing more than max_call_cost, or one that would exceed a limit → deny; at
// or past warn_threshold of any bucket → require approval. The call's cost is
// held by one all-or-nothing `reserve` op across every bucket (the edge refuses
// it if a concurrent call got there first), and becomes spend only when
// reported. Pure.
import type { EvaluationRequest } from '../evaluate.ts';
import { globMatch } from '../glob.ts';
import type { BudgetConfig } from './config.ts';
import { contextId, periods, SESSION_TTL_MS } from './periods.ts';
import type { CounterOp, CounterQuery, CounterValues, Finding } from './types.ts';

/** Floating-point slack: 0.1 + 0.2 must not exceed a limit of 0.3. */
const EPSILON = 1e-9;

export interface Bucket {
  key: string;
  limit: number;
  ttl_ms: number;
  /** For messages: "agent billing-bot day", "tenant month", "action llm.* tenant day". */
  label: string;
}

/**
 * The call's cost in USD: the cost table's entry for the action (exact, else
 * the most specific matching glob), or the request's cost_usd when that is
 * higher. The agent declares cost_usd, so it may raise the cost the admin's
 * table gives, never lower it: declaring 0 must not slip past a budget or
 * max_call_cost. No table entry: cost_usd, else 0.
 */
export function costOf(config: BudgetConfig, req: EvaluationRequest): number {
  const table = tableCost(config, req.action);
  if (req.cost_usd === undefined) return table;
  if (typeof req.cost_usd !== 'number' || !Number.isFinite(req.cost_usd) || req.cost_usd < 0) {
    throw new Error('cost_usd must be a non-negative number');
  }
  return Math.max(req.cost_usd, table);
}

function tableCost(config: BudgetConfig, action: string): number {
  const table = config.cost_table;
  if (Object.prototype.hasOwnProperty.call(table, action)) return table[action]!;
  let best: string | undefined;
  for (const glob of Object.keys(table)) {
    if (globMatch(glob, action) && (best === undefined || glob.length > best.length)) best = glob;
  }
  return best === undefined ? 0 : table[best]!;
}

/** The buckets this request counts against (only those with a limit). */
export function buckets(config: BudgetConfig, req: EvaluationRequest, now: number): Bucket[] {
  const p = periods(now);
  const agent = req.agent_id;
  const out: Bucket[] = [];
  const sid = contextId(req, 'session_id');
  const a = config.per_agent;
  if (a?.session !== undefined && sid !== undefined) {
    out.push({ key: `bud:agent:${agent}:session:${sid}`, limit: a.session, ttl_ms: SESSION_TTL_MS, label: `agent ${agent} session ${sid}` });
  }
  const rid = a?.run !== undefined ? contextId(req, 'run_id') : undefined;
  if (rid !== undefined) out.push({ key: `bud:agent:${agent}:run:${rid}`, limit: a!.run!, ttl_ms: SESSION_TTL_MS, label: `agent ${agent} run ${rid}` });
  if (a?.day !== undefined) out.push({ key: `bud:agent:${agent}:day:${p.day}`, limit: a.day, ttl_ms: p.dayTtl, label: `agent ${agent} day` });
  if (a?.month !== undefined) out.push({ key: `bud:agent:${agent}:month:${p.month}`, limit: a.month, ttl_ms: p.monthTtl, label: `agent ${agent} month` });
  const t = config.per_tenant;
  if (t?.day !== undefined) out.push({ key: `bud:tenant:day:${p.day}`, limit: t.day, ttl_ms: p.dayTtl, label: 'tenant day' });
  if (t?.month !== undefined) out.push({ key: `bud:tenant:month:${p.month}`, limit: t.month, ttl_ms: p.monthTtl, label: 'tenant month' });
  for (const glob in config.per_action) {
    if (!globMatch(glob, req.action)) continue;
    const e = config.per_action[glob]!;
    // Tenant-wide unless per: agent; the glob names the bucket, so every action it matches adds up together.
    const whose = e.per === 'agent' ? `agent:${agent}` : 'tenant';
    const base = `bud:action:${glob}:${whose}`;
    const label = `action ${glob} ${e.per === 'agent' ? `agent ${agent}` : 'tenant'}`;
    if (e.session !== undefined && sid !== undefined) out.push({ key: `${base}:session:${sid}`, limit: e.session, ttl_ms: SESSION_TTL_MS, label: `${label} session ${sid}` });
    if (e.run !== undefined) {
      const r = contextId(req, 'run_id');
      if (r !== undefined) out.push({ key: `${base}:run:${r}`, limit: e.run, ttl_ms: SESSION_TTL_MS, label: `${label} run ${r}` });
    }
    if (e.day !== undefined) out.push({ key: `${base}:day:${p.day}`, limit: e.day, ttl_ms: p.dayTtl, label: `${label} day` });
    if (e.month !== undefined) out.push({ key: `${base}:month:${p.month}`, limit: e.month, ttl_ms: p.monthTtl, label: `${label} month` });
  }
  return out;
}

export function queries(config: BudgetConfig, req: EvaluationRequest, now: number): CounterQuery[] {
  if (costOf(config, req) === 0) return [];
  return buckets(config, req, now).map((b) => ({ kind: 'total', key: b.key }));
}

const usd = (n: number) => n.toFixed(2);

export function evaluate(config: BudgetConfig, req: EvaluationRequest, counters: CounterValues, now: number): { findings: Finding[]; ops: CounterOp[] } {
  const cost = costOf(config, req);
  if (cost === 0) return { findings: [], ops: [] };
  const findings: Finding[] = [];
  if (config.max_call_cost !== undefined && cost > config.max_call_cost + EPSILON) {
    findings.push({ guard: 'budget', decision: 'deny', message: `budget: one call may cost at most ${config.max_call_cost}; this one costs ${usd(cost)}`, risk: 1 });
  }
  const bs = buckets(config, req, now);
  if (bs.length === 0) return { findings, ops: [] };
  for (const b of bs) {
    const spent = counters[b.key] ?? 0;
    const after = spent + cost;
    if (after > b.limit + EPSILON) {
      findings.push({ guard: 'budget', decision: 'deny', message: `budget exceeded: ${b.label} ${usd(spent)} + ${usd(cost)} > ${b.limit}`, risk: 1 });
    } else if (config.warn_threshold !== undefined && after + EPSILON >= config.warn_threshold * b.limit) {
      const share = after / b.limit;
      findings.push({
        guard: 'budget',
        decision: 'require_approval',
        message: `budget nearly spent: ${b.label} ${usd(spent)} + ${usd(cost)} is ${Math.round(share * 100)}% of ${b.limit}`,
        risk: Math.min(0.9, Math.max(0.5, share)),
      });
    }
  }
  const ops: CounterOp[] = [
    { kind: 'reserve', amount: cost, ttl_ms: config.reservation_ttl_seconds * 1000, buckets: bs.map(({ key, limit, ttl_ms }) => ({ key, limit, ttl_ms })) },
  ];
  return { findings, ops };
}
