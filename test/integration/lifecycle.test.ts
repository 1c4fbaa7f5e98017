import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/approvals/chain.ts';
import { appendEvent, chainAll, toChainEvent, type EventRow } from '../../src/db/events.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { startReceiver, waitFor } from '../helpers/receiver.ts';

let h: Harness;
let t: TenantKeys;
let recv: Awaited<ReturnType<typeof startReceiver>>;
let n = 0;
const key = () => `key-${++n}-${Date.now()}`;

const POLICY = {
  defaults: { decision: 'allow', min_timeout_seconds: 1 },
  rules: [
    { name: 'payments', match: { action: 'payment.*', when: { 'params.amount': { gt: 1000 } } }, decision: 'require_approval', reason: 'big payment' },
    { name: 'never-drop', match: { action: 'database.drop*' }, decision: 'deny', reason: 'Dropping databases is never allowed' },
    { name: 'two-person', match: { action: 'wire.*' }, decision: 'require_approval', approval: { required_approvals: 2 } },
    { name: 'short', match: { action: 'short.*' }, decision: 'require_approval', approval: { timeout_seconds: 1 } },
  ],
};

beforeAll(async () => {
  h = await createHarness({ workers: true });
  t = await h.tenant();
  recv = await startReceiver();
  await h.setPolicy(t, POLICY);
});

afterAll(async () => {
  await recv.close();
  await h.close();
});

async function guard(body: Record<string, unknown>) {
  return h.call('POST', '/v1/guard', t.agent, { agent_id: 'bot-1', params: {}, ...body });
}

async function park(extra: Record<string, unknown> = {}) {
  const r = await guard({ action: 'payment.send', params: { amount: 5000 }, idempotency_key: key(), callback_url: recv.url('/cb'), ...extra });
  expect(r.status).toBe(202);
  expect(r.body.status).toBe('pending');
  return r.body.approval as { id: string; idempotency_key: string };
}

/** The first row of a query, loosely typed (test-only). */
async function one(q: Promise<readonly unknown[]>): Promise<any> {
  return (await q)[0];
}

/** Waits until the receiver holds deliveries of `type` for the approval. */
function arrived(approvalId: string, type: string, opts: { timeout?: number } = {}) {
  return waitFor(() => {
    const d = deliveriesFor(approvalId, type);
    return d.length > 0 ? d : undefined;
  }, { ...opts, what: `${type} for ${approvalId}` });
}

function deliveriesFor(approvalId: string, type: string) {
  return recv.received.filter((r) => r.json.type === type && r.json.data.id === approvalId);
}

describe('guard', () => {
  it('allows what the policy allows and denies what it denies, parking nothing', async () => {
    const ok = await guard({ action: 'payment.send', params: { amount: 10 }, idempotency_key: key() });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'allowed', approval: null, policy_version: 1 });
    const no = await guard({ action: 'database.drop_all', idempotency_key: key() });
    expect(no.body.status).toBe('denied');
    expect(no.body.reasons[0]).toMatchObject({ rule: 'never-drop', message: 'Dropping databases is never allowed' });
    const { count } = await one(h.rt.sql`SELECT count(*)::int AS count FROM approvals`);
    expect(count).toBe(0);
  });

  it('parks an action that needs approval and tells the webhook receiver it was requested', async () => {
    const a = await park();
    const [d] = await arrived(a.id, 'approval.requested');
    new Webhook(t.webhook_secret).verify(d!.body, d!.headers);
    expect(d!.json.data.status).toBe('pending');
  });

  it('returns the same approval for the same key, and 422 for the same key with other params', async () => {
    const k = key();
    const first = await guard({ action: 'payment.send', params: { amount: 2000 }, idempotency_key: k });
    const again = await guard({ action: 'payment.send', params: { amount: 2000 }, idempotency_key: k });
    expect(again.status).toBe(202);
    expect(again.body.approval.id).toBe(first.body.approval.id);
    const other = await guard({ action: 'payment.send', params: { amount: 2001 }, idempotency_key: k });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
  });

  it('takes the idempotency key from the Idempotency-Key header, and refuses a guard without one', async () => {
    const k = key();
    const r = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: { amount: 5000 } }, { 'idempotency-key': k });
    expect(r.status).toBe(202);
    expect(r.body.approval.idempotency_key).toBe(k);
    const none = await guard({ action: 'payment.send', params: { amount: 5000 } });
    expect(none.status).toBe(400);
    expect(none.body.error.code).toBe('idempotency_key_missing');
  });

  it('50 concurrent guards with one key make exactly one approval', async () => {
    const k = key();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => guard({ action: 'payment.send', params: { amount: 7777 }, idempotency_key: k })),
    );
    expect(results.every((r) => r.status === 202)).toBe(true);
    expect(new Set(results.map((r) => r.body.approval.id)).size).toBe(1);
    const { count } = await one(h.rt.sql`SELECT count(*)::int AS count FROM approvals WHERE idempotency_key = ${k}`);
    expect(count).toBe(1);
    const { events } = await one(h.rt.sql`SELECT count(*)::int AS events FROM approval_events WHERE approval_id = ${results[0]!.body.approval.id}`);
    expect(events).toBe(1);
  });
});

describe('deciding', () => {
  it('approve: the approval is approved and approval.approved reaches the callback, signed', async () => {
    const a = await park();
    const r = await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'alice'), { decision: 'approve', reason: 'looks fine' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'approved', decided_by: 'alice', decision_reason: 'looks fine', decision_channel: 'api' });
    const [d] = await arrived(a.id, 'approval.approved');
    const verified = new Webhook(t.webhook_secret).verify(d!.body, d!.headers) as { data: { status: string } };
    expect(verified.data.status).toBe('approved');
    expect(d!.headers['webhook-id']).toBe(d!.json.id);
    const byKey = await h.call('GET', `/v1/approvals/by-key/${a.idempotency_key}`, t.agent);
    expect(byKey.body.status).toBe('approved');
  });

  it('reject: one reject decides, with its reason, and a later approve is refused with the current state', async () => {
    const a = await park();
    const r = await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'bob'), { decision: 'reject', reason: 'too much' });
    expect(r.body).toMatchObject({ status: 'rejected', decided_by: 'bob', decision_reason: 'too much' });
    const late = await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'carol'), { decision: 'approve' });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('already_decided');
    expect(late.body.error.details.approval.status).toBe('rejected');
    await waitFor(() => deliveriesFor(a.id, 'approval.rejected').length);
  });

  it('an agent cannot approve its own request, even when a person of that name is added after it asked', async () => {
    const a = await park({ agent_id: 'bot-self' });
    // guard refuses an agent_id that names an approver; one added later is still refused its own request.
    const r = await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'bot-self'), { decision: 'approve' });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('self_approval');
    expect((await h.call('GET', `/v1/approvals/${a.id}`, t.agent)).body.status).toBe('pending');
  });

  it('a quorum of two needs two distinct approvers; the same approver twice counts once', async () => {
    const r0 = await guard({ action: 'wire.transfer', idempotency_key: key() });
    const id = r0.body.approval.id;
    expect(r0.body.approval.required_approvals).toBe(2);
    const first = await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    expect(first.body.status).toBe('pending');
    const repeat = await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    expect(repeat.body.status).toBe('pending');
    expect(repeat.body.votes).toHaveLength(1);
    const second = await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'bob'), { decision: 'approve' });
    expect(second.body.status).toBe('approved');
    expect(second.body.votes.map((v: { approver: string }) => v.approver).sort()).toEqual(['alice', 'bob']);
  });

  it('cancel: the agent withdraws a pending request once', async () => {
    const a = await park();
    const r = await h.call('POST', `/v1/approvals/${a.id}/cancel`, t.agent, { reason: 'no longer needed' });
    expect(r.body.status).toBe('cancelled');
    const again = await h.call('POST', `/v1/approvals/${a.id}/cancel`, t.agent, {});
    expect(again.status).toBe(409);
    await waitFor(() => deliveriesFor(a.id, 'approval.cancelled').length);
  });
});

describe('execution lease', () => {
  it('claim once, a second claim gets 409, complete with the token closes it', async () => {
    const a = await park();
    await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    const c1 = await h.call('POST', `/v1/approvals/${a.id}/claim`, t.agent, {});
    expect(c1.status).toBe(200);
    expect(c1.body.approval.status).toBe('executing');
    const c2 = await h.call('POST', `/v1/approvals/${a.id}/claim`, t.agent, {});
    expect(c2.status).toBe(409);
    expect(c2.body.error.code).toBe('claim_conflict');
    const wrong = await h.call('POST', `/v1/approvals/${a.id}/complete`, t.agent, { claim_token: crypto.randomUUID() });
    expect(wrong.status).toBe(409);
    const done = await h.call('POST', `/v1/approvals/${a.id}/complete`, t.agent, { claim_token: c1.body.claim_token, result: { tx: 'abc' } });
    expect(done.body).toMatchObject({ status: 'completed', result: { tx: 'abc' } });
    const [d] = await arrived(a.id, 'approval.completed');
    expect(d!.json.data.result).toEqual({ tx: 'abc' });
  });

  it('a claim on a pending approval is refused', async () => {
    const a = await park();
    const r = await h.call('POST', `/v1/approvals/${a.id}/claim`, t.agent, {});
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('invalid_state');
  });

  it('fail records the error', async () => {
    const a = await park();
    await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    const c = await h.call('POST', `/v1/approvals/${a.id}/claim`, t.agent, { lease_seconds: 60 });
    const f = await h.call('POST', `/v1/approvals/${a.id}/fail`, t.agent, { claim_token: c.body.claim_token, error: { message: 'card declined' } });
    expect(f.body).toMatchObject({ status: 'failed', error: { message: 'card declined' } });
  });

  it('a lapsed lease returns the approval to approved, on the record', async () => {
    const a = await park();
    await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    await h.call('POST', `/v1/approvals/${a.id}/claim`, t.agent, { lease_seconds: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    await h.workers!.reconcileNow();
    const r = await h.call('GET', `/v1/approvals/${a.id}/events`, t.agent);
    expect(r.body.events.map((e: { type: string }) => e.type)).toEqual(['requested', 'voted', 'approved', 'claimed', 'lease_lapsed']);
    expect((await h.call('GET', `/v1/approvals/${a.id}`, t.agent)).body.status).toBe('approved');
  });
});

describe('expiry', () => {
  it('a pending approval expires at its deadline and approval.expired is delivered', async () => {
    const r = await guard({ action: 'short.op', idempotency_key: key(), callback_url: recv.url('/cb') });
    const id = r.body.approval.id;
    const [d] = await arrived(id, 'approval.expired', { timeout: 8_000 });
    expect(d!.json.data.status).toBe('expired');
    const lateness = Date.parse(d!.json.data.decided_at as string) - Date.parse(d!.json.data.expires_at as string);
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThan(2_000);
  });

  it('approve racing expiry: exactly one outcome, never both', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await guard({ action: 'short.op', idempotency_key: key() })).body.approval.id);
    const deadline = Date.parse((await h.call('GET', `/v1/approvals/${ids[ids.length - 1]}`, t.agent)).body.expires_at);
    const alice = await h.as(t, 'alice');
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now() - 5)));
    await Promise.all(
      ids.flatMap((id) => [
        h.call('POST', `/v1/approvals/${id}/decision`, alice, { decision: 'approve' }),
        h.rt.service.expire(id),
      ]),
    );
    for (const id of ids) {
      const ev = await h.call('GET', `/v1/approvals/${id}/events`, t.agent);
      const outcomes = ev.body.events.filter((e: { type: string }) => e.type === 'approved' || e.type === 'expired');
      expect(outcomes).toHaveLength(1);
      const status = (await h.call('GET', `/v1/approvals/${id}`, t.agent)).body.status;
      expect(status).toBe(outcomes[0].type === 'approved' ? 'approved' : 'expired');
    }
  });

  it('on_timeout: approve lets the action through when nobody answers', async () => {
    await h.setPolicy(t, {
      ...POLICY,
      rules: [...POLICY.rules, { name: 'lenient', match: { action: 'lenient.*' }, decision: 'require_approval', approval: { timeout_seconds: 1, on_timeout: 'approve' } }],
    });
    const r = await guard({ action: 'lenient.op', idempotency_key: key() });
    const a = await waitFor(async () => {
      const g = await h.call('GET', `/v1/approvals/${r.body.approval.id}`, t.agent);
      return g.body.status !== 'pending' && g.body;
    });
    expect(a).toMatchObject({ status: 'approved', decision_channel: 'timeout', decided_by: 'system' });
    await h.setPolicy(t, POLICY);
  });
});

describe('long-poll', () => {
  it('returns within 100 ms of the decision', async () => {
    const a = await park();
    const polling = h.call('GET', `/v1/approvals/by-key/${a.idempotency_key}?wait=10`, t.agent).then((r) => ({ r, at: performance.now() }));
    await new Promise((r) => setTimeout(r, 300));
    const decided = await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    const decidedAt = performance.now();
    expect(decided.status).toBe(200);
    const { r, at } = await polling;
    expect(r.body.status).toBe('approved');
    expect(at - decidedAt).toBeLessThan(100);
  });

  it('returns the pending approval when the wait runs out', async () => {
    const a = await park();
    const started = Date.now();
    const r = await h.call('GET', `/v1/approvals/by-key/${a.idempotency_key}?wait=0.3`, t.agent);
    expect(r.body.status).toBe('pending');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});

describe('audit trail', () => {
  it('every event is hash-chained and the chain checks out', async () => {
    const a = await park();
    await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'bob'), { decision: 'reject' });
    const r = await h.call('GET', `/v1/approvals/${a.id}/events`, t.agent);
    expect(r.body.chain).toEqual({ intact: true, checked: 3 });
    expect(r.body.events.map((e: { type: string }) => e.type)).toEqual(['requested', 'voted', 'rejected']);
    expect(r.body.events[1].prev_hash).toBeTruthy();
  });

  it('concurrent approvals of one tenant form one unbroken chain once linked', async () => {
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => guard({ action: 'payment.send', params: { amount: 5000 + i }, idempotency_key: key() })),
    );
    await chainAll(h.rt.sql, t.tenant_id);
    const rows = await h.rt.sql<EventRow[]>`SELECT * FROM approval_events WHERE tenant_id = ${t.tenant_id} ORDER BY seq`;
    const events = rows.map(toChainEvent);
    expect(events.every((e) => e.hash !== null)).toBe(true);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(verifyChain(events, { contiguous: true })).toEqual({ intact: true, checked: events.length });
  });

  it('an event can be linked once, and never changed', async () => {
    const a = await park();
    const ev = await appendEvent(h.rt.sql, {
      id: crypto.randomUUID(),
      tenant_id: t.tenant_id,
      approval_id: a.id,
      type: 'voted',
      actor: 'x',
      channel: 'api',
      data: { n: 1 },
      created_at: new Date(),
    });
    await expect(h.rt.sql`UPDATE approval_events SET data = '{"n": 2}' WHERE id = ${ev.id}`).rejects.toThrow(/append-only/);
    await chainAll(h.rt.sql, t.tenant_id);
    const [linked] = await h.rt.sql<EventRow[]>`SELECT * FROM approval_events WHERE id = ${ev.id}`;
    expect(linked!.hash).not.toBeNull();
    await expect(h.rt.sql`UPDATE approval_events SET hash = sha256('x') WHERE id = ${ev.id}`).rejects.toThrow(/append-only/);
  });

  it('the database refuses to change or delete an event', async () => {
    await expect(h.rt.sql`UPDATE approval_events SET actor = 'mallory'`).rejects.toThrow(/append-only/);
    await expect(h.rt.sql`DELETE FROM approval_events`).rejects.toThrow(/append-only/);
  });
});

describe('listing', () => {
  it('lists newest first with a cursor that walks every page once', async () => {
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { body: { data: { id: string }[]; next_cursor: string | null } } = await h.call(
        'GET',
        `/v1/approvals?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        t.approver,
      );
      for (const a of r.body.data) {
        expect(seen.has(a.id)).toBe(false);
        seen.add(a.id);
      }
      cursor = r.body.next_cursor;
      pages++;
    } while (cursor && pages < 100);
    const { count } = await one(h.rt.sql`SELECT count(*)::int AS count FROM approvals WHERE tenant_id = ${t.tenant_id}`);
    expect(seen.size).toBe(count);
    const pending = await h.call('GET', '/v1/approvals?status=pending&limit=200', t.approver);
    expect(pending.body.data.every((a: { status: string }) => a.status === 'pending')).toBe(true);
  });
});
