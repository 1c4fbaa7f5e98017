// Rotating a tenant's webhook secret: during the overlap every delivery is
// signed with both secrets, so a receiver holding either verifies it (checked
// with the npm `standardwebhooks` library, as receivers do); afterwards only
// the new secret verifies.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { runCli } from '../helpers/processes.ts';
import { startReceiver, waitFor } from '../helpers/receiver.ts';

let h: Harness;
let t: TenantKeys;
let recv: Awaited<ReturnType<typeof startReceiver>>;
let n = 0;

beforeAll(async () => {
  h = await createHarness({ workers: true });
  t = await h.tenant();
  recv = await startReceiver();
  await h.setPolicy(t, { defaults: { decision: 'require_approval' } });
});

afterAll(async () => {
  await recv.close();
  await h.close();
});

/** Parks an approval whose webhook goes to a fresh path; answers the delivery as received. */
async function delivery() {
  const path = `/rot-${++n}`;
  const r = await h.call('POST', '/v1/guard', t.agent, { action: 'email.send', idempotency_key: `rot-${n}`, callback_url: recv.url(path) });
  expect(r.status).toBe(202);
  return waitFor(() => recv.received.find((x) => x.path === path), { what: `a delivery to ${path}` });
}

const verifies = (secret: string, d: { body: string; headers: Record<string, string> }) => {
  try {
    new Webhook(secret).verify(d.body, d.headers);
    return true;
  } catch {
    return false;
  }
};

describe('webhook secret rotation', () => {
  it('during the overlap a receiver holding either the old or the new secret verifies a delivery; after it only the new one does', async () => {
    const old = t.webhook_secret;
    expect(verifies(old, await delivery())).toBe(true);

    const before = Date.now();
    const rotated = await h.call('POST', '/v1/webhook-secret/rotate', t.admin, {});
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.secret as string;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(old);
    // Default overlap: 24 hours.
    const until = Date.parse(rotated.body.previous_secret_valid_until);
    expect(until - before).toBeGreaterThanOrEqual(24 * 3600_000 - 1000);
    expect(until - before).toBeLessThanOrEqual(24 * 3600_000 + 60_000);

    const during = await delivery();
    expect(during.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verifies(fresh, during)).toBe(true);
    expect(verifies(old, during)).toBe(true);

    // A short overlap, then past it: the secret it replaced signs nothing any more.
    const short = await h.call('POST', '/v1/webhook-secret/rotate', t.admin, { overlap_seconds: 1 });
    expect(short.status).toBe(200);
    const newest = short.body.secret as string;
    expect(verifies(fresh, await delivery())).toBe(true);
    await new Promise((r) => setTimeout(r, 1_200));
    const after = await delivery();
    expect(after.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(verifies(newest, after)).toBe(true);
    expect(verifies(fresh, after)).toBe(false);
    expect(verifies(old, after)).toBe(false);
    t.webhook_secret = newest;
  });

  it('overlap_seconds 0 retires the old secret at once, and only admins may rotate', async () => {
    const old = t.webhook_secret;
    expect((await h.call('POST', '/v1/webhook-secret/rotate', t.approver, {})).status).toBe(403);
    expect((await h.call('POST', '/v1/webhook-secret/rotate', t.admin, { overlap_seconds: -1 })).status).toBe(400);
    const r = await h.call('POST', '/v1/webhook-secret/rotate', t.admin, { overlap_seconds: 0 });
    expect(r.status).toBe(200);
    expect(r.body.previous_secret_valid_until).toBeNull();
    const d = await delivery();
    expect(verifies(r.body.secret, d)).toBe(true);
    expect(verifies(old, d)).toBe(false);
    // No body at all: the default overlap.
    const plain = await h.call('POST', '/v1/webhook-secret/rotate', t.admin);
    expect(plain.status).toBe(200);
    expect(Date.parse(plain.body.previous_secret_valid_until) - Date.now()).toBeGreaterThan(23 * 3600_000);
    const both = await delivery();
    expect(verifies(plain.body.secret, both) && verifies(r.body.secret, both)).toBe(true);
    t.webhook_secret = plain.body.secret;
  });

  it('holdpoint webhook-secret rotate gives a new secret and keeps the old one signing for --overlap-hours', async () => {
    const old = t.webhook_secret;
    const r = await runCli(['webhook-secret', 'rotate', '--tenant', t.tenant_id, '--overlap-hours', '2', '--json'], { DATABASE_URL: h.config.DATABASE_URL, REDIS_URL: h.config.REDIS_URL, LOG_LEVEL: 'silent' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { webhook_secret: string; previous_secret_valid_until: string };
    expect(Date.parse(out.previous_secret_valid_until) - Date.now()).toBeGreaterThan(2 * 3600_000 - 60_000);
    const d = await delivery();
    expect(verifies(out.webhook_secret, d)).toBe(true);
    expect(verifies(old, d)).toBe(true);

    const bad = await runCli(['webhook-secret', 'rotate', '--tenant', t.tenant_id, '--overlap-hours', 'soon'], { DATABASE_URL: h.config.DATABASE_URL, LOG_LEVEL: 'silent' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--overlap-hours');
  });
});
