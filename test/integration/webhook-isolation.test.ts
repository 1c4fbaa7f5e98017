// One tenant's receiver cannot stop everyone's webhooks: each attempt has an
// overall deadline, and attempts are capped per tenant and per receiver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook } from '../../src/webhooks/deliver.ts';
import { createDeliverySlots } from '../../src/webhooks/slots.ts';
import { createProducerConnection } from '../../src/queue/connection.ts';
import { REDIS_URL } from '../helpers/env.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { startDripReceiver, startReceiver, waitFor } from '../helpers/receiver.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let n = 0;

async function park(h: Harness, t: TenantKeys, url: string) {
  const r = await h.call('POST', '/v1/guard', t.agent, { action: 'email.send', idempotency_key: `iso-${++n}`, callback_url: url });
  expect(r.status).toBe(202);
  return r.body.approval.id as string;
}

async function deliveryOf(h: Harness, approvalId: string) {
  const [row] = await h.rt.sql<{ status: string; attempts: number; last_error: string | null; last_status_code: number | null }[]>`
    SELECT d.status, d.attempts, d.last_error, d.last_status_code
    FROM webhook_deliveries d JOIN approval_events e ON e.id = d.event_id
    WHERE e.approval_id = ${approvalId} ORDER BY d.created_at LIMIT 1`;
  return row;
}

describe('a slow-drip receiver', () => {
  let h: Harness;
  let slow: TenantKeys;
  let good: TenantKeys;
  let drip: Awaited<ReturnType<typeof startDripReceiver>>;
  let recv: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    // The default 10 s deadline: longer than the drip interval, so only an overall deadline could end an attempt.
    h = await createHarness({ workers: true });
    slow = await h.tenant('slowpoke');
    good = await h.tenant('goodco');
    await h.setPolicy(slow, { defaults: { decision: 'require_approval' } });
    await h.setPolicy(good, { defaults: { decision: 'require_approval' } });
    drip = await startDripReceiver(3_000);
    recv = await startReceiver();
  });

  afterAll(async () => {
    await drip.close();
    await recv.close();
    await h.close();
  });

  it("with 40 deliveries holds only its receiver's share of slots, and another tenant's webhook still arrives within 2 s", async () => {
    for (let i = 0; i < 40; i++) await park(h, slow, drip.url(`/drip/${i}`));
    // Its attempts are under way (on the code as found, all 32 worker slots end up here).
    await waitFor(() => drip.stats.open >= 4, { timeout: 15_000, what: 'the drip receiver to hold attempts' });
    await sleep(1_000);
    expect(drip.stats.maxOpen).toBeLessThanOrEqual(4);

    const id = await park(h, good, recv.url('/fair'));
    const started = Date.now();
    await waitFor(() => recv.received.some((r) => r.path === '/fair' && r.json.data.id === id), { timeout: 2_000, what: "the other tenant's webhook" });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(drip.stats.maxOpen).toBeLessThanOrEqual(4);
  });
});

describe('the attempt deadline', () => {
  let h: Harness;
  let t: TenantKeys;
  let drip: Awaited<ReturnType<typeof startDripReceiver>>;

  beforeAll(async () => {
    h = await createHarness({ workers: true, env: { HOLDPOINT_WEBHOOK_TIMEOUT_MS: '1000', HOLDPOINT_WEBHOOK_MAX_ATTEMPTS: '2', HOLDPOINT_WEBHOOK_RETRY_BASE_MS: '50' } });
    t = await h.tenant();
    await h.setPolicy(t, { defaults: { decision: 'require_approval' } });
    // A byte every 200 ms: a 1 s idle timeout would never fire.
    drip = await startDripReceiver(200);
  });

  afterAll(async () => {
    await drip.close();
    await h.close();
  });

  it('cuts a single attempt whose headers never finish at its deadline', async () => {
    const started = Date.now();
    const out = await Promise.race([
      postWebhook({ url: drip.url('/one'), body: '{}', headers: {}, deadlineMs: 1_000, allowPrivate: true }),
      sleep(10_000).then(() => ({ kind: 'still running after 10 s' }) as const),
    ]);
    expect(out).toMatchObject({ kind: 'retry', status: null, error: expect.stringMatching(/deadline/) });
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('records an attempt cut at its deadline as a retryable failure, then retries it', async () => {
    const id = await park(h, t, drip.url('/cut'));
    const first = await waitFor(async () => {
      const d = await deliveryOf(h, id);
      return d && d.attempts >= 1 ? d : undefined;
    }, { timeout: 15_000, what: 'the first attempt to be recorded' });
    expect(first.last_error).toMatch(/deadline/);
    expect(first.last_status_code).toBeNull();
    // Retryable: a second attempt is made, and the last one makes it dead (replayable), not failed.
    const last = await waitFor(async () => {
      const d = await deliveryOf(h, id);
      return d?.status === 'dead' ? d : undefined;
    }, { timeout: 15_000, what: 'the delivery to be dead after its last attempt' });
    expect(last.attempts).toBe(2);
  });
});

describe('delivery slots', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(() => h.close());

  it("a tenant's slots are capped across its receivers, a held slot is renewed, and a killed holder's slot lapses on its own", async () => {
    const slots = createDeliverySlots(h.rt.redis, h.prefix, { perTenant: 3, perTarget: 2, ttlMs: 400 });
    const tenant = crypto.randomUUID();
    const a1 = await slots.take(tenant, 'http://a.example/x');
    const a2 = await slots.take(tenant, 'http://a.example/y');
    expect([a1.ok, a2.ok]).toEqual([true, true]);
    expect(await slots.take(tenant, 'http://a.example/z')).toEqual({ ok: false, full: 'target' });
    const b1 = await slots.take(tenant, 'http://b.example/');
    expect(b1.ok).toBe(true);
    expect(await slots.take(tenant, 'http://c.example/')).toEqual({ ok: false, full: 'tenant' });
    // Another tenant is not affected.
    expect((await slots.take(crypto.randomUUID(), 'http://a.example/')).ok).toBe(true);
    if (b1.ok) await b1.release();
    const c1 = await slots.take(tenant, 'http://c.example/');
    expect(c1.ok).toBe(true);
    // Held by live holders: renewed, so still taken well past the TTL.
    await sleep(1_000);
    expect((await slots.take(tenant, 'http://a.example/z')).ok).toBe(false);
    for (const s of [a1, a2, c1]) if (s.ok) await s.release();
    expect((await slots.take(tenant, 'http://a.example/z')).ok).toBe(true);

    // A holder that dies (its connection gone, so it renews nothing) loses its slot after the TTL.
    const doomed = createProducerConnection(REDIS_URL);
    doomed.on('error', () => {});
    if (doomed.status !== 'ready') await new Promise((r) => doomed.once('ready', r));
    const other = crypto.randomUUID();
    const dying = createDeliverySlots(doomed, h.prefix, { perTenant: 1, perTarget: 1, ttlMs: 400 });
    expect((await dying.take(other, 'http://d.example/')).ok).toBe(true);
    doomed.disconnect();
    const alive = createDeliverySlots(h.rt.redis, h.prefix, { perTenant: 1, perTarget: 1, ttlMs: 400 });
    expect(await alive.take(other, 'http://e.example/')).toEqual({ ok: false, full: 'tenant' });
    await sleep(800);
    const after = await alive.take(other, 'http://e.example/');
    expect(after.ok).toBe(true);
    if (after.ok) await after.release();
  });
});
