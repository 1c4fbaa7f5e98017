import { describe, expect, it } from 'vitest';
import { transition, type ApprovalState, type TransitionEvent, type TransitionResult } from '../../src/approvals/transition.ts';
import { STATUSES, TERMINAL, type Status } from '../../src/approvals/status.ts';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

function state(over: Partial<ApprovalState> = {}): ApprovalState {
  return {
    status: 'pending',
    agent_id: 'agent-1',
    required_approvals: 1,
    on_timeout: 'reject',
    expires_at: at(900),
    approvers: [],
    votes: [],
    claim_token: null,
    claim_expires_at: null,
    ...over,
  };
}

const approve = (approver: string, reason?: string): TransitionEvent => ({ type: 'vote', approver, vote: 'approve', reason, channel: 'slack' });
const reject = (approver: string, reason?: string): TransitionEvent => ({ type: 'vote', approver, vote: 'reject', reason, channel: 'web' });

function ok(r: TransitionResult) {
  if (!r.ok) throw new Error(`expected ok, got refusal ${r.code}: ${r.message}`);
  return r;
}

function refusal(r: TransitionResult) {
  if (r.ok) throw new Error(`expected a refusal, got ok (patch ${JSON.stringify(r.patch)})`);
  return r;
}

describe('transition: votes', () => {
  it('a vote at or after the deadline expires the approval instead, and is refused', () => {
    for (const v of [approve('alice'), reject('bob')]) {
      const r = ok(transition(state(), v, at(900)));
      expect(r.patch).toMatchObject({ status: 'expired', decided_by: 'system', decision_channel: 'timeout' });
      expect(r.events.map((e) => e.type)).toEqual(['expired']);
      expect(r.vote).toBeUndefined();
      expect(r.refusal).toEqual({ code: 'already_decided', message: `approval is already expired: its deadline passed at ${at(900).toISOString()}` });
    }
    const onTimeoutApprove = ok(transition(state({ on_timeout: 'approve' }), reject('bob'), at(901)));
    expect(onTimeoutApprove.patch.status).toBe('approved');
    expect(onTimeoutApprove.refusal?.message).toMatch(/^approval is already approved \(on_timeout: approve\)/);
    // A millisecond before the deadline still counts.
    expect(ok(transition(state(), approve('alice'), new Date(at(900).getTime() - 1))).refusal).toBeUndefined();
  });

  it('one approve from a pending approval with quorum 1 approves it at `now` and cancels the expiry', () => {
    const now = at(10);
    const r = ok(transition(state(), approve('alice', 'looks fine'), now));
    expect(r.noop).toBe(false);
    expect(r.from).toBe('pending');
    expect(r.patch).toEqual({
      status: 'approved',
      decided_at: now,
      decided_by: 'alice',
      decision_reason: 'looks fine',
      decision_channel: 'slack',
    });
    expect(r.patch.decided_at).toBe(now);
    expect(r.vote).toEqual({ approver: 'alice', vote: 'approve', reason: 'looks fine', channel: 'slack' });
    expect(r.events.map((e) => e.type)).toEqual(['voted', 'approved']);
    expect(r.events[1]).toMatchObject({ actor: 'alice', channel: 'slack', data: { approvers: ['alice'], reason: 'looks fine' } });
    expect(r.effects).toEqual([{ type: 'cancel_expiry' }]);
  });

  it('one reject from a pending approval rejects it, records the reason and cancels the expiry', () => {
    const now = at(20);
    const r = ok(transition(state(), reject('bob', 'too risky'), now));
    expect(r.patch).toEqual({
      status: 'rejected',
      decided_at: now,
      decided_by: 'bob',
      decision_reason: 'too risky',
      decision_channel: 'web',
    });
    expect(r.events.map((e) => e.type)).toEqual(['voted', 'rejected']);
    expect(r.events[0]!.data).toEqual({ vote: 'reject', reason: 'too risky' });
    expect(r.effects).toEqual([{ type: 'cancel_expiry' }]);
  });

  it('a vote without a reason records the reason as null, not undefined', () => {
    const r = ok(transition(state(), approve('alice'), at(1)));
    expect(r.patch.decision_reason).toBeNull();
    expect(r.vote!.reason).toBeNull();
    expect(r.events[0]!.data.reason).toBeNull();
  });

  it('with a quorum of two, the first approve only records a vote and writes nothing to the row', () => {
    const r = ok(transition(state({ required_approvals: 2 }), approve('alice'), at(1)));
    expect(r.noop).toBe(false);
    expect(r.patch).toEqual({});
    expect(r.effects).toEqual([]);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ type: 'voted', actor: 'alice', data: { vote: 'approve', approvals: 1, required: 2 } });
    expect(r.vote).toMatchObject({ approver: 'alice', vote: 'approve' });
  });

  it('with a quorum of two, a second distinct approver approves it', () => {
    const now = at(30);
    const s = state({ required_approvals: 2, votes: [{ approver: 'alice', vote: 'approve' }] });
    const r = ok(transition(s, approve('bob'), now));
    expect(r.patch.status).toBe('approved');
    expect(r.patch.decided_by).toBe('bob');
    expect(r.patch.decided_at).toBe(now);
    expect(r.events.map((e) => e.type)).toEqual(['voted', 'approved']);
    expect(new Set(r.events[1]!.data.approvers as string[])).toEqual(new Set(['alice', 'bob']));
    expect(r.effects).toEqual([{ type: 'cancel_expiry' }]);
  });

  it('the same approver approving twice is a noop and does not count towards the quorum', () => {
    const s = state({ required_approvals: 2, votes: [{ approver: 'alice', vote: 'approve' }] });
    const r = ok(transition(s, approve('alice'), at(5)));
    expect(r.noop).toBe(true);
    expect(r.patch).toEqual({});
    expect(r.events).toEqual([]);
    expect(r.effects).toEqual([]);
  });

  it('one reject rejects even after approvals have been recorded', () => {
    const s = state({ required_approvals: 3, votes: [{ approver: 'alice', vote: 'approve' }, { approver: 'bob', vote: 'approve' }] });
    const r = ok(transition(s, reject('carol'), at(5)));
    expect(r.patch.status).toBe('rejected');
    expect(r.patch.decided_by).toBe('carol');
  });

  it('an approver who approved can change their mind and reject', () => {
    const s = state({ required_approvals: 2, votes: [{ approver: 'alice', vote: 'approve' }] });
    const r = ok(transition(s, reject('alice'), at(5)));
    expect(r.noop).toBe(false);
    expect(r.patch.status).toBe('rejected');
  });

  it('an agent cannot approve its own request', () => {
    const r = refusal(transition(state({ agent_id: 'agent-1' }), approve('agent-1'), at(1)));
    expect(r.code).toBe('self_approval');
  });

  it('when the approval names its approvers, anyone else is refused', () => {
    const s = state({ approvers: ['alice', 'bob'] });
    expect(refusal(transition(s, approve('mallory'), at(1))).code).toBe('not_an_approver');
    expect(refusal(transition(s, reject('mallory'), at(1))).code).toBe('not_an_approver');
    expect(ok(transition(s, approve('bob'), at(1))).patch.status).toBe('approved');
  });

  it('an empty approvers list lets any approver decide', () => {
    expect(ok(transition(state({ approvers: [] }), approve('anyone'), at(1))).patch.status).toBe('approved');
  });

  it.each(['approved', 'rejected', 'expired', 'cancelled', 'executing', 'completed', 'failed'] as const)(
    'a vote on a %s approval is refused as already decided',
    (status) => {
      for (const ev of [approve('alice'), reject('alice')]) {
        const r = refusal(transition(state({ status }), ev, at(1)));
        expect(r.code).toBe('already_decided');
        expect(r.message).toContain(status);
      }
    },
  );
});

describe('transition: expiry', () => {
  it('expiring before the deadline is refused as not due', () => {
    const r = refusal(transition(state({ expires_at: at(900) }), { type: 'expire' }, at(899)));
    expect(r.code).toBe('not_due');
    expect(r.message).toContain(at(900).toISOString());
  });

  it('expiring exactly at the deadline with on_timeout reject marks it expired by the system', () => {
    const now = at(900);
    const r = ok(transition(state({ expires_at: at(900), on_timeout: 'reject' }), { type: 'expire' }, now));
    expect(r.patch).toEqual({
      status: 'expired',
      decided_at: now,
      decided_by: 'system',
      decision_reason: 'timed out',
      decision_channel: 'timeout',
    });
    expect(r.events).toEqual([
      {
        type: 'expired',
        actor: 'system',
        channel: 'timeout',
        data: { on_timeout: 'reject', outcome: 'expired', deadline: at(900).toISOString() },
      },
    ]);
  });

  it('expiring after the deadline with on_timeout approve approves it through the timeout channel', () => {
    const now = at(1000);
    const r = ok(transition(state({ on_timeout: 'approve' }), { type: 'expire' }, now));
    expect(r.patch.status).toBe('approved');
    expect(r.patch.decision_channel).toBe('timeout');
    expect(r.patch.decided_at).toBe(now);
    expect(r.events[0]!.data).toMatchObject({ on_timeout: 'approve', outcome: 'approved' });
  });

  it.each(['approved', 'rejected', 'expired', 'cancelled', 'executing', 'completed', 'failed'] as const)(
    'expiring a %s approval is a noop',
    (status) => {
      const r = ok(transition(state({ status }), { type: 'expire' }, at(10_000)));
      expect(r.noop).toBe(true);
      expect(r.from).toBe(status);
      expect(r.patch).toEqual({});
      expect(r.events).toEqual([]);
    },
  );
});

describe('transition: cancel', () => {
  it('cancelling a pending approval cancels it at `now` and cancels the expiry', () => {
    const now = at(3);
    const r = ok(transition(state(), { type: 'cancel', actor: 'agent-1', reason: 'no longer needed' }, now));
    expect(r.patch).toEqual({
      status: 'cancelled',
      decided_at: now,
      decided_by: 'agent-1',
      decision_reason: 'no longer needed',
      decision_channel: 'api',
    });
    expect(r.events).toEqual([{ type: 'cancelled', actor: 'agent-1', channel: 'api', data: { reason: 'no longer needed' } }]);
    expect(r.effects).toEqual([{ type: 'cancel_expiry' }]);
  });

  it('a cancel without a reason stores a null reason', () => {
    const r = ok(transition(state(), { type: 'cancel', actor: 'agent-1' }, at(3)));
    expect(r.patch.decision_reason).toBeNull();
  });

  it.each(['approved', 'rejected', 'expired', 'cancelled', 'executing', 'completed', 'failed'] as const)(
    'cancelling a %s approval is refused as already decided',
    (status) => {
      expect(refusal(transition(state({ status }), { type: 'cancel', actor: 'agent-1' }, at(3))).code).toBe('already_decided');
    },
  );
});

describe('transition: claim and lease', () => {
  const claimEv = (token = 'tok-new'): TransitionEvent => ({ type: 'claim', actor: 'agent-1', token, lease_seconds: 60 });

  it('claiming an approved approval starts executing with a lease of lease_seconds from `now`', () => {
    const now = at(100);
    const r = ok(transition(state({ status: 'approved' }), claimEv('tok-1'), now));
    expect(r.from).toBe('approved');
    expect(r.patch).toEqual({ status: 'executing', claim_token: 'tok-1', claim_expires_at: at(160), claimed_at: now });
    expect(r.events).toEqual([{ type: 'claimed', actor: 'agent-1', channel: 'api', data: { lease_expires_at: at(160).toISOString() } }]);
    expect(r.effects).toEqual([]);
  });

  it('claiming while another claim holds a live lease is a conflict', () => {
    const s = state({ status: 'executing', claim_token: 'tok-old', claim_expires_at: at(200) });
    expect(refusal(transition(s, claimEv(), at(199))).code).toBe('claim_conflict');
  });

  it('claiming after the lease lapsed takes over and records the lapse first', () => {
    const s = state({ status: 'executing', claim_token: 'tok-old', claim_expires_at: at(200) });
    const now = at(200);
    const r = ok(transition(s, claimEv('tok-new'), now));
    expect(r.from).toBe('executing');
    expect(r.patch).toMatchObject({ status: 'executing', claim_token: 'tok-new', claim_expires_at: at(260), claimed_at: now });
    expect(r.events.map((e) => e.type)).toEqual(['lease_lapsed', 'claimed']);
    expect(r.events[0]).toEqual({
      type: 'lease_lapsed',
      actor: 'system',
      channel: 'system',
      data: { lease_expired_at: at(200).toISOString() },
    });
  });

  it('claiming a pending approval is refused as invalid state', () => {
    expect(refusal(transition(state(), claimEv(), at(1))).code).toBe('invalid_state');
  });

  it.each(['rejected', 'expired', 'cancelled'] as const)('claiming a %s approval is refused as already decided', (status) => {
    expect(refusal(transition(state({ status }), claimEv(), at(1))).code).toBe('already_decided');
  });

  it.each(['completed', 'failed'] as const)('claiming a %s approval is a claim conflict', (status) => {
    const r = refusal(transition(state({ status, claim_token: 'tok-old' }), claimEv(), at(1)));
    expect(r.code).toBe('claim_conflict');
    expect(r.message).toContain(status);
  });

  it('releasing a lapsed lease puts the approval back to approved and clears the claim', () => {
    const s = state({ status: 'executing', claim_token: 'tok-old', claim_expires_at: at(200) });
    const r = ok(transition(s, { type: 'release_lease' }, at(201)));
    expect(r.noop).toBe(false);
    expect(r.patch).toEqual({ status: 'approved', claim_token: null, claim_expires_at: null, claimed_at: null });
    expect(r.events).toEqual([
      { type: 'lease_lapsed', actor: 'system', channel: 'system', data: { lease_expired_at: at(200).toISOString() } },
    ]);
  });

  it('releasing a lease that is still live is a noop', () => {
    const s = state({ status: 'executing', claim_token: 'tok-old', claim_expires_at: at(200) });
    const r = ok(transition(s, { type: 'release_lease' }, at(199)));
    expect(r.noop).toBe(true);
    expect(r.patch).toEqual({});
    expect(r.events).toEqual([]);
  });

  it.each(['pending', 'approved', 'completed', 'failed'] as const)('releasing the lease of a %s approval is a noop', (status) => {
    const r = ok(transition(state({ status, claim_expires_at: at(1) }), { type: 'release_lease' }, at(500)));
    expect(r.noop).toBe(true);
  });
});

describe('transition: complete and fail', () => {
  const executing = state({ status: 'executing', claim_token: 'tok-1', claim_expires_at: at(200), required_approvals: 1 });

  it('completing with the current claim token completes it at `now` with the result', () => {
    const now = at(150);
    const r = ok(transition(executing, { type: 'complete', actor: 'agent-1', token: 'tok-1', result: { id: 42 } }, now));
    expect(r.from).toBe('executing');
    expect(r.patch).toEqual({ status: 'completed', result: { id: 42 }, completed_at: now, claim_expires_at: null });
    expect(r.events).toEqual([{ type: 'completed', actor: 'agent-1', channel: 'api', data: { result: { id: 42 } } }]);
  });

  it('failing with the current claim token fails it at `now` with the error', () => {
    const now = at(150);
    const r = ok(transition(executing, { type: 'fail', actor: 'agent-1', token: 'tok-1', error: 'boom' }, now));
    expect(r.patch).toEqual({ status: 'failed', error: 'boom', completed_at: now, claim_expires_at: null });
    expect(r.events).toEqual([{ type: 'failed', actor: 'agent-1', channel: 'api', data: { error: 'boom' } }]);
  });

  it('an undefined result or error is stored as null', () => {
    expect(ok(transition(executing, { type: 'complete', actor: 'a', token: 'tok-1', result: undefined }, at(1))).patch.result).toBeNull();
    expect(ok(transition(executing, { type: 'fail', actor: 'a', token: 'tok-1', error: undefined }, at(1))).patch.error).toBeNull();
  });

  it.each(['complete', 'fail'] as const)('%s with a stale claim token is a claim conflict', (type) => {
    const ev = type === 'complete'
      ? ({ type, actor: 'agent-1', token: 'tok-stale', result: 1 } as const)
      : ({ type, actor: 'agent-1', token: 'tok-stale', error: 1 } as const);
    expect(refusal(transition(executing, ev, at(150))).code).toBe('claim_conflict');
  });

  it.each(['complete', 'fail'] as const)('%s on an approved but unclaimed approval is refused as invalid state', (type) => {
    const ev = type === 'complete'
      ? ({ type, actor: 'agent-1', token: 'tok-1', result: 1 } as const)
      : ({ type, actor: 'agent-1', token: 'tok-1', error: 1 } as const);
    const r = refusal(transition(state({ status: 'approved' }), ev, at(1)));
    expect(r.code).toBe('invalid_state');
  });

  it.each(['completed', 'failed'] as const)('reporting an outcome again on a %s approval is a claim conflict', (status) => {
    const r = refusal(transition(state({ status, claim_token: 'tok-1' }), { type: 'complete', actor: 'a', token: 'tok-1', result: 1 }, at(1)));
    expect(r.code).toBe('claim_conflict');
  });

  it.each(['pending', 'rejected', 'expired', 'cancelled'] as const)('reporting an outcome on a %s approval is refused as invalid state', (status) => {
    const r = refusal(transition(state({ status }), { type: 'fail', actor: 'a', token: 'tok-1', error: 1 }, at(1)));
    expect(r.code).toBe('invalid_state');
  });
});

describe('transition: the whole table', () => {
  // Every (status, event) pair has exactly one answer; this pins the table so a
  // change to any edge shows up here.
  const executingLive = { claim_token: 'tok-1', claim_expires_at: at(10_000) };
  const events: Record<string, TransitionEvent> = {
    approve: approve('alice'),
    reject: reject('alice'),
    expire: { type: 'expire' },
    cancel: { type: 'cancel', actor: 'agent-1' },
    claim: { type: 'claim', actor: 'agent-1', token: 'tok-2', lease_seconds: 30 },
    release_lease: { type: 'release_lease' },
    complete: { type: 'complete', actor: 'agent-1', token: 'tok-1', result: null },
    fail: { type: 'fail', actor: 'agent-1', token: 'tok-1', error: null },
  };
  // 'ok:<status>' = moves to status, 'noop', or a refusal code; 'ok:<status>!<code>'
  // = writes the move and refuses the event. Every state here is past its
  // deadline (expires_at 0, now 1): a late vote expires the approval instead.
  const table: Record<Status, Record<string, string>> = {
    pending: { approve: 'ok:expired!already_decided', reject: 'ok:expired!already_decided', expire: 'ok:expired', cancel: 'ok:cancelled', claim: 'invalid_state', release_lease: 'noop', complete: 'invalid_state', fail: 'invalid_state' },
    approved: { approve: 'already_decided', reject: 'already_decided', expire: 'noop', cancel: 'already_decided', claim: 'ok:executing', release_lease: 'noop', complete: 'invalid_state', fail: 'invalid_state' },
    rejected: { approve: 'already_decided', reject: 'already_decided', expire: 'noop', cancel: 'already_decided', claim: 'already_decided', release_lease: 'noop', complete: 'invalid_state', fail: 'invalid_state' },
    expired: { approve: 'already_decided', reject: 'already_decided', expire: 'noop', cancel: 'already_decided', claim: 'already_decided', release_lease: 'noop', complete: 'invalid_state', fail: 'invalid_state' },
    cancelled: { approve: 'already_decided', reject: 'already_decided', expire: 'noop', cancel: 'already_decided', claim: 'already_decided', release_lease: 'noop', complete: 'invalid_state', fail: 'invalid_state' },
    executing: { approve: 'already_decided', reject: 'already_decided', expire: 'noop', cancel: 'already_decided', claim: 'claim_conflict', release_lease: 'noop', complete: 'ok:completed', fail: 'ok:failed' },
    completed: { approve: 'already_decided', reject: 'already_decided', expire: 'noop', cancel: 'already_decided', claim: 'claim_conflict', release_lease: 'noop', complete: 'claim_conflict', fail: 'claim_conflict' },
    failed: { approve: 'already_decided', reject: 'already_decided', expire: 'noop', cancel: 'already_decided', claim: 'claim_conflict', release_lease: 'noop', complete: 'claim_conflict', fail: 'claim_conflict' },
  };

  const cases = STATUSES.flatMap((status) => Object.keys(events).map((name) => [status, name, table[status][name]!] as const));

  it.each(cases)('from %s, %s gives %s', (status, name, expected) => {
    const s = state({ status, expires_at: at(0), ...(status === 'executing' || status === 'completed' || status === 'failed' ? executingLive : {}) });
    const r = transition(s, events[name]!, at(1));
    const got = !r.ok ? r.code : r.noop ? 'noop' : `ok:${r.patch.status}${r.refusal ? `!${r.refusal.code}` : ''}`;
    expect(got).toBe(expected);
  });

  it('no transition out of a terminal state writes anything', () => {
    for (const status of TERMINAL) {
      for (const ev of Object.values(events)) {
        const r = transition(state({ status, expires_at: at(0), ...executingLive }), ev, at(1));
        if (r.ok) {
          expect(r.noop).toBe(true);
          expect(r.patch).toEqual({});
        }
      }
    }
  });

  it('every decision timestamp is the `now` passed in, never the wall clock', () => {
    const now = new Date('1999-12-31T23:59:59.000Z');
    const decided = [
      transition(state({ expires_at: new Date(0) }), approve('alice'), now),
      transition(state({ expires_at: new Date(0) }), reject('alice'), now),
      transition(state({ expires_at: new Date(0) }), { type: 'expire' }, now),
      transition(state({ expires_at: new Date(0) }), { type: 'cancel', actor: 'x' }, now),
    ];
    for (const r of decided) expect(ok(r).patch.decided_at).toBe(now);
    const claimed = ok(transition(state({ status: 'approved' }), events.claim!, now));
    expect(claimed.patch.claimed_at).toBe(now);
    expect(claimed.patch.claim_expires_at!.getTime()).toBe(now.getTime() + 30_000);
    const done = ok(transition(state({ status: 'executing', ...executingLive }), events.complete!, now));
    expect(done.patch.completed_at).toBe(now);
  });

  it('does not mutate the state it is given', () => {
    const s = state({ required_approvals: 2, votes: [{ approver: 'alice', vote: 'approve' }] });
    const snapshot = structuredClone(s);
    transition(s, approve('bob'), at(1));
    transition(s, approve('carol'), at(1));
    expect(s).toEqual(snapshot);
  });
});
