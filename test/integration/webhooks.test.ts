import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { startReceiver, waitFor } from '../helpers/receiver.ts';

let h: Harness;
let t: TenantKeys;
let recv: Awaited<ReturnType<typeof startReceiver>>;
let n = 0;

beforeAll(async () => {
  h = await createHarness({ workers: true, env: { HOLDPOINT_WEBHOOK_MAX_ATTEMPTS: '3', HOLDPOINT_WEBHOOK_RETRY_BASE_MS: '50' } });
  t = await h.tenant();
  recv = await startReceiver();
  await h.setPolicy(t, { defaults: { decision: 'require_approval' } });
});

afterAll(async () => {
  await recv.close();
  await h.close();
});

async function park(path: string) {
  const r = await h.call('POST', '/v1/guard', t.agent, { action: 'email.send', idempotency_key: `wh-${++n}`, callback_url: recv.url(path) });
  expect(r.status).toBe(202);
  return r.body.approval.id as string;
}

async function deliveries(approvalId: string) {
  return h.rt.sql<{ id: string; status: string; attempts: number; last_status_code: number | null; target: string; event_id: string }[]>`
    SELECT d.id, d.status, d.attempts, d.last_status_code, d.target, d.event_id
    FROM webhook_deliveries d JOIN approval_events e ON e.id = d.event_id
    WHERE e.approval_id = ${approvalId} ORDER BY d.created_at`;
}

describe('webhook delivery', () => {
  it('retries a 5xx with the same webhook-id, signing each attempt afresh, until it is delivered', async () => {
    recv.setResponder(({ path, count }) => (path === '/flaky' && count <= 2 ? 503 : 200));
    const id = await park('/flaky');
    const [d] = await waitFor(async () => {
      const rows = await deliveries(id);
      return rows[0]?.status === 'delivered' ? rows : undefined;
    });
    expect(d!.attempts).toBe(3);
    expect(recv.attempts('/flaky')).toBe(3);
    const got = recv.received.filter((r) => r.path === '/flaky');
    expect(got).toHaveLength(1);
    expect(got[0]!.headers['webhook-id']).toBe(d!.event_id);
    new Webhook(t.webhook_secret).verify(got[0]!.body, got[0]!.headers);
  });

  it('a 4xx other than 410 fails at once, without retries', async () => {
    recv.setResponder(({ path }) => (path === '/bad' ? 400 : 200));
    const id = await park('/bad');
    const [d] = await waitFor(async () => {
      const rows = await deliveries(id);
      return rows[0]?.status === 'failed' ? rows : undefined;
    });
    expect(d).toMatchObject({ attempts: 1, last_status_code: 400 });
    await new Promise((r) => setTimeout(r, 300));
    expect(recv.attempts('/bad')).toBe(1);
  });

  it('a delivery that never succeeds is dead after the last attempt, and a replay sends it again', async () => {
    let healthy = false;
    recv.setResponder(({ path }) => (path === '/down' && !healthy ? 500 : 200));
    const id = await park('/down');
    const [d] = await waitFor(async () => {
      const rows = await deliveries(id);
      return rows[0]?.status === 'dead' ? rows : undefined;
    });
    expect(d!.attempts).toBe(3);
    const listed = await h.call('GET', '/v1/webhook-deliveries?status=dead', t.admin);
    expect(listed.body.data.map((x: { id: string }) => x.id)).toContain(d!.id);

    healthy = true;
    const replay = await h.call('POST', `/v1/webhook-deliveries/${d!.id}/replay`, t.admin);
    expect(replay.status).toBe(202);
    await waitFor(async () => (await deliveries(id))[0]?.status === 'delivered');
    const again = await h.call('POST', `/v1/webhook-deliveries/${d!.id}/replay`, t.admin);
    expect(again.status).toBe(409);
  });

  it('a 410 from a tenant endpoint disables it; later events are not sent there', async () => {
    recv.setResponder(({ path }) => (path === '/gone' ? 410 : 200));
    const ep = await h.call('POST', '/v1/webhook-endpoints', t.admin, { url: recv.url('/gone'), event_types: ['approval.requested', 'approval.rejected'] });
    expect(ep.status).toBe(201);
    expect(ep.body.secret).toBe(t.webhook_secret);
    await park('/cb');
    const disabled = await waitFor(async () => {
      const e = await h.call('GET', `/v1/webhook-endpoints/${ep.body.id}`, t.admin);
      return e.body.disabled_at ? e.body : undefined;
    });
    expect(disabled.disabled_reason).toMatch(/410/);
    const before = recv.attempts('/gone');
    await park('/cb');
    await new Promise((r) => setTimeout(r, 300));
    expect(recv.attempts('/gone')).toBe(before);
  });

  it('a tenant endpoint gets only the event types it subscribed to', async () => {
    recv.setResponder(() => 200);
    const ep = await h.call('POST', '/v1/webhook-endpoints', t.admin, { url: recv.url('/only-rejected'), event_types: ['approval.rejected'] });
    const id = await park('/cb2');
    await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'bob'), { decision: 'reject' });
    await waitFor(() => recv.received.some((r) => r.path === '/only-rejected'));
    const got = recv.received.filter((r) => r.path === '/only-rejected' && r.json.data.id === id);
    expect(got.map((r) => r.json.type)).toEqual(['approval.rejected']);
    await h.call('DELETE', `/v1/webhook-endpoints/${ep.body.id}`, t.admin);
    expect((await h.call('GET', `/v1/webhook-endpoints/${ep.body.id}`, t.admin)).status).toBe(404);
  });
});

describe('private targets', () => {
  let strict: Harness;
  let st: TenantKeys;
  beforeAll(async () => {
    strict = await createHarness({ workers: true, env: { HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: 'false' } });
    st = await strict.tenant();
  });
  afterAll(() => strict.close());

  it('refuses a loopback callback_url or endpoint at registration', async () => {
    const g = await strict.call('POST', '/v1/guard', st.agent, { action: 'x', idempotency_key: 'p1', callback_url: 'http://127.0.0.1:9/hook' });
    expect(g.status).toBe(400);
    expect(g.body.error.code).toBe('validation_failed');
    const e = await strict.call('POST', '/v1/webhook-endpoints', st.admin, { url: 'http://localhost:9/hook' });
    expect(e.status).toBe(400);
  });

  it('refuses at delivery time a hostname that resolves to loopback', async () => {
    // The connect-time check, on its own: the resolver's answer for the name is what is checked.
    const { postWebhook } = await import('../../src/webhooks/deliver.ts');
    const out = await postWebhook({ url: `http://localhost:${recv.port}/x`, body: '{}', headers: {}, deadlineMs: 2_000, allowPrivate: false });
    expect(out.kind).toBe('rejected');
    expect(recv.attempts('/x')).toBe(0);
  });
});
