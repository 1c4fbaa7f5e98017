// The options of the client and of its calls: what a caller may set, with the
// defaults said where they are set. Types only: nothing here runs.
import type { Spent } from './fields.ts';
import type { ReplayOptions } from './replay.ts';
import type { FetchLike } from './transport.ts';
import type { Decision, WaitOption } from './types.ts';

/**
 * Options for `new Holdpoint(...)`.
 *
 * @example
 * const opts: HoldpointOptions = { baseUrl: 'http://localhost:8080', apiKey: process.env.AGENT_KEY, agentId: 'billing-bot' };
 */
export interface HoldpointOptions {
  /** Default: `HOLDPOINT_URL`. Not needed in replay mode. */
  baseUrl?: string;
  /** An agent key. Default: `HOLDPOINT_API_KEY`. Not needed in replay mode. */
  apiKey?: string;
  /** Sent as `agent_id` unless a call names its own (the server's default is `default`). */
  agentId?: string;
  /**
   * Allow when Holdpoint is unreachable — connection refused or reset, DNS
   * failure, timeout, or Holdpoint's own `503 dependency_unavailable`, after
   * all retries — and say so (`failedOpen: true`). Nothing else opens: not a
   * 4xx, not a 500 or a proxy's bare 5xx (`ServerError`), not params JSON
   * cannot carry (`InvalidRequest`). Default false: throw `ConnectionError`.
   */
  failOpen?: boolean;
  /** Per HTTP attempt (long-polls add their wait on top). Default 10 000. */
  timeoutMs?: number;
  /** Retries after a network error, timeout or 5xx; 4xx never retries. Default 3. */
  retries?: number;
  /** The first retry's delay; doubles each time (capped at 5 s), with jitter. Default 250. */
  retryDelayMs?: number;
  /** A fetch to use instead of the global one. */
  fetch?: FetchLike;
  /**
   * Record this run's check / guard answers, or answer from such a recording
   * with no server at all (deterministic tests). The store is yours to give:
   * `memoryReplayStore()` here, or a JSON Lines file from
   * `holdpoint/client/replay-file` (`recordTo(path)`, `replayFrom(path)`) on Node.
   * A call the recording does not hold throws `ReplayDivergence`.
   */
  replay?: ReplayOptions;
}

/**
 * Options for `check`.
 *
 * @example
 * await hp.check('payment.send', { params: { amount: 20 }, context: { user: 'u1' } } satisfies CheckOptions);
 */
export interface CheckOptions {
  params?: Record<string, unknown>;
  agentId?: string;
  context?: Record<string, unknown>;
  /** What the action will cost in USD (`cost_usd`): what a budget guard reserves. 0 to 1e9. */
  costUsd?: number;
  /**
   * Labels for the decision log (`tags`): at most 20, each 1–64 characters of
   * letters, digits and `_ . : / -` (not starting with `. : / -`); anything else is
   * `InvalidRequest` before sending.
   */
  tags?: string[];
}

/**
 * Options for `guard` and `withGuard`.
 *
 * @example
 * const opts: GuardOptions = { idempotencyKey: `invoice-${invoice.id}`, params: { amount: 5000 }, wait: 10 * 60_000 };
 */
export interface GuardOptions {
  /** Required: retries with the same key get the same decision and the same approval. */
  idempotencyKey: string;
  params?: Record<string, unknown>;
  agentId?: string;
  context?: Record<string, unknown>;
  /** What the action will cost in USD (`cost_usd`): what a budget guard reserves. 0 to 1e9. */
  costUsd?: number;
  /** Labels for the decision log (`tags`), as for `check`. */
  tags?: string[];
  /** Ask for a deadline shorter than the policy's. */
  timeoutSeconds?: number;
  /** Where Holdpoint sends this approval's webhooks. */
  callbackUrl?: string;
  /** Block until a human decides: `true` until the approval's deadline, or a number of ms. */
  wait?: WaitOption;
  /** The execution lease taken on an approved action (server default 300 s). */
  leaseSeconds?: number;
  /** Aborts a wait (and any request in flight). */
  signal?: AbortSignal;
}

/**
 * Options for `waitForDecision`.
 *
 * @example
 * await hp.waitForDecision('invoice-1001', { timeoutMs: 60_000 } satisfies WaitOptions);
 */
export interface WaitOptions {
  /** Default: until the approval's own deadline (plus a small margin). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Options for `guarded`: the guard options, with the key (and optionally the
 * params) computed from the wrapped function's arguments.
 *
 * @example
 * const opts: GuardedOptions<[string, number]> = { idempotencyKey: (to, amount) => `pay-${to}-${amount}`, wait: true };
 */
export type GuardedOptions<A extends unknown[]> = Omit<GuardOptions, 'idempotencyKey' | 'params'> & {
  idempotencyKey: (...args: A) => string;
  /** Default: the single plain-object argument itself, else `{ args }`. */
  params?: (...args: A) => Record<string, unknown>;
  /**
   * The inverse of `params`: the arguments to call `fn` with, from the params
   * Holdpoint granted, when they differ from what was sent (the policy
   * redacted something). Needed only with a custom `params`; without it such
   * a call throws `params_modified` rather than run `fn` on the originals.
   */
  fromParams?: (params: Record<string, unknown>, original: A) => [...A];
};

/**
 * The options of the positional `guard(action, params, idempotencyKey, options?)`:
 * the guard options without the two given in place.
 *
 * @example
 * await hp.guard('database.delete', { table: 'users', id: 123 }, 'delete-user-123', { wait: true } satisfies GuardRestOptions);
 */
export type GuardRestOptions = Omit<GuardOptions, 'params' | 'idempotencyKey'>;

/**
 * What `report` says about an action a `check` allowed.
 *
 * @example
 * await hp.report(decision, { status: 'success', result: { id: 'msg_1' }, durationMs: 84, costUsd: 0.002 } satisfies ReportOptions);
 */
export interface ReportOptions extends Spent {
  /** `success` / `completed`, or `error` / `failed`. */
  status: 'success' | 'completed' | 'error' | 'failed';
  /** What the action returned (JSON). */
  result?: unknown;
  /** On a failure, what went wrong: an `Error` is sent as `{name, message}`. */
  error?: unknown;
}

/**
 * What `report` accepts as the decision: the `Decision` from `check`, or its id.
 *
 * @example
 * const d: Reportable = await hp.check('email.send', { params });
 */
export type Reportable = Decision | string;
