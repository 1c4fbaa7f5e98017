// The Holdpoint client: check, guard (with claim and long-poll), and the
// helpers around them. Fetch only, so it runs on Node ≥ 20, Deno, Bun and edge
// runtimes, and importing it loads nothing of the server.
import { ActionDenied, ApprovalPending, ConnectionError, HoldpointError, InvalidRequest } from './errors.ts';
import { configured, env, extras, guardOptions, replayCall, REPORT_STATUS } from './arguments.ts';
import { byKeyPath, settle, waitUntil } from './approval-wait.ts';
import { spentFields } from './fields.ts';
import { jsonSnapshot } from './json.ts';
import { argsFor, defaultFromParams, defaultParams, granted, type Asked } from './params.ts';
import { allowedPermit, failedOpenPermit, reportDecision, runUnderPermit, serialiseError } from './permit.ts';
import { createReplayer, type Replayer } from './replay.ts';
import { createTransport, offlineTransport, type Transport } from './transport.ts';
import type { Approval, Decision, Permit, Reason } from './types.ts';
import { usagePath, type Usage, type UsageOptions } from './usage.ts';
import type { CheckOptions, GuardedOptions, GuardOptions, GuardRestOptions, HoldpointOptions, Reportable, ReportOptions, WaitOptions } from './options.ts';

export type { CheckOptions, GuardedOptions, GuardOptions, GuardRestOptions, HoldpointOptions, Reportable, ReportOptions, WaitOptions } from './options.ts';

interface GuardReply {
  status: 'allowed' | 'denied' | Approval['status'];
  reasons: Reason[];
  decision_id: string;
  policy_version: number | null;
  /** Present when the policy redacted sensitive values: the params to act on. */
  params?: Record<string, unknown>;
  redacted_paths?: string[];
  approval: Approval | null;
}

interface CheckReply {
  decision: Decision['decision'];
  reasons: Reason[];
  decision_id: string;
  policy_version: number;
  matched_rules: string[];
  params?: Record<string, unknown>;
  redacted_paths?: string[];
}

/** How long past an approval's deadline `wait: true` keeps listening for the expiry to land. */
const DEADLINE_MARGIN_MS = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const failOpenReason = (err: ConnectionError): Reason => ({
  source: 'sdk',
  decision: 'allow',
  message: `allowed without Holdpoint (failOpen, ${err.code}): ${err.message}`,
});

/** The failures `failOpen` may turn into an allow: Holdpoint unreachable, nothing else. */
const OUTAGES = new Set(['connection_failed', 'timeout', 'dependency_unavailable']);
const isOutage = (err: unknown): err is ConnectionError => err instanceof ConnectionError && OUTAGES.has(err.code);

const DECISIONS = new Set<string>(['allow', 'modify', 'deny', 'require_approval']);
const GUARD_STATUSES = new Set<string>(['allowed', 'denied', 'pending', 'approved', 'rejected', 'expired', 'cancelled', 'executing', 'completed', 'failed']);

function unexpected(status: number, what: string, body: unknown): HoldpointError {
  return new HoldpointError('unexpected_response', `Holdpoint's answer to ${what} is not one it gives`, { status, details: { body } });
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const pathsOf = (v: unknown): string[] => (Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string') : []);

/**
 * The Holdpoint client. Ask before acting with `guard` (or `withGuard`), or
 * just ask with `check`.
 *
 * @example
 * import { Holdpoint } from 'holdpoint/client';
 *
 * const hp = new Holdpoint({ baseUrl: 'http://localhost:8080', apiKey: process.env.HOLDPOINT_API_KEY });
 * const receipt = await hp.withGuard(
 *   'payment.send',
 *   { idempotencyKey: `invoice-${invoice.id}`, params: { amount: invoice.amount, to: invoice.account }, wait: true },
 *   (permit) => payments.send(permit.params),
 * );
 */
export class Holdpoint {
  readonly baseUrl: string;
  readonly agentId: string | undefined;
  readonly failOpen: boolean;
  readonly timeoutMs: number;
  readonly #t: Transport;
  readonly #replay: Replayer | undefined;

  constructor(options: HoldpointOptions = {}) {
    this.#replay = options.replay === undefined ? undefined : createReplayer(options.replay);
    this.agentId = options.agentId;
    this.failOpen = options.failOpen ?? false;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    if (this.#replay?.mode === 'replay') {
      // Answers come from the recording; nothing may reach a server, so no server is needed.
      this.baseUrl = options.baseUrl ?? '';
      this.#t = offlineTransport();
      return;
    }
    const baseUrl = options.baseUrl ?? env('HOLDPOINT_URL');
    const apiKey = options.apiKey ?? env('HOLDPOINT_API_KEY');
    const missing = [!baseUrl && 'baseUrl (or HOLDPOINT_URL)', !apiKey && 'apiKey (or HOLDPOINT_API_KEY)'].filter(Boolean);
    if (!baseUrl || !apiKey) throw new HoldpointError('config_missing', `Holdpoint needs ${missing.join(' and ')}`);
    this.baseUrl = configured(baseUrl, apiKey);
    const f = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#t = createTransport({
      baseUrl: this.baseUrl,
      apiKey,
      timeoutMs: this.timeoutMs,
      retries: options.retries ?? 3,
      retryDelayMs: options.retryDelayMs ?? 250,
      fetch: f,
    });
  }

  /**
   * Evaluates the policy for an action without parking anything (`POST /v1/check`).
   * When the policy redacts sensitive values the answer is `modified` (not
   * `allowed`) and `params` holds the redacted params: act on those. Params
   * or context JSON cannot carry throw `InvalidRequest` before anything is
   * sent.
   *
   * @example
   * const d = await hp.check('email.send', { params: { to: 'ceo@example.com', body } });
   * if (d.requiresApproval) console.log('this one would need a human:', d.reasons);
   * if (d.modified) console.log('redacted:', d.redactedPaths, '→ send', d.params);
   */
  async check(action: string, options: CheckOptions = {}): Promise<Decision> {
    const agentId = options.agentId ?? this.agentId;
    const body = jsonSnapshot(
      { action, params: options.params ?? {}, ...(agentId ? { agent_id: agentId } : {}), ...(options.context ? { context: options.context } : {}), ...extras(options) },
      '',
    ) as { params: Record<string, unknown> };
    if (!this.#replay) return this.#check(body);
    return this.#replay.check(replayCall('check', action, agentId, null, body), () => this.#check(body));
  }

  async #check(body: { params: Record<string, unknown> }): Promise<Decision> {
    let reply: { status: number; body: CheckReply };
    try {
      reply = await this.#t.request<CheckReply>({ method: 'POST', path: '/v1/check', body });
    } catch (err) {
      if (this.failOpen && isOutage(err)) {
        return { allowed: true, modified: false, denied: false, requiresApproval: false, decision: 'allow', reasons: [failOpenReason(err)], decisionId: null, policyVersion: null, matchedRules: [], params: body.params, redactedPaths: [], failedOpen: true };
      }
      throw err;
    }
    const r = reply.body;
    if (!isRecord(r) || !DECISIONS.has(r.decision as string)) throw unexpected(reply.status, 'check', r);
    const redactedPaths = pathsOf(r.redacted_paths);
    // Never fall back to what was sent when the server says it redacted something.
    if (!isRecord(r.params) && (redactedPaths.length > 0 || r.decision === 'modify')) throw unexpected(reply.status, 'check (redacted, without the params)', r);
    return {
      allowed: r.decision === 'allow',
      modified: r.decision === 'modify',
      denied: r.decision === 'deny',
      requiresApproval: r.decision === 'require_approval',
      decision: r.decision,
      reasons: r.reasons,
      decisionId: r.decision_id,
      policyVersion: r.policy_version,
      matchedRules: r.matched_rules ?? [],
      params: isRecord(r.params) ? r.params : body.params,
      redactedPaths,
      failedOpen: false,
    };
  }

  /**
   * Asks before acting (`POST /v1/guard`). Resolves to a `Permit` when the
   * policy allows the action or a human approved it — in which case this
   * process has claimed the approval, so two processes retrying the same key
   * never both run it. Otherwise throws: `ActionDenied`, `ApprovalPending`
   * (not decided and not waiting), `ActionRejected`, `ActionTimeout`,
   * `ActionClaimed` (another process holds or ran it), or `HoldpointError`
   * `cancelled`. With `wait` it long-polls through server restarts and network
   * errors until a decision or the wait's end.
   *
   * `permit.params` is what to act on: the approval's params when a human
   * decided, the server's redacted params when the policy masked sensitive
   * values (`permit.modified`, `permit.redactedPaths`) — never the unredacted
   * originals. Params JSON cannot carry throw `InvalidRequest` before
   * anything is sent; with `failOpen`, only an unreachable Holdpoint allows.
   *
   * @example
   * const permit = await hp.guard('payment.send', {
   *   idempotencyKey: 'invoice-1001',
   *   params: { amount: 5000, to: 'acct_42' },
   *   wait: 15 * 60_000,
   * });
   * const payment = await pay(permit.params);
   * await permit.complete({ payment_id: payment.id });
   */
  guard(action: string, options: GuardOptions): Promise<Permit>;
  /**
   * The positional form (as HaltState's SDKs write it): `guard(action, params,
   * idempotencyKey, options?)`. A string third argument is what makes a call
   * positional; without one, the second argument is the options object.
   *
   * @example
   * const permit = await hp.guard('database.delete', { table: 'users', id: 123 }, 'delete-user-123');
   * await deleteUser(123);
   * await permit.complete();
   */
  guard(action: string, params: Record<string, unknown>, idempotencyKey: string, options?: GuardRestOptions): Promise<Permit>;
  async guard(action: string, second: GuardOptions | Record<string, unknown>, idempotencyKey?: string, rest?: GuardRestOptions): Promise<Permit> {
    const options = guardOptions(second, idempotencyKey, rest);
    const key = options?.idempotencyKey;
    if (typeof key !== 'string' || key === '') {
      throw new HoldpointError('idempotency_key_missing', 'guard needs an idempotencyKey: the same key on every retry of the same action');
    }
    const started = Date.now();
    const agentId = options.agentId ?? this.agentId;
    const body = jsonSnapshot(
      {
        action,
        params: options.params ?? {},
        idempotency_key: key,
        ...(agentId ? { agent_id: agentId } : {}),
        ...(options.context ? { context: options.context } : {}),
        ...extras(options),
        ...(options.timeoutSeconds !== undefined ? { timeout_seconds: options.timeoutSeconds } : {}),
        ...(options.callbackUrl !== undefined ? { callback_url: options.callbackUrl } : {}),
      },
      '',
    ) as { params: Record<string, unknown> };
    if (!this.#replay) return this.#guard(key, body, options, started);
    return this.#replay.guard(replayCall('guard', action, agentId, key, body), () => this.#guard(key, body, options, started));
  }

  async #guard(key: string, body: { params: Record<string, unknown> }, options: GuardOptions, started: number): Promise<Permit> {
    let reply: { status: number; body: GuardReply };
    try {
      reply = await this.#t.request<GuardReply>({ method: 'POST', path: '/v1/guard', body, ...(options.signal ? { signal: options.signal } : {}) });
    } catch (err) {
      if (this.failOpen && isOutage(err)) return failedOpenPermit(body.params);
      throw err;
    }
    const g = reply.body;
    if (!isRecord(g) || !GUARD_STATUSES.has(g.status as string)) throw unexpected(reply.status, 'guard', g);
    const asked: Asked = { sent: body.params, redactedPaths: pathsOf(g.redacted_paths) };
    if (g.status === 'allowed') {
      if (isRecord(g.params)) return allowedPermit(this.#t, g.decision_id, granted(g.params, asked));
      // Redacted, but the answer does not say to what (a replayed key, on today's server): never hand back the originals.
      if (asked.redactedPaths.length > 0) {
        throw new HoldpointError(
          'redacted_params_unavailable',
          `the policy redacted ${asked.redactedPaths.join(', ')} but Holdpoint's answer does not carry the redacted params; the action must not run on the originals`,
          { status: reply.status, details: { decision_id: g.decision_id, redactedPaths: asked.redactedPaths } },
        );
      }
      return allowedPermit(this.#t, g.decision_id, granted(asked.sent, asked));
    }
    if (g.status === 'denied') throw new ActionDenied(g.reasons, g.decision_id, { status: reply.status });
    if (!g.approval) throw new HoldpointError('unexpected_response', `guard answered ${g.status} without an approval`, { status: reply.status, details: g });

    let approval = g.approval;
    let status = reply.status;
    if (approval.status === 'pending' && options.wait) {
      const deadline = options.wait === true ? Date.parse(approval.expires_at) + DEADLINE_MARGIN_MS : started + options.wait;
      approval = await waitUntil(this.#t, this.timeoutMs, key, approval, deadline, options.signal);
      status = 200;
    }
    return settle(this.#t, approval, status, options, asked);
  }

  /**
   * Reports what came of an action a `check` allowed (`POST /v1/report`):
   * `status` `success` / `completed` or `error` / `failed`, the `result` (or
   * on a failure the `error`, an `Error` sent as `{name, message}`), and what
   * it cost (`costUsd`: a budget reservation becomes this spend) and took
   * (`durationMs`). A failed-open decision has nothing to report to, and in
   * replay mode there is no server: both do nothing. Bad values throw
   * `InvalidRequest` before anything is sent.
   *
   * @example
   * const d = await hp.check('email.send', { params: { to }, costUsd: 0.002 });
   * if (d.allowed) {
   *   const t0 = Date.now();
   *   const id = await mailer.send(to);
   *   await hp.report(d, { status: 'success', result: { id }, durationMs: Date.now() - t0, costUsd: 0.0018 });
   * }
   */
  async report(decision: Reportable, options: ReportOptions): Promise<void> {
    const ok = REPORT_STATUS[options?.status as string];
    if (ok === undefined) {
      throw new InvalidRequest('validation_failed', `report status must be 'success', 'completed', 'error' or 'failed', not ${JSON.stringify(options?.status)}`, { details: { path: 'status' } });
    }
    const decisionId = typeof decision === 'string' ? decision : decision?.decisionId;
    const spent = spentFields(options);
    // The server's report has one payload: the result, or on a failure the error (as a Permit's fail sends it).
    const error = options.error === undefined ? undefined : serialiseError(options.error);
    const payload = ok || error === undefined ? options.result : options.result === undefined ? error : { result: options.result, error };
    if (payload !== undefined) jsonSnapshot(payload, 'result');
    if ((typeof decision === 'object' && decision?.failedOpen) || this.#replay?.mode === 'replay') return;
    if (typeof decisionId !== 'string' || decisionId === '') {
      throw new InvalidRequest('validation_failed', 'report needs the Decision from check (or its decisionId)', { details: { path: 'decision' } });
    }
    await reportDecision(this.#t, decisionId, ok, payload, spent);
  }

  /**
   * Runs `fn` once the action is allowed or approved, then reports
   * `complete(result)` itself — or, if `fn` throws, `fail({name, message})`
   * and re-throws `fn`'s error (a failure to report that failure is swallowed
   * so `fn`'s error is what you see). If reporting success fails, throws
   * `HoldpointError` `report_failed` with the result in `details.result`.
   * Throws what `guard` throws, before `fn` runs. Act on `permit.params`:
   * they are what was approved, redacted where the policy redacted.
   *
   * @example
   * const refund = await hp.withGuard(
   *   'refund.issue',
   *   { idempotencyKey: `refund-${ticket.id}`, params: { amount: 120 }, wait: true },
   *   async (permit) => stripe.refunds.create({ amount: permit.params.amount as number }),
   * );
   */
  async withGuard<T>(action: string, options: GuardOptions, fn: (permit: Permit) => T | Promise<T>): Promise<T> {
    const permit = await this.guard(action, options);
    return runUnderPermit(permit, () => fn(permit));
  }

  /**
   * Wraps a function so every call is guarded first (the decorator of the
   * Python SDKs): the wrapped function takes the same arguments and resolves
   * to `fn`'s result, or throws what `guard` throws.
   *
   * `fn` gets its original arguments when Holdpoint granted the params as
   * sent. When the policy redacted something, `fn` gets the redacted values
   * instead: for the default params (one plain object, or `{ args }`) that is
   * automatic; with a custom `params`, give `fromParams` to map the granted
   * params back to arguments — without it the call throws `params_modified`
   * (reported as failed) rather than run `fn` on the originals.
   *
   * @example
   * const sendPayment = hp.guarded('payment.send', (to: string, amount: number) => bank.pay(to, amount), {
   *   idempotencyKey: (to, amount) => `pay-${to}-${amount}-${today}`,
   *   params: (to, amount) => ({ to, amount }),
   *   fromParams: (p) => [p.to as string, p.amount as number],
   *   wait: true,
   * });
   * await sendPayment('acct_42', 5000);
   */
  guarded<A extends unknown[], R>(action: string, fn: (...args: A) => R | Promise<R>, options: GuardedOptions<A>): (...args: A) => Promise<R> {
    const { idempotencyKey, params, fromParams, ...rest } = options;
    const back = params ? fromParams : defaultFromParams<A>;
    return (...args: A) =>
      this.withGuard(action, { ...rest, idempotencyKey: idempotencyKey(...args), params: params ? params(...args) : defaultParams(args) }, (permit) =>
        fn(...argsFor(permit, args, back)),
      );
  }

  /**
   * Blocks until the approval for an idempotency key is decided, and returns
   * it (whatever the decision); throws `ApprovalPending` if `timeoutMs` (by
   * default the approval's own deadline plus a margin) passes first. Survives
   * server restarts and network errors meanwhile.
   *
   * @example
   * const a = await hp.waitForDecision('invoice-1001', { timeoutMs: 5 * 60_000 });
   * console.log(a.status, a.decided_by, a.decision_reason);
   */
  async waitForDecision(idempotencyKey: string, options: WaitOptions = {}): Promise<Approval> {
    const started = Date.now();
    const signal = options.signal ? { signal: options.signal } : {};
    let a = (await this.#t.request<Approval>({ method: 'GET', path: byKeyPath(idempotencyKey), ...signal })).body;
    if (a.status === 'pending') {
      const deadline = options.timeoutMs !== undefined ? started + options.timeoutMs : Date.parse(a.expires_at) + DEADLINE_MARGIN_MS;
      a = await waitUntil(this.#t, this.timeoutMs, idempotencyKey, a, deadline, options.signal);
    }
    if (a.status === 'pending') throw new ApprovalPending(a);
    return a;
  }

  /**
   * Spend and calls so far (`GET /v1/usage`): the budgets' counters, and the
   * ledger's totals for a session, a run and each action in a period — what
   * AgentSentinel's `CostTracker.get_session_total()` / `get_run_total()` /
   * `get_action_stats()` give, but shared by every process of the tenant.
   * Needs an agent or approver key.
   *
   * @example
   * const u = await hp.usage({ agentId: 'bot', runId: 'nightly-42' });
   * console.log(`run so far: $${u.run?.spent_usd} spent, $${u.run?.held_usd} held`);
   */
  async usage(options: UsageOptions = {}): Promise<Usage> {
    return (await this.#t.request<Usage>({ method: 'GET', path: usagePath(options) })).body;
  }

  /**
   * The approval with this id (`GET /v1/approvals/{id}`).
   *
   * @example
   * const a = await hp.getApproval('0190f4c2-…');
   * console.log(a.status, a.votes);
   */
  async getApproval(id: string): Promise<Approval> {
    return (await this.#t.request<Approval>({ method: 'GET', path: `/v1/approvals/${encodeURIComponent(id)}` })).body;
  }

  /**
   * The approval for an idempotency key, as it is now (no waiting).
   *
   * @example
   * const a = await hp.getApprovalByKey('invoice-1001');
   */
  async getApprovalByKey(idempotencyKey: string): Promise<Approval> {
    return (await this.#t.request<Approval>({ method: 'GET', path: byKeyPath(idempotencyKey) })).body;
  }

  /**
   * Cancels a pending approval (`POST /v1/approvals/{id}/cancel`), by id or
   * by idempotency key, and returns it. A decided approval answers
   * `HoldpointError` `already_decided` (with `details.approval`).
   *
   * @example
   * await hp.cancel('invoice-1001', 'customer withdrew the order');
   */
  async cancel(idOrKey: string, reason?: string): Promise<Approval> {
    if (UUID.test(idOrKey)) {
      try {
        return await this.#cancelById(idOrKey, reason);
      } catch (err) {
        // Not an approval id — it may be a key that looks like one.
        if (!(err instanceof HoldpointError && err.code === 'not_found')) throw err;
      }
    }
    const a = await this.getApprovalByKey(idOrKey);
    return this.#cancelById(a.id, reason);
  }

  async #cancelById(id: string, reason: string | undefined): Promise<Approval> {
    try {
      return (await this.#t.request<Approval>({ method: 'POST', path: `/v1/approvals/${id}/cancel`, body: reason === undefined ? {} : { reason } })).body;
    } catch (err) {
      // A retry after a lost response finds it already cancelled: that is success.
      const now = ((err as HoldpointError).details as { approval?: Approval } | undefined)?.approval;
      if (err instanceof HoldpointError && err.code === 'already_decided' && (err.attempts ?? 1) > 1 && now?.status === 'cancelled') return now;
      throw err;
    }
  }
}
