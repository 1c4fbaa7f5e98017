// Everything the SDK throws. One base class; the outcome errors (pending,
// rejected, timed out, denied, claimed) are how `guard` says "do not act".
import type { Approval, Reason } from './types.ts';

/**
 * Options every SDK error accepts.
 *
 * @example
 * throw new HoldpointError('report_failed', 'could not record the result', { details: { result } } satisfies HoldpointErrorOptions);
 */
export interface HoldpointErrorOptions {
  /** The HTTP status of the response this error came from, if any. */
  status?: number;
  /** The server's `error.details`, or extra context from the SDK. */
  details?: unknown;
  /** How many HTTP attempts were made before giving up (1 when none was retried). */
  attempts?: number;
  cause?: unknown;
}

/**
 * The base of every error the SDK throws. `code` is the server's snake_case
 * error code (`validation_failed`, `idempotency_key_reused`, …) or one of the
 * SDK's own (`config_missing`, `config_invalid`, `idempotency_key_missing`,
 * `connection_failed`, `timeout`, `request_failed`, `unexpected_response`,
 * `not_serialisable`, `params_modified`, `redacted_params_unavailable`,
 * `invalid_signature`, `cancelled`, …).
 *
 * @example
 * try {
 *   await hp.guard('payment.send', { idempotencyKey: 'inv-1', params: { amount: 5 } });
 * } catch (err) {
 *   if (err instanceof HoldpointError && err.code === 'idempotency_key_reused') console.error(err.details);
 *   else throw err;
 * }
 */
export class HoldpointError extends Error {
  readonly code: string;
  readonly status?: number;
  readonly details?: unknown;
  readonly attempts?: number;

  constructor(code: string, message: string, opts: HoldpointErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HoldpointError';
    this.code = code;
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.details !== undefined) this.details = opts.details;
    if (opts.attempts !== undefined) this.attempts = opts.attempts;
  }
}

/**
 * The API key is missing, unknown, revoked (401) or may not call this route
 * (403). Never retried.
 *
 * @example
 * try {
 *   await hp.check('report.read');
 * } catch (err) {
 *   if (err instanceof AuthError) console.error('check HOLDPOINT_API_KEY:', err.code, err.status);
 * }
 */
export class AuthError extends HoldpointError {
  constructor(code: string, message: string, opts: HoldpointErrorOptions = {}) {
    super(code, message, opts);
    this.name = 'AuthError';
  }
}

/**
 * Holdpoint could not be reached: the connection was refused or reset, the
 * name did not resolve, no answer came within `timeoutMs` (`code` is
 * `connection_failed` or `timeout`), or Holdpoint itself answered `503
 * dependency_unavailable` (its Postgres or Redis is down) — each after all
 * retries. These, and only these, are what `failOpen: true` turns into an
 * allow in `check` and `guard`. Any other 5xx is a `ServerError`.
 *
 * @example
 * try {
 *   await hp.check('email.send');
 * } catch (err) {
 *   if (err instanceof ConnectionError) console.warn(`holdpoint unreachable after ${err.attempts} attempts`);
 * }
 */
export class ConnectionError extends HoldpointError {
  constructor(code: string, message: string, opts: HoldpointErrorOptions = {}) {
    super(code, message, opts);
    this.name = 'ConnectionError';
  }
}

/**
 * Holdpoint answered with a 5xx other than `503 dependency_unavailable` — a
 * `500 internal_error`, or a bare 502/503/504 from whatever sits in front of
 * it — after all retries. The server failing is not the network failing:
 * `failOpen` never allows on this. `code` is the server's (`internal_error`)
 * or `http_<status>` when the body was not Holdpoint's.
 *
 * @example
 * try {
 *   await hp.guard('payment.send', { idempotencyKey: 'inv-3', params: { amount: 20 } });
 * } catch (err) {
 *   if (err instanceof ServerError) console.error(`holdpoint failed (${err.status} ${err.code}); not paying`);
 *   throw err;
 * }
 */
export class ServerError extends HoldpointError {
  constructor(code: string, message: string, opts: HoldpointErrorOptions = {}) {
    super(code, message, opts);
    this.name = 'ServerError';
  }
}

/**
 * The request itself is wrong, so no retry or `failOpen` can help: params,
 * context or a result that JSON cannot carry faithfully (a cycle, a BigInt, a
 * function, a symbol, undefined in an array, a Map or class instance, NaN or
 * ±Infinity), refused by the SDK before anything is sent — `details.path`
 * says where (`params.amount`) and `details.problem` what; or the server's
 * own 400 `validation_failed` / `malformed_json` / 422 `invalid_number`,
 * `invalid_text` (a NUL character) or `too_deep` (nested past 64 levels).
 * `code` is `invalid_number` for a non-finite number, `not_serialisable` for
 * the rest of the SDK's refusals, else the server's code.
 *
 * @example
 * try {
 *   await hp.guard('payment.send', { idempotencyKey: 'inv-4', params: { amount: Number('12,50') } });
 * } catch (err) {
 *   if (err instanceof InvalidRequest) console.error(`fix ${(err.details as { path: string }).path}: ${err.message}`);
 *   throw err;
 * }
 */
export class InvalidRequest extends HoldpointError {
  constructor(code: string, message: string, opts: HoldpointErrorOptions = {}) {
    super(code, message, opts);
    this.name = 'InvalidRequest';
  }
}

/**
 * A human has not decided yet (and `wait` was off, or its budget ran out).
 * Call `guard` again later with the same idempotency key, or wait for the
 * webhook: the approval stays parked until `expiresAt`.
 *
 * @example
 * try {
 *   await hp.guard('payment.send', { idempotencyKey: 'inv-7', params: { amount: 5000 } });
 * } catch (err) {
 *   if (err instanceof ApprovalPending) return { parked: err.approvalId, until: err.expiresAt };
 *   throw err;
 * }
 */
export class ApprovalPending extends HoldpointError {
  readonly approvalId: string;
  readonly idempotencyKey: string;
  readonly expiresAt: Date;
  readonly approval: Approval;

  constructor(approval: Approval, opts: HoldpointErrorOptions = {}) {
    super('approval_pending', `approval ${approval.id} is waiting for a human (expires ${approval.expires_at})`, { details: { approval }, ...opts });
    this.name = 'ApprovalPending';
    this.approval = approval;
    this.approvalId = approval.id;
    this.idempotencyKey = approval.idempotency_key;
    this.expiresAt = new Date(approval.expires_at);
  }
}

/**
 * A human rejected the action. `rejectedBy` is the approver's identity and
 * `reason` what they wrote (or null).
 *
 * @example
 * try {
 *   await hp.guard('db.migrate', { idempotencyKey: 'mig-42', wait: true });
 * } catch (err) {
 *   if (err instanceof ActionRejected) return `not done: ${err.rejectedBy} said "${err.reason ?? 'no'}"`;
 *   throw err;
 * }
 */
export class ActionRejected extends HoldpointError {
  readonly approvalId: string;
  readonly rejectedBy: string | null;
  readonly reason: string | null;
  readonly approval: Approval;

  constructor(approval: Approval, opts: HoldpointErrorOptions = {}) {
    super('rejected', `approval ${approval.id} was rejected by ${approval.decided_by ?? 'an approver'}${approval.decision_reason ? `: ${approval.decision_reason}` : ''}`, {
      details: { approval },
      ...opts,
    });
    this.name = 'ActionRejected';
    this.approval = approval;
    this.approvalId = approval.id;
    this.rejectedBy = approval.decided_by;
    this.reason = approval.decision_reason;
  }
}

/**
 * Nobody decided before the approval's deadline and its policy says
 * `on_timeout: reject` (with `on_timeout: approve` a timeout is a Permit).
 *
 * @example
 * try {
 *   await hp.guard('refund.issue', { idempotencyKey: 'rf-3', timeoutSeconds: 600, wait: true });
 * } catch (err) {
 *   if (err instanceof ActionTimeout) console.warn(`nobody answered by ${err.expiresAt.toISOString()}`);
 * }
 */
export class ActionTimeout extends HoldpointError {
  readonly approvalId: string;
  readonly expiresAt: Date;
  readonly approval: Approval;

  constructor(approval: Approval, opts: HoldpointErrorOptions = {}) {
    super('expired', `approval ${approval.id} expired at ${approval.expires_at} without a decision`, { details: { approval }, ...opts });
    this.name = 'ActionTimeout';
    this.approval = approval;
    this.approvalId = approval.id;
    this.expiresAt = new Date(approval.expires_at);
  }
}

/**
 * The policy denied the action outright; `reasons` says which rule.
 *
 * @example
 * try {
 *   await hp.guard('database.drop', { idempotencyKey: 'drop-1' });
 * } catch (err) {
 *   if (err instanceof ActionDenied) console.error(err.reasons.map((r) => r.message).join('; '));
 * }
 */
export class ActionDenied extends HoldpointError {
  readonly reasons: Reason[];
  readonly decisionId: string;

  constructor(reasons: Reason[], decisionId: string, opts: HoldpointErrorOptions = {}) {
    super('denied', `denied by policy${reasons[0]?.message ? `: ${reasons[0].message}` : ''}`, { details: { reasons, decision_id: decisionId }, ...opts });
    this.name = 'ActionDenied';
    this.reasons = reasons;
    this.decisionId = decisionId;
  }
}

/**
 * Another process holds this approval's execution lease, or already ran it
 * (`approvalStatus` is `executing`, `completed` or `failed`). Do not act: the
 * action runs at most once per approval.
 *
 * `ambiguous` is true when the claim request was retried after a lost
 * response: then the lease may be this very call's own, which it can no
 * longer prove. Nothing runs twice either way; the lease lapses after its
 * `lease_seconds` (default 300) and the approval can be claimed again.
 *
 * @example
 * try {
 *   await hp.withGuard('payment.send', { idempotencyKey: 'inv-9', wait: true }, () => pay());
 * } catch (err) {
 *   if (err instanceof ActionClaimed) console.info(`already ${err.approvalStatus} elsewhere`);
 *   else throw err;
 * }
 */
export class ActionClaimed extends HoldpointError {
  readonly approvalId: string;
  readonly approvalStatus: Approval['status'];
  readonly ambiguous: boolean;
  readonly approval: Approval;

  constructor(approval: Approval, opts: HoldpointErrorOptions & { ambiguous?: boolean } = {}) {
    super('claim_conflict', `approval ${approval.id} is ${approval.status === 'executing' ? 'being executed' : approval.status} by another process`, {
      details: { approval },
      ...opts,
    });
    this.name = 'ActionClaimed';
    this.approval = approval;
    this.approvalId = approval.id;
    this.approvalStatus = approval.status;
    this.ambiguous = opts.ambiguous ?? false;
  }
}
