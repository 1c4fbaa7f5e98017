// The custom guard: an admin-written CEL expression (./cel.ts) over the
// request — action, agent, params, context, cost_usd — the time in the guard's
// zone, and counters the guard declares. True: the guard's decision (deny or
// require_approval) with its reason. False: nothing. An error while
// evaluating (a missing key, a type mismatch, a result that is not a bool)
// makes the guard fail: closed (deny), unless the policy says fail_mode: open.
//
// A declared counter counts the calls that went ahead (a `hit` op, applied
// only when the decision is not deny) in a sliding window, per agent or per
// tenant, optionally only for some actions; `counters.NAME` reads the count
// before this call. Keys use the normalised agent id (../normalize.ts), like
// the rate limit. Pure.
import { z } from 'zod';
import type { EvaluationRequest } from '../evaluate.ts';
import { globMatch } from '../glob.ts';
import { normalizeText } from '../normalize.ts';
import { localTime, timeZone } from '../time.ts';
import { EvaluationBudgetExceeded, NO_CHECKPOINT, type Checkpoint } from '../time-budget.ts';
import { compile, MAX_EXPRESSION_LENGTH, run, toCelMap, type CelVars } from './cel.ts';
import type { CounterOp, CounterQuery, CounterValues, Finding } from './types.ts';

const glob = z.string().min(1).max(200);
const name = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'a lower-case name (letters, digits, - and _)');
const counterName = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'a lower_snake_case name');

const CounterSchema = z.strictObject({
  window_seconds: z.number().int().min(1).max(31 * 86_400),
  /** Only calls to these actions count (default: every call). */
  action: z.union([glob, z.array(glob).min(1).max(100)]).optional(),
  per: z.enum(['agent', 'tenant']).default('agent'),
});

export const CustomGuardSchema = z
  .strictObject({
    name,
    expression: z.string().min(1).max(MAX_EXPRESSION_LENGTH),
    decision: z.enum(['deny', 'require_approval']),
    reason: z.string().max(1000).optional(),
    /**
     * How risky a match makes the call, in [0, 1], for the decision's
     * risk_score (AgentHalt's `risk_score=0.6`). The admin sets it, never the
     * agent; it changes only the score, never the decision. Default: 1 for
     * deny, 0.5 for require_approval, as for a rule.
     */
    risk: z.number().min(0).max(1).optional(),
    /** The zone of the `time` variable (default UTC). */
    tz: timeZone.default('UTC'),
    counters: z.record(counterName, CounterSchema).default({}),
  })
  .superRefine((g, ctx) => {
    if (Object.keys(g.counters).length > 20) ctx.addIssue({ code: 'custom', path: ['counters'], message: 'at most 20 counters per guard' });
    for (const problem of compile(g.expression, Object.keys(g.counters)).problems) ctx.addIssue({ code: 'custom', path: ['expression'], message: problem });
  });

export const CustomGuardsSchema = z
  .array(CustomGuardSchema)
  .max(50)
  .superRefine((gs, ctx) => {
    const seen = new Set<string>();
    gs.forEach((g, i) => {
      if (seen.has(g.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate custom guard name "${g.name}"` });
      seen.add(g.name);
    });
  });

export type CustomGuardConfig = z.output<typeof CustomGuardSchema>;

interface Counter {
  name: string;
  key: string;
  window_ms: number;
  counts: boolean;
}

function counters(g: CustomGuardConfig, req: EvaluationRequest): Counter[] {
  return Object.entries(g.counters).map(([n, c]) => ({
    name: n,
    key: c.per === 'tenant' ? `cg:${g.name}:${n}:t` : `cg:${g.name}:${n}:a:${normalizeText(req.agent_id)}`,
    window_ms: c.window_seconds * 1000,
    counts: c.action === undefined || globMatch(c.action, req.action),
  }));
}

export function queries(gs: readonly CustomGuardConfig[], req: EvaluationRequest): CounterQuery[] {
  return gs.flatMap((g) => counters(g, req).map((c): CounterQuery => ({ kind: 'window', key: c.key, window_ms: c.window_ms })));
}

/** Does this guard read counters (and so need them from the edge)? */
export const isStateful = (g: CustomGuardConfig) => Object.keys(g.counters).length > 0;

/**
 * The request as CEL sees it, shared by the custom guards of one request:
 * params and context are converted (./cel.ts toCelValue) the first time an
 * expression names them, then reused; a conversion that fails (too deep)
 * fails each guard that reads them.
 */
export class RequestView {
  #params: Map<string, unknown> | undefined;
  #context: Map<string, unknown> | undefined;
  constructor(
    readonly req: EvaluationRequest,
    readonly checkpoint: Checkpoint = NO_CHECKPOINT,
  ) {}
  get params(): Map<string, unknown> {
    return (this.#params ??= toCelMap(this.req.params, this.checkpoint));
  }
  get context(): Map<string, unknown> {
    return (this.#context ??= toCelMap(this.req.context, this.checkpoint));
  }
  get cost_usd(): number {
    const cost = this.req.cost_usd;
    return typeof cost === 'number' && Number.isFinite(cost) ? cost : 0;
  }
}

const EMPTY = new Map<string, unknown>();

function timeVar(now: number, tz: string): Map<string, unknown> {
  const t = localTime(now, tz);
  return new Map<string, unknown>([
    ['hour', BigInt(t.hour)],
    ['minute', BigInt(t.minute)],
    ['weekday', t.weekday],
    ['date', t.date],
    ['tz', t.tz],
  ]);
}

/** One custom guard; throws (the guard fails) when the expression cannot be evaluated. */
export function evaluate(
  g: CustomGuardConfig,
  req: EvaluationRequest,
  view: RequestView,
  values: CounterValues,
  now: number,
): { findings: Finding[]; ops: CounterOp[] } {
  const compiled = compile(g.expression, Object.keys(g.counters));
  if (!compiled.program) throw new Error(`custom guard ${g.name}: ${compiled.problems.join('; ')}`);
  const cs = counters(g, req);
  let hit: boolean;
  try {
    const uses = compiled.uses;
    const vars: CelVars = {
      action: req.action,
      agent: req.agent_id,
      params: uses.has('params') ? view.params : EMPTY,
      context: uses.has('context') ? view.context : EMPTY,
      cost_usd: view.cost_usd,
      time: timeVar(now, g.tz),
      counters: new Map(cs.map((c) => [c.name, BigInt(Math.max(0, Math.floor(values[c.key] ?? 0)))])),
    };
    hit = run(compiled.program, vars);
  } catch (err) {
    if (err instanceof EvaluationBudgetExceeded) throw err;
    throw new Error(`custom guard ${g.name}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const ops: CounterOp[] = cs.filter((c) => c.counts).map((c) => ({ kind: 'hit', key: c.key, window_ms: c.window_ms, amount: 1 }));
  const findings: Finding[] = hit
    ? [{ guard: 'custom', decision: g.decision, message: g.reason ?? `custom guard ${g.name} matched`, risk: g.risk ?? (g.decision === 'deny' ? 1 : 0.5) }]
    : [];
  return { findings, ops };
}
