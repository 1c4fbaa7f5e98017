// The approval state machine. Pure: no I/O, no clock (`now` is an argument).
// The edges lock the row, call transition(), persist `patch` with a guarded
// UPDATE (WHERE status = from), append `events`, and carry out `effects`.
import type { DecisionChannel, EventType, OnTimeout, Status } from './status.ts';

export interface Vote {
  approver: string;
  vote: 'approve' | 'reject';
}

/** What the state machine needs to know about an approval. */
export interface ApprovalState {
  status: Status;
  agent_id: string;
  required_approvals: number;
  on_timeout: OnTimeout;
  expires_at: Date;
  /** Identities allowed to decide; empty means any approver of the tenant. */
  approvers: readonly string[];
  votes: readonly Vote[];
  claim_token: string | null;
  claim_expires_at: Date | null;
}

export type TransitionEvent =
  | {
      type: 'vote';
      approver: string;
      vote: 'approve' | 'reject';
      reason?: string | undefined;
      /** A named reject option the human picked (HumanLayer's reject_option_name). */
      option?: string | undefined;
      channel: DecisionChannel;
      /** The key that named this approver (an integration with assert_identity); on the record beside the person. */
      asserted_by?: string | undefined;
    }
  | { type: 'expire' }
  | { type: 'cancel'; actor: string; reason?: string | undefined }
  | { type: 'claim'; actor: string; token: string; lease_seconds: number }
  | { type: 'release_lease' }
  | { type: 'complete'; actor: string; token: string; result: unknown; cost_usd?: number | undefined; duration_ms?: number | undefined }
  | { type: 'fail'; actor: string; token: string; error: unknown; cost_usd?: number | undefined; duration_ms?: number | undefined };

/** Columns that a transition writes. */
export interface ApprovalPatch {
  status?: Status;
  decided_at?: Date;
  decided_by?: string;
  decision_reason?: string | null;
  decision_channel?: DecisionChannel;
  decision_option?: string | null;
  claim_token?: string | null;
  claim_expires_at?: Date | null;
  claimed_at?: Date | null;
  result?: unknown;
  error?: unknown;
  completed_at?: Date;
}

export interface AuditRecord {
  type: EventType;
  actor: string;
  channel: DecisionChannel;
  data: Record<string, unknown>;
}

export type Effect =
  | { type: 'cancel_expiry' }
  | { type: 'reschedule_expiry'; at: Date };

export type Refusal =
  | 'already_decided'
  | 'claim_conflict'
  | 'invalid_state'
  | 'self_approval'
  | 'not_an_approver'
  | 'not_due';

export type TransitionResult =
  | {
      ok: true;
      /** Nothing to write: the event was a repeat (same approver, same vote) or moot. */
      noop: boolean;
      from: Status;
      patch: ApprovalPatch;
      vote?: { approver: string; vote: 'approve' | 'reject'; reason: string | null; channel: DecisionChannel };
      events: AuditRecord[];
      effects: Effect[];
      /**
       * Write the change, then refuse the event that asked for it: a vote that
       * arrives after the deadline expires the approval (as the expiry job
       * would have) and does not count.
       */
      refusal?: { code: Refusal; message: string };
    }
  | { ok: false; code: Refusal; message: string };

const SYSTEM = 'system';

function refuse(code: Refusal, message: string): TransitionResult {
  return { ok: false, code, message };
}

function noop(from: Status): TransitionResult {
  return { ok: true, noop: true, from, patch: {}, events: [], effects: [] };
}

function leaseLapsed(a: ApprovalState, now: Date): boolean {
  return a.status === 'executing' && a.claim_expires_at !== null && a.claim_expires_at.getTime() <= now.getTime();
}

function decidedMessage(a: ApprovalState): string {
  return `approval is already ${a.status}`;
}

export function transition(a: ApprovalState, event: TransitionEvent, now: Date): TransitionResult {
  switch (event.type) {
    case 'vote':
      return vote(a, event, now);
    case 'expire':
      return expire(a, now);
    case 'cancel':
      if (a.status !== 'pending') return refuse('already_decided', decidedMessage(a));
      return {
        ok: true,
        noop: false,
        from: a.status,
        patch: {
          status: 'cancelled',
          decided_at: now,
          decided_by: event.actor,
          decision_reason: event.reason ?? null,
          decision_channel: 'api',
        },
        events: [{ type: 'cancelled', actor: event.actor, channel: 'api', data: { reason: event.reason ?? null } }],
        effects: [{ type: 'cancel_expiry' }],
      };
    case 'claim':
      return claim(a, event, now);
    case 'release_lease':
      if (!leaseLapsed(a, now)) return noop(a.status);
      return {
        ok: true,
        noop: false,
        from: a.status,
        patch: { status: 'approved', claim_token: null, claim_expires_at: null, claimed_at: null },
        events: [
          {
            type: 'lease_lapsed',
            actor: SYSTEM,
            channel: 'system',
            data: { lease_expired_at: a.claim_expires_at?.toISOString() ?? null },
          },
        ],
        effects: [],
      };
    case 'complete':
    case 'fail': {
      if (a.status !== 'executing') {
        return a.status === 'approved'
          ? refuse('invalid_state', 'claim the approval before reporting its outcome')
          : refuse(a.status === 'completed' || a.status === 'failed' ? 'claim_conflict' : 'invalid_state', decidedMessage(a));
      }
      if (a.claim_token !== event.token) return refuse('claim_conflict', 'claim_token does not hold the current claim');
      const done = event.type === 'complete';
      return {
        ok: true,
        noop: false,
        from: a.status,
        patch: done
          ? { status: 'completed', result: event.result ?? null, completed_at: now, claim_expires_at: null }
          : { status: 'failed', error: event.error ?? null, completed_at: now, claim_expires_at: null },
        events: [
          {
            type: done ? 'completed' : 'failed',
            actor: event.actor,
            channel: 'api',
            data: {
              ...(done ? { result: event.result ?? null } : { error: event.error ?? null }),
              // What running it cost and took, when the agent says.
              ...(event.cost_usd === undefined ? {} : { cost_usd: event.cost_usd }),
              ...(event.duration_ms === undefined ? {} : { duration_ms: event.duration_ms }),
            },
          },
        ],
        effects: [],
      };
    }
  }
}

function vote(a: ApprovalState, e: Extract<TransitionEvent, { type: 'vote' }>, now: Date): TransitionResult {
  if (a.status !== 'pending') return refuse('already_decided', decidedMessage(a));
  // The deadline is the deadline, whether or not the expiry job has run yet.
  if (now.getTime() >= a.expires_at.getTime()) {
    const expired = expire(a, now);
    if (expired.ok && !expired.noop) {
      const outcome = expired.patch.status === 'approved' ? 'approved (on_timeout: approve)' : 'expired';
      return { ...expired, refusal: { code: 'already_decided', message: `approval is already ${outcome}: its deadline passed at ${a.expires_at.toISOString()}` } };
    }
  }
  if (e.approver === a.agent_id) return refuse('self_approval', 'an agent cannot approve its own request');
  if (a.approvers.length > 0 && !a.approvers.includes(e.approver)) {
    return refuse('not_an_approver', `${e.approver} is not an approver for this request`);
  }
  const previous = a.votes.find((v) => v.approver === e.approver);
  // A repeated approve from the same approver is a retry, not a second voice.
  if (previous && previous.vote === e.vote) return noop(a.status);

  const reason = e.reason ?? null;
  const via = e.asserted_by === undefined ? {} : { asserted_by: e.asserted_by };
  const events: AuditRecord[] = [
    { type: 'voted', actor: e.approver, channel: e.channel, data: { vote: e.vote, reason, ...via } },
  ];
  const base = { ok: true as const, noop: false, from: a.status, vote: { approver: e.approver, vote: e.vote, reason, channel: e.channel } };

  if (e.vote === 'reject') {
    const option = e.option ?? null;
    events.push({ type: 'rejected', actor: e.approver, channel: e.channel, data: { reason, ...(option === null ? {} : { option }), ...via } });
    return {
      ...base,
      patch: {
        status: 'rejected',
        decided_at: now,
        decided_by: e.approver,
        decision_reason: reason,
        decision_channel: e.channel,
        ...(option === null ? {} : { decision_option: option }),
      },
      events,
      effects: [{ type: 'cancel_expiry' }],
    };
  }

  const approvers = new Set(a.votes.filter((v) => v.vote === 'approve').map((v) => v.approver));
  approvers.add(e.approver);
  if (approvers.size < a.required_approvals) {
    events[0]!.data.approvals = approvers.size;
    events[0]!.data.required = a.required_approvals;
    return { ...base, patch: {}, events, effects: [] };
  }
  events.push({
    type: 'approved',
    actor: e.approver,
    channel: e.channel,
    data: { reason, approvers: [...approvers], ...via },
  });
  return {
    ...base,
    patch: { status: 'approved', decided_at: now, decided_by: e.approver, decision_reason: reason, decision_channel: e.channel },
    events,
    effects: [{ type: 'cancel_expiry' }],
  };
}

function expire(a: ApprovalState, now: Date): TransitionResult {
  if (a.status !== 'pending') return noop(a.status);
  if (now.getTime() < a.expires_at.getTime()) {
    return refuse('not_due', `approval expires at ${a.expires_at.toISOString()}`);
  }
  const outcome: Status = a.on_timeout === 'approve' ? 'approved' : 'expired';
  return {
    ok: true,
    noop: false,
    from: a.status,
    patch: { status: outcome, decided_at: now, decided_by: SYSTEM, decision_reason: 'timed out', decision_channel: 'timeout' },
    events: [
      {
        type: 'expired',
        actor: SYSTEM,
        channel: 'timeout',
        data: { on_timeout: a.on_timeout, outcome, deadline: a.expires_at.toISOString() },
      },
    ],
    effects: [],
  };
}

function claim(a: ApprovalState, e: Extract<TransitionEvent, { type: 'claim' }>, now: Date): TransitionResult {
  const lapsed = leaseLapsed(a, now);
  if (a.status === 'pending') return refuse('invalid_state', 'approval is still pending');
  if (a.status === 'executing' && !lapsed) return refuse('claim_conflict', 'approval is already claimed');
  if (a.status === 'completed' || a.status === 'failed') return refuse('claim_conflict', `approval already ${a.status}`);
  if (a.status !== 'approved' && a.status !== 'executing') return refuse('already_decided', decidedMessage(a));

  const events: AuditRecord[] = [];
  if (lapsed) {
    events.push({
      type: 'lease_lapsed',
      actor: SYSTEM,
      channel: 'system',
      data: { lease_expired_at: a.claim_expires_at?.toISOString() ?? null },
    });
  }
  const expires = new Date(now.getTime() + e.lease_seconds * 1000);
  events.push({ type: 'claimed', actor: e.actor, channel: 'api', data: { lease_expires_at: expires.toISOString() } });
  return {
    ok: true,
    noop: false,
    from: a.status,
    patch: { status: 'executing', claim_token: e.token, claim_expires_at: expires, claimed_at: now },
    events,
    effects: [],
  };
}
