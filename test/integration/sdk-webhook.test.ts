// verifyWebhook against a real delivery from the server, the Standard Webhooks
// spec vector, and the ways a delivery can be forged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HoldpointError, verifyWebhook, type WebhookEvent } from '../../src/sdk/index.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { startReceiver, waitFor, type Received } from '../helpers/receiver.ts';

let h: Harness;
let t: TenantKeys;
let recv: Awaited<ReturnType<typeof startReceiver>>;
let delivery: Received;

beforeAll(async () => {
  h = await createHarness({ workers: true });
  t = await h.tenant();
  recv = await startReceiver();
  await h.setPolicy(t, { defaults: { decision: 'require_approval' } });
  const r = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: { amount: 5000 }, idempotency_key: 'sdk-wh-1', callback_url: recv.url('/sdk') });
  expect(r.status).toBe(202);
  delivery = await waitFor(() => recv.received.find((x) => x.path === '/sdk' && x.json.type === 'approval.requested'), { what: 'approval.requested webhook' });
});

afterAll(async () => {
  await recv.close();
  await h.close();
});

// The Standard Webhooks reference test vector.
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  headers: { 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' },
  body: '{"test": 2432232314}',
  at: 1614265330 * 1000,
};

async function refusal(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HoldpointError);
  expect(err).toMatchObject({ code: 'invalid_signature' });
  return err as HoldpointError;
}

describe('verifyWebhook', () => {
  it('accepts a real delivery from Holdpoint and returns the event', async () => {
    const event: WebhookEvent = await verifyWebhook(t.webhook_secret, delivery.headers, delivery.body);
    expect(event).toMatchObject({ type: 'approval.requested', id: delivery.headers['webhook-id'], data: { idempotency_key: 'sdk-wh-1', status: 'pending' } });
  });

  it('accepts the same delivery as a Fetch Request, and as bytes', async () => {
    const req = new Request('http://127.0.0.1/sdk', { method: 'POST', headers: delivery.headers, body: delivery.body });
    expect((await verifyWebhook(t.webhook_secret, req)).id).toBe(delivery.json.id);
    expect((await verifyWebhook(t.webhook_secret, new Headers(delivery.headers), Buffer.from(delivery.body))).id).toBe(delivery.json.id);
  });

  it('accepts the Standard Webhooks spec vector, also among several signatures', async () => {
    expect(await verifyWebhook(SPEC.secret, SPEC.headers, SPEC.body, { now: SPEC.at })).toEqual({ test: 2432232314 });
    const several = { ...SPEC.headers, 'webhook-signature': `v1,Zm9v v2,abc ${SPEC.headers['webhook-signature']}` };
    expect(await verifyWebhook(SPEC.secret, several, SPEC.body, { now: SPEC.at + 299_000 })).toEqual({ test: 2432232314 });
  });

  it('rejects a tampered body, another secret, a replayed id and a missing header', async () => {
    await refusal(verifyWebhook(t.webhook_secret, delivery.headers, delivery.body.replace('5000', '5001')));
    await refusal(verifyWebhook(SPEC.secret, delivery.headers, delivery.body));
    await refusal(verifyWebhook(t.webhook_secret, { ...delivery.headers, 'webhook-id': 'evt_other' }, delivery.body));
    const { 'webhook-signature': _sig, ...unsigned } = delivery.headers;
    await refusal(verifyWebhook(t.webhook_secret, unsigned, delivery.body));
    await refusal(verifyWebhook(SPEC.secret, { ...SPEC.headers, 'webhook-signature': 'v1,not base64!' }, SPEC.body, { now: SPEC.at }));
  });

  it('rejects a timestamp more than five minutes off, either way', async () => {
    const e = await refusal(verifyWebhook(SPEC.secret, SPEC.headers, SPEC.body));
    expect(e.message).toMatch(/timestamp/);
    await refusal(verifyWebhook(SPEC.secret, SPEC.headers, SPEC.body, { now: SPEC.at + 301_000 }));
    await refusal(verifyWebhook(SPEC.secret, SPEC.headers, SPEC.body, { now: SPEC.at - 301_000 }));
  });
});
