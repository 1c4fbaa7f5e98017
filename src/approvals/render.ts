// The approval object as the API, webhooks and SDK see it. Pure.
import type { Status } from './status.ts';

/** The fields an approval has alike as a row and as the API shows it. */
interface ApprovalFields {
  id: string;
  idempotency_key: string;
  action: string;
  agent_id: string;
  params: Record<string, unknown>;
  context: Record<string, unknown>;
  status: Status;
  reasons: unknown[];
  required_approvals: number;
  routing: unknown;
  on_timeout: 'reject' | 'approve';
  decided_by: string | null;
  decision_reason: string | null;
  decision_channel: string | null;
  decision_option?: string | null;
  callback_url: string | null;
  result: unknown;
  error: unknown;
  policy_version: number | null;
  decision_id: string | null;
}

type Timestamps<T> = {
  created_at: T;
  expires_at: T;
  decided_at: T | null;
  claim_expires_at: T | null;
  completed_at: T | null;
};

export interface ApprovalView extends ApprovalFields, Timestamps<string> {
  votes: { approver: string; vote: 'approve' | 'reject'; reason: string | null; channel: string; created_at: string }[];
}

type RowLike = ApprovalFields & Timestamps<Date>;

interface VoteLike {
  approver: string;
  vote: 'approve' | 'reject';
  reason: string | null;
  channel: string;
  created_at: Date;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function renderApproval(r: RowLike, votes: readonly VoteLike[] = []): ApprovalView {
  return {
    id: r.id,
    idempotency_key: r.idempotency_key,
    action: r.action,
    agent_id: r.agent_id,
    params: r.params,
    context: r.context,
    status: r.status,
    reasons: r.reasons,
    required_approvals: r.required_approvals,
    votes: votes.map((v) => ({ approver: v.approver, vote: v.vote, reason: v.reason, channel: v.channel, created_at: v.created_at.toISOString() })),
    routing: r.routing,
    on_timeout: r.on_timeout,
    created_at: r.created_at.toISOString(),
    expires_at: r.expires_at.toISOString(),
    decided_at: iso(r.decided_at),
    decided_by: r.decided_by,
    decision_reason: r.decision_reason,
    decision_channel: r.decision_channel,
    decision_option: r.decision_option ?? null,
    claim_expires_at: iso(r.claim_expires_at),
    callback_url: r.callback_url,
    result: r.result ?? null,
    error: r.error ?? null,
    completed_at: iso(r.completed_at),
    policy_version: r.policy_version,
    decision_id: r.decision_id,
  };
}
