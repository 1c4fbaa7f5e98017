// The Holdpoint client: check, guard (with claim and long-poll), and the
// helpers around them. Fetch only, so it runs on Node ≥ 20, Deno, Bun and edge
// runtimes, and importing it loads nothing of the server.
import { ActionClaimed, ActionDenied, ActionRejected, ActionTimeout, ApprovalPending, ConnectionError, HoldpointError, ServerError } from './errors.ts';
import { jsonSnapshot } from './json.ts';
import { argsFor, defaultFromParams, defaultParams, granted, type Asked } from './params.ts';
import { allowedPermit, claimedPermit, failedOpenPermit, runUnderPermit } from './permit.ts';
import { backoff, createTransport, sleep, type Transport } from './transport.ts';
import type { Approval, Decision, Permit, Reason } from './types.ts';
import type { CheckOptions, GuardedOptions, GuardOptions, HoldpointOptions, WaitOptions } from './options.ts';

export type { CheckOptions, GuardedOptions, GuardOptions, HoldpointOptions, WaitOptions } from './options.ts';

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
const MAX_POLL_S = 60;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function env(name: string): string | undefined {
  // Absent on edge runtimes without a `process`; an empty variable counts as unset.
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  return v ? v : undefined;
}

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

const byKeyPath = (key: string) => `/v1/approvals/by-key/${encodeURIComponent(key)}`;

function configured(baseUrl: string, apiKey: string): string {
  // Caught here, not at the first request, where fetch would reject with a TypeError that reads as a network failure.
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new HoldpointError('config_invalid', `baseUrl ${JSON.stringify(baseUrl)} is not a URL (expected e.g. https://holdpoint.internal)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HoldpointError('config_invalid', `baseUrl must be http:// or https://, not ${url.protocol}`);
  if (!/^[\x21-\x7e]+$/.test(apiKey)) throw new HoldpointError('config_invalid', 'apiKey holds characters an Authorization header cannot carry (whitespace or non-ASCII)');
  return baseUrl.replace(/\/+$/, '');
}

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

  constructor(options: HoldpointOptions = {}) {
    const baseUrl = options.baseUrl ?? env('HOLDPOINT_URL');
    const apiKey = options.apiKey ?? env('HOLDPOINT_API_KEY');
    const missing = [!baseUrl && 'baseUrl (or HOLDPOINT_URL)', !apiKey && 'apiKey (or HOLDPOINT_API_KEY)'].filter(Boolean);
    if (!baseUrl || !apiKey) throw new HoldpointError('config_missing', `Holdpoint needs ${missing.join(' and ')}`);
    this.baseUrl = configured(baseUrl, apiKey);
    this.agentId = options.agentId;
    this.failOpen = options.failOpen ?? false;
    this.timeoutMs = options.timeoutMs ?? 10_000;
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
      { action, params: options.params ?? {}, ...(agentId ? { agent_id: agentId } : {}), ...(options.context ? { context: options.context } : {}) },
      '',
    ) as { params: Record<string, unknown> };
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
  async guard(action: string, options: GuardOptions): Promise<Permit> {
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
        ...(options.timeoutSeconds !== undefined ? { timeout_seconds: options.timeoutSeconds } : {}),
        ...(options.callbackUrl !== undefined ? { callback_url: options.callbackUrl } : {}),
      },
      '',
    ) as { params: Record<string, unknown> };
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
      approval = await this.#waitUntil(key, approval, deadline, options.signal);
      status = 200;
    }
    return this.#settle(approval, status, options, asked);
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
      a = await this.#waitUntil(idempotencyKey, a, deadline, options.signal);
    }
    if (a.status === 'pending') throw new ApprovalPending(a);
    return a;
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

  /**
   * Long-polls `by-key?wait=N` until the approval leaves pending or `deadline`
   * (epoch ms) passes; returns the approval as last seen. A server that is
   * down or restarting, or a network that drops, only costs a backoff.
   */
  async #waitUntil(key: string, approval: Approval, deadline: number, signal: AbortSignal | undefined): Promise<Approval> {
    let last = approval;
    let trouble = 0;
    while (last.status === 'pending') {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const waitS = Math.min(MAX_POLL_S, Math.max(0.1, Math.ceil(left / 100) / 10));
      const asked = Date.now();
      try {
        const r = await this.#t.request<Approval>({
          method: 'GET',
          path: `${byKeyPath(key)}?wait=${waitS}`,
          timeoutMs: waitS * 1000 + this.timeoutMs,
          retries: 0,
          ...(signal ? { signal } : {}),
        });
        last = r.body;
        // A server shutting down answers long-polls at once; do not spin on that.
        if (last.status === 'pending' && Date.now() - asked < (waitS * 1000) / 2) {
          await sleep(Math.min(backoff(trouble++, 100, 2_000), Math.max(0, deadline - Date.now())), signal);
        } else {
          trouble = 0;
        }
      } catch (err) {
        // Waiting through an outage or a server error is not acting on one.
        if (!(err instanceof ConnectionError || err instanceof ServerError)) throw err;
        await sleep(Math.min(backoff(trouble++, 100, 2_000), Math.max(0, deadline - Date.now())), signal);
      }
    }
    return last;
  }

  /** Turns a decided (or still pending) approval into a Permit or the error that says why not. */
  async #settle(approval: Approval, status: number, options: GuardOptions, asked: Asked): Promise<Permit> {
    switch (approval.status) {
      case 'pending':
        throw new ApprovalPending(approval, { status });
      case 'approved':
      case 'executing':
        // An executing approval whose lease lapsed can be claimed again; the server decides.
        return this.#claim(approval, options, asked);
      case 'completed':
      case 'failed':
        throw new ActionClaimed(approval, { status });
      case 'rejected':
        throw new ActionRejected(approval, { status });
      case 'expired':
        throw new ActionTimeout(approval, { status });
      case 'cancelled':
        throw new HoldpointError('cancelled', `approval ${approval.id} was cancelled${approval.decision_reason ? `: ${approval.decision_reason}` : ''}`, {
          status,
          details: { approval },
        });
      default:
        throw new HoldpointError('unexpected_response', `unknown approval status ${String(approval.status)}`, { status, details: { approval } });
    }
  }

  async #claim(approval: Approval, options: GuardOptions, asked: Asked): Promise<Permit> {
    let r: { approval: Approval; claim_token: string };
    try {
      r = (
        await this.#t.request<{ approval: Approval; claim_token: string }>({
          method: 'POST',
          path: `/v1/approvals/${approval.id}/claim`,
          ...(options.leaseSeconds !== undefined ? { body: { lease_seconds: options.leaseSeconds } } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        })
      ).body;
    } catch (err) {
      if (err instanceof HoldpointError && err.code === 'claim_conflict') {
        const now = (err.details as { approval?: Approval } | undefined)?.approval ?? approval;
        // After a lost response the 409 may be about our own claim: say so.
        throw new ActionClaimed(now, { ...(err.status ? { status: err.status } : {}), attempts: err.attempts ?? 1, ambiguous: (err.attempts ?? 1) > 1, cause: err });
      }
      throw err;
    }
    // The approval's params are what the human saw (already redacted): those are what runs.
    return claimedPermit(this.#t, r.approval, r.claim_token, granted(r.approval.params, asked));
  }
}
