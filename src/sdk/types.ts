// The shapes the SDK hands out. The wire types mirror the server's JSON
// (snake_case); the SDK's own results (Decision, Permit) are camelCase.
import type { Spent } from './fields.ts';

export type { Spent } from './fields.ts';

/**
 * Where an approval is in its lifecycle:
 * `pending → approved | rejected | expired | cancelled`, then
 * `approved → executing → completed | failed`.
 *
 * @example
 * const done: ApprovalStatus[] = ['completed', 'failed'];
 */
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled' | 'executing' | 'completed' | 'failed';

/**
 * Why the policy decided what it did: one entry per matching rule (or the default).
 *
 * @example
 * const text = (rs: Reason[]) => rs.map((r) => `${r.rule ?? r.source}: ${r.message}`).join('; ');
 */
export interface Reason {
  source: 'rule' | 'default' | 'engine' | 'sdk' | (string & {});
  rule?: string;
  decision: 'allow' | 'deny' | 'require_approval';
  message: string;
}

/**
 * One approver's vote on an approval.
 *
 * @example
 * const approvers = (a: Approval) => a.votes.filter((v: Vote) => v.vote === 'approve').map((v) => v.approver);
 */
export interface Vote {
  approver: string;
  vote: 'approve' | 'reject';
  reason: string | null;
  channel: string;
  created_at: string;
}

/**
 * An approval exactly as the API returns it (`GET /v1/approvals/{id}`);
 * timestamps are ISO 8601 strings in UTC.
 *
 * @example
 * const a: Approval = await hp.getApproval(id);
 * if (a.status === 'approved') console.log(`approved by ${a.decided_by} via ${a.decision_channel}`);
 */
export interface Approval {
  id: string;
  idempotency_key: string;
  action: string;
  agent_id: string;
  params: Record<string, unknown>;
  context: Record<string, unknown>;
  status: ApprovalStatus;
  reasons: Reason[];
  required_approvals: number;
  votes: Vote[];
  routing: unknown;
  on_timeout: 'reject' | 'approve';
  created_at: string;
  expires_at: string;
  decided_at: string | null;
  decided_by: string | null;
  decision_reason: string | null;
  /** `api`, `slack`, `timeout` (an `on_timeout: approve` deadline), … */
  decision_channel: string | null;
  claim_expires_at: string | null;
  callback_url: string | null;
  result: unknown;
  error: unknown;
  completed_at: string | null;
  policy_version: number | null;
  decision_id: string | null;
}

/**
 * A webhook body as Holdpoint sends it (Standard Webhooks), returned by `verifyWebhook`.
 *
 * @example
 * const event: WebhookEvent = await verifyWebhook(secret, request);
 * if (event.type === 'approval.approved') resume(event.data.idempotency_key);
 */
export interface WebhookEvent {
  type:
    | 'approval.requested'
    | 'approval.approved'
    | 'approval.rejected'
    | 'approval.expired'
    | 'approval.cancelled'
    | 'approval.completed'
    | 'approval.failed'
    | (string & {});
  /** The event id; the same as the `webhook-id` header and stable across retries: dedupe on it. */
  id: string;
  created_at: string;
  data: Approval;
}

/**
 * The policy's answer from `check`. Exactly one of `allowed`, `modified`,
 * `denied`, `requiresApproval` is true.
 *
 * `modified` (decision `modify`) means: go ahead, but with `params` — the
 * policy redacted sensitive values (`redactedPaths` says where), and the
 * caller's originals must not be used. It is deliberately not `allowed`, so
 * code that acts only `if (d.allowed)` never acts on the unredacted values.
 *
 * @example
 * const d: Decision = await hp.check('email.send', { params: { to: 'a@example.com', body } });
 * if (d.denied || d.requiresApproval) throw new Error(d.reasons[0]?.message);
 * await mailer.send(d.params); // redacted when d.modified
 */
export interface Decision {
  allowed: boolean;
  /** The policy redacted sensitive values: act only on `params`. */
  modified: boolean;
  denied: boolean;
  requiresApproval: boolean;
  decision: 'allow' | 'modify' | 'deny' | 'require_approval';
  reasons: Reason[];
  /** null only when `failedOpen`. */
  decisionId: string | null;
  policyVersion: number | null;
  matchedRules: string[];
  /**
   * The params the policy evaluated, as the server returned them: with
   * sensitive values masked (`[REDACTED:email]`) where it redacted any. When
   * failed open, the params as sent.
   */
  params: Record<string, unknown>;
  /** Where the policy redacted something (`params.contact.email`); empty when nothing was. */
  redactedPaths: string[];
  /** True when Holdpoint was unreachable and `failOpen: true` allowed it anyway. */
  failedOpen: boolean;
}

/**
 * Permission to act, from `guard`: the policy allowed it, or a human approved
 * it and this process holds the execution lease. Act, then call `complete` or
 * `fail` exactly once.
 *
 * @example
 * const permit: Permit = await hp.guard('payment.send', { idempotencyKey: 'inv-1', params: { amount: 20 }, wait: true });
 * try {
 *   await permit.complete(await pay(permit.params));
 * } catch (err) {
 *   await permit.fail(err);
 *   throw err;
 * }
 */
export interface Permit {
  /** null for a plain allow (and when failed open). */
  approvalId: string | null;
  /** null only when `failedOpen`. */
  decisionId: string | null;
  /** Who approved (`decided_by`); null for a plain allow. */
  approver: string | null;
  approvedAt: Date | null;
  /**
   * The params to act on: what Holdpoint approved — the approval's params
   * when a human decided, the server's redacted params when the policy
   * masked sensitive values, else the params as sent (as JSON: a Date is its
   * ISO string). Never the caller's unredacted originals.
   */
  params: Record<string, unknown>;
  /** True when these params differ from what was sent (the policy redacted something): act only on `params`. */
  modified: boolean;
  /** Where the policy redacted something (`params.card`); empty when nothing was. */
  redactedPaths: string[];
  /** The execution lease token for an approval; null for a plain allow. */
  claimToken: string | null;
  /** The approval as it stood after the claim (status `executing`); null for a plain allow. */
  approval: Approval | null;
  /** True when Holdpoint was unreachable and `failOpen: true` allowed it anyway (complete / fail do nothing then). */
  failedOpen: boolean;
  /** True once `complete` or `fail` has succeeded; a permit reports once (a second call throws `already_reported`). */
  readonly reported: boolean;
  /**
   * Reports success (`POST /v1/report` or `/v1/approvals/{id}/complete`),
   * with what running it cost (`costUsd`: a budget reservation becomes this
   * spend) and took (`durationMs`) when given. `withGuard` measures the duration itself.
   */
  complete(result?: unknown, spent?: Spent): Promise<void>;
  /** Reports failure; an `Error` is sent as `{name, message}`. `spent` as for `complete`. */
  fail(error?: unknown, spent?: Spent): Promise<void>;
}

/**
 * How long `guard` blocks for a human: `true` until the approval's own
 * deadline (plus a small margin), a number for that many milliseconds, or
 * false / omitted not to wait at all.
 *
 * @example
 * const wait: WaitOption = 5 * 60_000;
 */
export type WaitOption = boolean | number;
