// The edge of policy evaluation: read the counters the guards ask for (one
// Redis round trip), evaluate purely, then apply the counter ops atomically.
// A reservation, count or cooldown that another call beat to the limit is
// refused; the request is then evaluated once more on fresh counters (so
// on_limit: require_approval can still send it for approval), and denied if
// refused again. Redis unreachable: the stateful guards fail closed, or open when
// the tenant policy says fail_mode: open (and the decision says so). The edge
// owns the clock: it hands the pure core `elapsed()` for the time budget.
import type { Logger } from '../log.ts';
import { counterQueries } from '../policy/guards/index.ts';
import type { CounterOp, CounterValues, GuardName } from '../policy/guards/types.ts';
import { evaluateRequest, type EvaluationRequest } from '../policy/evaluate.ts';
import type { CounterStore } from './counters.ts';
import type { ActivePolicy, PolicyStore } from './policies.ts';

export type Evaluated = ReturnType<typeof evaluateRequest>;

export interface EvaluatorDeps {
  policies: PolicyStore;
  counters: CounterStore;
  log: Logger;
  clock: () => Date;
}

// The evaluation's time budget counts pure evaluation only, not the Redis
// round trips around it: a slow Redis is a dependency problem, not a policy one.
function stopwatch(): () => number {
  const started = performance.now();
  return () => performance.now() - started;
}

/** Which guard a counter key belongs to (each guard names its keys with its own prefix). */
function guardOf(key: string): GuardName {
  if (key.startsWith('pur:')) return 'purchase';
  if (key.startsWith('del:')) return 'deletion';
  if (key.startsWith('rl:')) return 'rate_limit';
  return 'budget';
}

function refusal(r: { key: string; limit: number; total: number }): string {
  const guard = guardOf(r.key);
  const gap = r.key.startsWith('rl:gap:') || (guard === 'deletion' && r.key.includes(':gap:'));
  if (gap) return `${guard}: a concurrent call started the cooldown first`;
  const what = guard === 'budget' ? 'budget exhausted' : `${guard} limit reached`;
  return `${what} by concurrent calls (${r.key}: ${r.total} held of ${r.limit})`;
}

function reservedBuckets(ops: readonly CounterOp[]): string[] {
  return ops.flatMap((op) => (op.kind === 'reserve' ? op.buckets.map((b) => b.key) : []));
}

export function createEvaluator(deps: EvaluatorDeps) {
  const { log } = deps;

  return {
    /**
     * Evaluates a request for a tenant. `reservationId` names the budget
     * reservation (the decision id); with `dryRun` nothing is written.
     */
    async evaluate(
      tenantId: string,
      req: EvaluationRequest,
      reservationId: string,
      opts: { dryRun?: boolean; policy?: ActivePolicy } = {},
    ): Promise<{ active: ActivePolicy; evaluation: Evaluated; buckets: string[]; eval_ms: number; applied: CounterOp[] }> {
      const started = performance.now();
      const active = opts.policy ?? (await deps.policies.current(tenantId));
      const now = deps.clock().getTime();
      const queries = counterQueries(active.policy, req, now);
      let counters: CounterValues | null = {};
      if (queries.length > 0) {
        try {
          counters = await deps.counters.read(tenantId, queries, now);
        } catch (err) {
          log.warn('guard counters unavailable', { err });
          counters = null;
        }
      }
      let evaluation = evaluateRequest(active.policy, req, { counters, now, elapsed: stopwatch() });
      let buckets: string[] = [];
      // What this call wrote to the counters, for undo() if the request then fails.
      let applied: CounterOp[] = [];
      // On a deny the engine leaves only the ops that must still happen (a burst's cooldown flag).
      if (!opts.dryRun && counters !== null && evaluation.ops.length > 0) {
        try {
          let result = await deps.counters.apply(tenantId, evaluation.ops, reservationId, now);
          if (!result.ok) {
            // A concurrent call took what this one counted on (nothing was
            // applied): look again on fresh counters, once. The second look
            // says what the limit now says — deny, or on_limit's approval.
            const fresh = await deps.counters.read(tenantId, queries, now);
            const again = evaluateRequest(active.policy, req, { counters: fresh, now, elapsed: stopwatch() });
            result = again.ops.length > 0 ? await deps.counters.apply(tenantId, again.ops, reservationId, now) : { ok: true };
            if (result.ok) evaluation = again;
          }
          if (result.ok) {
            buckets = reservedBuckets(evaluation.ops);
            applied = evaluation.ops;
          } else {
            evaluation = {
              ...evaluation,
              decision: 'deny',
              routing: null,
              reasons: [
                ...evaluation.reasons,
                ...result.refused.map((r) => ({ source: 'guard' as const, guard: guardOf(r.key), decision: 'deny' as const, message: refusal(r) })),
              ],
            } as Evaluated;
          }
        } catch (err) {
          log.warn('guard counters could not be updated', { err });
          evaluation = evaluateRequest(active.policy, req, { counters: null, now, elapsed: stopwatch() });
        }
      }
      return { active, evaluation, buckets, eval_ms: performance.now() - started, applied };
    },

    /** The action ran: its reservation becomes spend (the actual cost when reported). Best effort. */
    async settle(tenantId: string, reservationId: string, buckets: readonly string[], cost: number | null): Promise<void> {
      if (buckets.length === 0) return;
      await deps.counters
        .settle(tenantId, reservationId, buckets, cost, deps.clock().getTime())
        .catch((err) => log.warn('could not settle a budget reservation; it lapses on its own', { err }));
    },

    /**
     * The request failed after evaluation (a refusal, a database error, a lost
     * race for its idempotency key): take back its window hits and its
     * reservations, so a call that left no decision behind costs nothing.
     * Best effort: a Redis that is down now loses the hits with the window and
     * the reservations with their ttl.
     */
    async undo(tenantId: string, reservationId: string, applied: readonly CounterOp[]): Promise<void> {
      if (applied.length === 0) return;
      await deps.counters.undo(tenantId, applied, reservationId).catch((err) => log.warn('could not take back the counters of a failed request', { err }));
    },

    /** The action will not run: free what it held. Best effort (reservations lapse anyway). */
    async release(tenantId: string, reservationId: string, buckets: readonly string[]): Promise<void> {
      if (buckets.length === 0) return;
      await deps.counters.release(tenantId, reservationId, buckets).catch((err) => log.warn('could not release a budget reservation', { err }));
    },
  };
}

export type Evaluator = ReturnType<typeof createEvaluator>;
