// The contract between the pure guard engine (src/policy/guards) and the edge
// that keeps its counters (Redis, in src/services). Pure types only.
//
// Flow, per check / guard call:
//   1. queries = counterQueries(policy, req, now)        — what the guards need to know
//   2. values  = await store.read(tenant, queries)        — the edge reads them (one round trip)
//   3. outcome = evaluate(policy, req, { counters: values, now })   — pure
//   4. if the outcome goes ahead (not deny): await store.apply(tenant, outcome.ops)
//      — atomic; a `reserve` or `count` past its limit, or a `gap` whose
//      cooldown is alive, is refused (nothing is applied), and the edge then
//      evaluates once more on fresh counters, denying if refused again (this is
//      what stops 50 concurrent calls from overspending a budget).
//   5. on report / complete: store.settle(tenant, reservation id, actual cost);
//      on reject / expire / cancel / fail: store.release(tenant, reservation id).

export type GuardName = 'budget' | 'rate_limit' | 'sensitive_data' | 'scope' | 'purchase' | 'deletion' | 'custom';

/** What a guard asks the edge to read before evaluation. Keys are tenant-relative. */
export type CounterQuery =
  /** Hits recorded under `key` within the last `window_ms` (sliding window). */
  | { kind: 'window'; key: string; window_ms: number }
  /** A running total: committed spend plus live reservations in a fixed period bucket (the key names the bucket). */
  | { kind: 'total'; key: string }
  /** 1 while a flag set by a `flag` or `gap` op is alive, else 0 (a cooldown). */
  | { kind: 'flag'; key: string }
  /** A plain count kept by `count` ops (calls per day, per session). */
  | { kind: 'count'; key: string };

/** key → value; a key the edge could not find is 0. */
export type CounterValues = Readonly<Record<string, number>>;

/** What the edge applies after the decision, if the action goes ahead. */
export type CounterOp =
  /** Record `amount` hits now under `key`, kept for `window_ms`. */
  | { kind: 'hit'; key: string; window_ms: number; amount: number }
  /** Raise a flag for `ttl_ms` (a burst's cooldown). */
  | { kind: 'flag'; key: string; ttl_ms: number }
  /**
   * Hold `amount` against each `{key, limit}` until settled or released (or
   * `ttl_ms` passes): all or nothing, refused when any total would exceed its limit.
   */
  | {
      kind: 'reserve';
      amount: number;
      ttl_ms: number;
      buckets: { key: string; limit: number; ttl_ms: number }[];
      /**
       * Settle at the amount held whatever cost the report gives: a count of
       * purchases or deletions, a purchase's amount. Absent: a budget, which
       * settles at the reported cost.
       */
      fixed?: true;
    }
  /**
   * Add `amount` to the count at `key` (kept `ttl_ms` from now), refused when
   * the count would pass `limit` (null: never refused). Not released when an
   * approval is rejected: it counts calls that were let through.
   */
  | { kind: 'count'; key: string; amount: number; limit: number | null; ttl_ms: number }
  /**
   * Start a cooldown of `ttl_ms` at `key`, refused while one is alive there:
   * of concurrent calls, one goes ahead. Unlike `flag`, a denied call never
   * starts one.
   */
  | { kind: 'gap'; key: string; ttl_ms: number };

/** What one guard finding asks for; `modify` = go ahead with the redacted params. */
export type FindingDecision = 'allow' | 'modify' | 'require_approval' | 'deny';

/** One guard's verdict on one aspect of a request. Never carries a sensitive value. */
export interface Finding {
  guard: GuardName;
  decision: FindingDecision;
  message: string;
  /** How risky this finding makes the request, in [0, 1]. */
  risk: number;
  /** The params paths concerned (sensitive_data), dotted: `params.cards.0.number`. */
  paths?: string[];
}
