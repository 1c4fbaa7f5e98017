import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { retryDelayMs, secretBytes, signWebhook, webhookHeaders } from '../../src/webhooks/sign.ts';

// The test vector published with the Standard Webhooks specification.
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  ts: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('signWebhook', () => {
  it('reproduces the Standard Webhooks specification test vector', () => {
    expect(signWebhook(SPEC.secret, SPEC.id, SPEC.ts, SPEC.body)).toBe(SPEC.signature);
  });

  it('accepts the secret with or without the whsec_ prefix', () => {
    expect(signWebhook(SPEC.secret.slice('whsec_'.length), SPEC.id, SPEC.ts, SPEC.body)).toBe(SPEC.signature);
    expect(secretBytes(SPEC.secret)).toEqual(secretBytes(SPEC.secret.slice(6)));
  });

  it('changes when the body, the id or the timestamp changes', () => {
    expect(signWebhook(SPEC.secret, SPEC.id, SPEC.ts, '{"test": 2432232315}')).not.toBe(SPEC.signature);
    expect(signWebhook(SPEC.secret, 'msg_other', SPEC.ts, SPEC.body)).not.toBe(SPEC.signature);
    expect(signWebhook(SPEC.secret, SPEC.id, SPEC.ts + 1, SPEC.body)).not.toBe(SPEC.signature);
  });
});

describe('webhookHeaders', () => {
  it('carries the id, the timestamp and the signature under the Standard Webhooks names', () => {
    const h = webhookHeaders(SPEC.secret, SPEC.id, SPEC.ts, SPEC.body);
    expect(h['webhook-id']).toBe(SPEC.id);
    expect(h['webhook-timestamp']).toBe(String(SPEC.ts));
    expect(h['webhook-signature']).toBe(SPEC.signature);
    expect(h['content-type']).toBe('application/json');
  });

  it('produces headers that the standardwebhooks reference library verifies', () => {
    const secret = 'whsec_' + Buffer.from('a holdpoint test secret, 32 b!!').toString('base64');
    const body = JSON.stringify({ type: 'approval.approved', data: { id: 'appr_1', amount: 5000 } });
    const now = Math.floor(Date.now() / 1000);
    const headers = webhookHeaders(secret, 'msg_holdpoint_1', now, body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('produces headers that the reference library refuses for a tampered body or another secret', () => {
    const secret = 'whsec_' + Buffer.from('a holdpoint test secret, 32 b!!').toString('base64');
    const body = JSON.stringify({ type: 'approval.approved' });
    const headers = webhookHeaders(secret, 'msg_holdpoint_2', Math.floor(Date.now() / 1000), body);
    expect(() => new Webhook(secret).verify(body.replace('approved', 'rejected'), headers)).toThrow();
    const other = 'whsec_' + Buffer.from('another secret entirely, 32 b!!').toString('base64');
    expect(() => new Webhook(other).verify(body, headers)).toThrow();
  });
});

describe('retryDelayMs', () => {
  const CAP = 6 * 3600 * 1000;

  it('is the same for the same seed and attempt', () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      expect(retryDelayMs(attempt, 1000, 'delivery-1')).toBe(retryDelayMs(attempt, 1000, 'delivery-1'));
    }
  });

  it('differs between deliveries, so retries do not arrive in lockstep', () => {
    const delays = new Set(Array.from({ length: 20 }, (_, i) => retryDelayMs(3, 1000, `delivery-${i}`)));
    expect(delays.size).toBeGreaterThan(10);
  });

  it('stays within ±20 % of the doubling schedule', () => {
    for (let i = 0; i < 50; i++) {
      for (let attempt = 1; attempt <= 12; attempt++) {
        const raw = 1000 * 2 ** (attempt - 1);
        const d = retryDelayMs(attempt, 1000, `seed-${i}`);
        expect(d).toBeGreaterThanOrEqual(Math.floor(raw * 0.8));
        expect(d).toBeLessThanOrEqual(Math.ceil(raw * 1.2));
      }
    }
  });

  it('grows with every attempt until it reaches the cap', () => {
    // Doubling outruns ±20 % jitter (0.8 × 2 > 1.2), so growth is strict below the cap.
    for (let i = 0; i < 20; i++) {
      let last = 0;
      for (let attempt = 1; attempt <= 14; attempt++) {
        const d = retryDelayMs(attempt, 1000, `seed-${i}`);
        expect(d).toBeGreaterThan(last);
        last = d;
      }
    }
  });

  it('never exceeds six hours plus 20 % jitter, however many attempts', () => {
    for (const attempt of [16, 20, 50, 100, 2000]) {
      for (let i = 0; i < 20; i++) {
        const d = retryDelayMs(attempt, 1000, `seed-${i}`);
        expect(Number.isFinite(d)).toBe(true);
        expect(d).toBeLessThanOrEqual(CAP * 1.2);
        expect(d).toBeGreaterThanOrEqual(CAP * 0.8);
      }
    }
  });

  it('treats attempt 0 like the first retry and is always at least 1 ms', () => {
    const d0 = retryDelayMs(0, 1000, 's');
    expect(d0).toBeGreaterThanOrEqual(800);
    expect(d0).toBeLessThanOrEqual(1200);
    expect(retryDelayMs(1, 0, 's')).toBe(1);
  });
});
