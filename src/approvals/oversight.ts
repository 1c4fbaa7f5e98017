// The human-oversight record of one approval: what the approver was shown,
// who could decide, when, the outcome, whether it was overridden or stopped,
// and the proof from the tenant's hash chain. Pure: the edge
// (src/services/oversight.ts) loads the rows and passes them in.
//
// Two words are defined here, precisely, because a report will lean on them:
// * overridden — the outcome went against what the engine would have done on
//   its own: a person rejected an action the policy alone would have allowed
//   (the review was asked for by the caller, e.g. HumanLayer's require_human),
//   or the action was approved by `on_timeout: approve` with no person
//   approving it (the policy asked for a human, and automation went ahead
//   without one, or with fewer approving than the quorum).
// * stopped — the action did not run because of a person, the deadline or the
//   agent: rejected (by an approver), expired (the deadline, on_timeout:
//   reject), or cancelled (by the agent).
import { chainHash, eventContent, type ChainEvent } from './chain.ts';

/** The approval as the oversight record needs it (a subset of the row). */
export interface OversightApproval {
  id: string;
  action: string;
  agent_id: string;
  params: Record<string, unknown>;
  reasons: unknown[];
  status: string;
  required_approvals: number;
  routing: unknown;
  on_timeout: 'reject' | 'approve';
  timeout_seconds: number;
  created_at: Date;
  expires_at: Date;
  decided_at: Date | null;
  decided_by: string | null;
  decision_reason: string | null;
  decision_channel: string | null;
  slack_channel: string | null;
  slack_ts: string | null;
  completed_at: Date | null;
  policy_version: number | null;
  decision_id: string | null;
  /**
   * Where approvers may edit the params (DESIGN "Edits"): what the agent asked
   * for; `params` then holds what was approved. Absent / null: not edited.
   */
  original_params?: Record<string, unknown> | null;
}

export interface OversightVote {
  approver: string;
  vote: 'approve' | 'reject';
  reason: string | null;
  channel: string;
  created_at: Date;
}

/** What the engine said when it parked the action (the decision row). */
export interface OversightDecision {
  reasons: unknown[];
  risk_score: number | null;
  redacted_paths: string[];
}

export interface OversightApprover {
  name: string;
  email: string | null;
  slack_user_id: string | null;
  created_at: Date;
}

export interface ChainProof {
  /** Every event of the approval hashes to what it says, and links to the tenant chain event before it. */
  intact: boolean;
  /** Events of this approval whose hash was recomputed. */
  checked: number;
  /** Tenant-chain events before them (other approvals' events) whose hash was recomputed and matched the link. */
  links_checked: number;
  /** Events not linked into the chain yet (the chainer runs after commit). */
  unchained: number;
  broken_at?: string;
  why?: string;
}

const RANK: Record<string, number> = { allow: 0, modify: 0, require_approval: 1, deny: 2 };

/**
 * The decision the policy would have taken without a person: the strongest
 * vote among the decision's reasons. `allow` means the review was asked for by
 * the caller, not by the policy.
 */
export function engineRecommendation(reasons: readonly unknown[]): 'allow' | 'require_approval' | 'deny' {
  let best: 'allow' | 'require_approval' | 'deny' = 'allow';
  for (const r of reasons) {
    const d = r && typeof r === 'object' ? (r as { decision?: unknown }).decision : undefined;
    if (typeof d === 'string' && (RANK[d] ?? 0) > RANK[best]!) best = d as typeof best;
  }
  return best;
}

/**
 * Recomputes the hash of every event of one approval and checks that each
 * links to the tenant chain: its prev_hash is the hash of the event at seq − 1
 * (found among `events` or `links`), whose own hash recomputes too; the first
 * event of a tenant (seq 1) has no prev_hash. Tampering with any event's
 * content, hash or order, or with the event before it, breaks the proof.
 */
export function verifyApprovalChain(events: readonly ChainEvent[], links: readonly ChainEvent[]): ChainProof {
  const bySeq = new Map<number, ChainEvent>();
  for (const e of [...links, ...events]) if (e.seq !== null) bySeq.set(e.seq, e);
  const own = new Set(events.map((e) => e.id));
  let checked = 0;
  let unchained = 0;
  const linked = new Set<string>();
  const broken = (e: ChainEvent, why: string): ChainProof => ({ intact: false, checked, links_checked: linked.size, unchained, broken_at: e.id, why });
  const recomputes = (e: ChainEvent) => e.seq !== null && e.hash !== null && chainHash(e.prev_hash, e.seq, eventContent(e)) === e.hash;
  for (const e of events) {
    if (e.seq === null || e.hash === null) {
      unchained++;
      continue;
    }
    if (!recomputes(e)) return broken(e, 'hash does not match the content');
    checked++;
    if (e.seq === 1) {
      if (e.prev_hash !== null) return broken(e, 'the first event of the tenant chain has a prev_hash');
      continue;
    }
    const before = bySeq.get(e.seq - 1);
    if (!before) return broken(e, `the tenant chain event before it (seq ${e.seq - 1}) is missing`);
    if (before.hash !== e.prev_hash) return broken(e, 'prev_hash does not match the tenant chain event before it');
    if (!own.has(before.id)) {
      if (!recomputes(before)) return broken(before, 'the tenant chain event before it does not match its content');
      linked.add(before.id);
    }
  }
  return { intact: true, checked, links_checked: linked.size, unchained };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

interface RoutingShape {
  slack_channel?: string | null;
  approvers?: { slack_user_ids?: string[]; identities?: string[] };
  min_timeout_seconds?: number;
}

export function oversightRecord(input: {
  approval: OversightApproval;
  votes: readonly OversightVote[];
  decision: OversightDecision | null;
  approvers: readonly OversightApprover[];
  events: readonly ChainEvent[];
  links: readonly ChainEvent[];
}) {
  const { approval: a, votes, decision } = input;
  const routing = (a.routing ?? {}) as RoutingShape;
  const identities = routing.approvers?.identities ?? [];
  const slackUsers = routing.approvers?.slack_user_ids ?? [];
  const known = new Map(input.approvers.map((p) => [p.name, p]));
  // Named identities resolve to those people; otherwise any approver of the
  // tenant could decide — those who existed by the time it was decided (or now, if open).
  const cutoff = a.decided_at ?? a.expires_at;
  const resolved = (identities.length > 0 ? identities.flatMap((n) => (known.has(n) ? [known.get(n)!] : [])) : input.approvers.filter((p) => p.created_at <= cutoff))
    .filter((p) => p.name !== a.agent_id)
    .map((p) => ({ name: p.name, email: p.email, slack_user_id: p.slack_user_id, added_at: p.created_at.toISOString() }));

  const timedOut = a.decision_channel === 'timeout';
  const humanVotes = votes.filter((v) => v.channel !== 'timeout');
  const approvedBy = humanVotes.filter((v) => v.vote === 'approve');
  const recommendation = engineRecommendation(decision?.reasons ?? a.reasons);
  const ran = a.status === 'approved' || a.status === 'executing' || a.status === 'completed' || a.status === 'failed';

  let override: null | { kind: 'rejected_what_policy_allowed' | 'approved_on_timeout_without_human'; detail: string } = null;
  if (a.status === 'rejected' && recommendation === 'allow') {
    override = { kind: 'rejected_what_policy_allowed', detail: 'the policy alone would have allowed this action; a person rejected it' };
  } else if (ran && timedOut && approvedBy.length < a.required_approvals) {
    override = {
      kind: 'approved_on_timeout_without_human',
      detail: `${approvedBy.length} of ${a.required_approvals} required approvals: the deadline passed and on_timeout is approve`,
    };
  }
  const stoppedBy = a.status === 'rejected' ? 'approver' : a.status === 'expired' ? 'deadline' : a.status === 'cancelled' ? 'agent' : null;

  const proof = verifyApprovalChain(input.events, input.links);
  return {
    approval_id: a.id,
    action: a.action,
    agent_id: a.agent_id,
    policy_version: a.policy_version,
    decision_id: a.decision_id,
    shown: {
      params: a.original_params ?? a.params,
      // Set when an approver changed the params before approving: what the action was approved with.
      edited_params: a.original_params ? a.params : null,
      reasons: a.reasons,
      risk_score: decision?.risk_score ?? null,
      redacted_paths: decision?.redacted_paths ?? [],
      // Redacted values are never stored, so the unredacted original cannot be shown — by design.
      unredacted_kept: false,
      engine_recommendation: recommendation,
      channels: {
        slack: routing.slack_channel ? { channel: a.slack_channel ?? routing.slack_channel, posted: a.slack_ts !== null, message_ts: a.slack_ts } : null,
        inbox: true,
        api: true,
      },
    },
    could_decide: {
      rule: identities.length > 0 ? 'named_identities' : 'any_approver',
      identities,
      slack_user_ids: slackUsers,
      // Slack user ids limit who may click in Slack; in the inbox and the API the rule above applies.
      slack_resolved: input.approvers.filter((p) => p.slack_user_id !== null && slackUsers.includes(p.slack_user_id)).map((p) => p.name),
      resolved,
      unresolved: identities.filter((n) => !known.has(n)),
      excluded: [a.agent_id],
      required_approvals: a.required_approvals,
      timeout_seconds: a.timeout_seconds,
      min_timeout_seconds: routing.min_timeout_seconds ?? null,
      on_timeout: a.on_timeout,
    },
    when: {
      requested_at: a.created_at.toISOString(),
      expires_at: a.expires_at.toISOString(),
      votes: votes.map((v) => ({ approver: v.approver, vote: v.vote, reason: v.reason, channel: v.channel, at: v.created_at.toISOString() })),
      decided_at: iso(a.decided_at),
      completed_at: iso(a.completed_at),
    },
    outcome: {
      status: a.status,
      decided_by: a.decided_by,
      decision_channel: a.decision_channel,
      decision_reason: a.decision_reason,
      human_decided: humanVotes.length > 0 && !timedOut,
      overridden: override !== null,
      override,
      stopped: stoppedBy !== null,
      stopped_by: stoppedBy,
      executed: a.status === 'completed' || a.status === 'failed' ? a.status : null,
    },
    chain: {
      events: input.events.map((e) => ({ id: e.id, seq: e.seq, type: e.type, actor: e.actor, channel: e.channel, data: e.data, created_at: e.created_at, prev_hash: e.prev_hash, hash: e.hash })),
      verification: proof,
    },
  };
}

export type OversightRecord = ReturnType<typeof oversightRecord>;
