// The guard engine: what the guards need to read, and what they decide given
// those counters. Pure: counters and `now` come in as arguments; the edge reads
// and applies them (see ./types.ts for the whole flow).
import type { EvaluationRequest } from '../evaluate.ts';
import type { Policy } from '../schema.ts';
import { EvaluationBudgetExceeded, budgetCheck } from '../time-budget.ts';
import * as budget from './budget.ts';
import * as custom from './custom.ts';
import * as deletion from './deletion.ts';
import * as purchase from './purchase.ts';
import * as rateLimit from './rate-limit.ts';
import * as scope from './scope.ts';
import * as sensitive from './sensitive.ts';
import type { CounterOp, CounterQuery, CounterValues, Finding, GuardName } from './types.ts';

export type { CounterOp, CounterQuery, CounterValues, Finding, FindingDecision, GuardName } from './types.ts';
export type { BudgetConfig, DeletionConfig, GuardsConfig, PurchaseConfig, RateLimitConfig, ScopeConfig, SensitiveDataConfig } from './config.ts';
export { GuardsSchema } from './config.ts';
export { detect, luhn, redact, scanString, type SensitiveFinding } from './sensitive.ts';
export { paramsHash } from './canonical.ts';

/** What the edge passes when it could not read the counters: the stateful guards then fail (closed, or open by policy). */
export const COUNTERS_UNAVAILABLE = null;

export interface GuardContext {
  /** The values of counterQueries(); null (COUNTERS_UNAVAILABLE) when the store could not be read. */
  counters: CounterValues | null;
  /** Epoch milliseconds. */
  now: number;
  /**
   * Milliseconds since this evaluation started, from the edge's monotonic
   * clock; asked between units of work against `evaluation_budget_ms`
   * (../time-budget.ts). Absent: no time budget (tests, the CLI).
   */
  elapsed?: () => number;
}

/** A guard that could not decide: it threw, or it needed counters that were unavailable. */
export interface GuardFailure {
  guard: GuardName;
  message: string;
}

export interface GuardsOutcome {
  findings: Finding[];
  /** Every op the guards want applied if the call goes ahead (evaluateRequest filters them by the decision). */
  ops: CounterOp[];
  /** params with every sensitive value masked; set when anything was redacted. */
  params?: Record<string, unknown>;
  redacted_paths: string[];
  /** 1 − Π(1 − risk) over the findings. */
  risk_score: number;
  failures: GuardFailure[];
  /** The time budget ran out: the guards after the one running then did not run (findings so far are kept). */
  budget_exceeded?: true;
}

/** 1 − Π(1 − r), clamped to [0, 1]: independent signals that each add risk. */
export function combineRisk(risks: Iterable<number>): number {
  let keep = 1;
  for (const r of risks) keep *= 1 - Math.min(1, Math.max(0, Number.isFinite(r) ? r : 1));
  return Math.min(1, Math.max(0, 1 - keep));
}

/** Everything the guards need read before evaluation, deduplicated. A guard whose queries fail asks for nothing (and fails in evaluation). */
export function counterQueries(policy: Policy, req: EvaluationRequest, now: number): CounterQuery[] {
  const g = policy.guards;
  if (!g) return [];
  const out = new Map<string, CounterQuery>();
  const add = (qs: () => CounterQuery[]) => {
    try {
      for (const q of qs()) out.set(`${q.kind}\0${q.key}\0${q.kind === 'window' ? q.window_ms : ''}`, q);
    } catch {
      // evaluateGuards runs the same code and reports the failure.
    }
  };
  if (g.rate_limit) add(() => rateLimit.queries(g.rate_limit!, req, now));
  if (g.budget) add(() => budget.queries(g.budget!, req, now));
  if (g.purchase) add(() => purchase.queries(g.purchase!, req, now));
  if (g.deletion) add(() => deletion.queries(g.deletion!, req, now));
  if (g.custom) add(() => custom.queries(g.custom!, req));
  return [...out.values()];
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Runs every configured guard; one that throws (or lacks its counters) is reported in `failures`, the others still run. */
export function evaluateGuards(policy: Policy, req: EvaluationRequest, ctx: GuardContext): GuardsOutcome {
  const g = policy.guards ?? {};
  const findings: Finding[] = [];
  const ops: CounterOp[] = [];
  const failures: GuardFailure[] = [];
  let params: Record<string, unknown> | undefined;
  let redacted_paths: string[] = [];

  const checkpoint = budgetCheck(policy, ctx);
  const run = (guard: GuardName, fn: () => { findings: Finding[]; ops: CounterOp[] }) => {
    checkpoint();
    try {
      const r = fn();
      findings.push(...r.findings);
      ops.push(...r.ops);
    } catch (err) {
      if (err instanceof EvaluationBudgetExceeded) throw err;
      failures.push({ guard, message: message(err) });
    }
  };
  const stateful = (guard: GuardName, fn: (counters: CounterValues) => { findings: Finding[]; ops: CounterOp[] }) => {
    const counters = ctx.counters;
    if (counters === null) failures.push({ guard, message: 'counters unavailable' });
    else run(guard, () => fn(counters));
  };

  let exceeded = false;
  try {
    if (g.scope) run('scope', () => scope.evaluate(g.scope!, req));
    if (g.sensitive_data) {
      run('sensitive_data', () => {
        const r = sensitive.evaluate(g.sensitive_data!, req, checkpoint);
        params = r.params;
        redacted_paths = r.redacted_paths;
        return r;
      });
    }
    if (g.rate_limit) stateful('rate_limit', (c) => rateLimit.evaluate(g.rate_limit!, req, c, ctx.now));
    if (g.budget) stateful('budget', (c) => budget.evaluate(g.budget!, req, c, ctx.now));
    if (g.purchase) stateful('purchase', (c) => purchase.evaluate(g.purchase!, req, c, ctx.now));
    if (g.deletion) stateful('deletion', (c) => deletion.evaluate(g.deletion!, req, c, ctx.now, checkpoint));
    if (g.custom && g.custom.length > 0) {
      // One unit of work per guard: the time budget is asked before each.
      const view = new custom.RequestView(req, checkpoint);
      for (const cg of g.custom) {
        const counters = custom.isStateful(cg) ? ctx.counters : {};
        if (counters === null) failures.push({ guard: 'custom', message: `custom guard ${cg.name}: counters unavailable` });
        else run('custom', () => custom.evaluate(cg, req, view, counters, ctx.now));
      }
    }
  } catch (err) {
    if (!(err instanceof EvaluationBudgetExceeded)) throw err;
    exceeded = true;
  }

  return {
    findings,
    ops,
    ...(params === undefined ? {} : { params }),
    redacted_paths,
    risk_score: combineRisk(findings.map((f) => f.risk)),
    failures,
    ...(exceeded ? { budget_exceeded: true as const } : {}),
  };
}
