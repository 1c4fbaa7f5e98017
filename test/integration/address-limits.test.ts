// Sign-ins and requests with bad keys are limited per client address, so one
// client guessing keys (or flooding the sign-in) gets 429s, not everyone.
// app.request() takes the node-server env as its third argument: that is how
// these tests give a request a socket address.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.ts';
import { createProducerConnection } from '../../src/queue/connection.ts';
import { silentLogger } from '../../src/log.ts';
import { createAddressLimiter } from '../../src/services/address-limits.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

let h: Harness;
let t: TenantKeys;
let next = 1;
/** A fresh client address per test, so tests do not share a window. */
const fresh = () => `198.51.100.${next++}`;
const from = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress } } });

beforeAll(async () => {
  h = await createHarness({ env: { HOLDPOINT_SIGNIN_RATE_LIMIT: '3', HOLDPOINT_BAD_KEY_RATE_LIMIT: '3' } });
  t = await h.tenant('acme');
});

afterAll(async () => {
  await h.close();
});

type App = { request: (path: string, init?: RequestInit, env?: unknown) => Response | Promise<Response> };

/** One key sign-in from `address`: fetch the form (and its cookie), post the key. */
async function signIn(app: App, address: string, key: string) {
  const form = await app.request('/ui/login', {}, from(address));
  const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  return app.request(
    '/ui/login',
    { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ key, _csrf: csrf }).toString() },
    from(address),
  );
}

const badKey = 'hp_approver_' + 'x'.repeat(32);
const apiCall = (app: App, key: string, address: string, headers: Record<string, string> = {}) =>
  app.request('/v1/approvals', { headers: { authorization: `Bearer ${key}`, ...headers } }, from(address));

describe('sign-in', () => {
  it('key sign-ins from one address past the limit get 429 with Retry-After; another address still signs in', async () => {
    const guesser = fresh();
    for (let i = 0; i < 3; i++) expect((await signIn(h.app, guesser, badKey)).status).toBe(401);
    const limited = await signIn(h.app, guesser, badKey);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.text()).toMatch(/Too many sign-in attempts/);
    // Every attempt counts, so a right key from that address waits too.
    expect((await signIn(h.app, guesser, t.approver)).status).toBe(429);
    const someoneElse = await signIn(h.app, fresh(), t.approver);
    expect(someoneElse.status).toBe(303);
  });

  it('single sign-on starts share the sign-in limit of the address', async () => {
    const a = fresh();
    for (let i = 0; i < 3; i++) expect((await h.app.request(`/ui/oidc/start?tenant=${t.tenant_id}`, {}, from(a))).status).not.toBe(429);
    const limited = await h.app.request(`/ui/oidc/start?tenant=${t.tenant_id}`, {}, from(a));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await signIn(h.app, a, t.approver)).status).toBe(429);
  });
});

describe('bad API keys', () => {
  it('requests with unknown or revoked keys from one address past the limit get 429 rate_limited with Retry-After', async () => {
    const a = fresh();
    const revoked = await h.call('POST', '/v1/api-keys', t.admin, { role: 'approver' });
    await h.call('DELETE', `/v1/api-keys/${revoked.body.id}`, t.admin);
    expect((await apiCall(h.app, badKey, a)).status).toBe(401);
    expect((await apiCall(h.app, revoked.body.key, a)).status).toBe(401);
    expect((await apiCall(h.app, badKey, a)).status).toBe(401);
    const limited = await apiCall(h.app, badKey, a);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await limited.json()).error.code).toBe('rate_limited');
    // A valid key from the same address is never refused by this limit; another address still gets 401.
    expect((await apiCall(h.app, t.approver, a)).status).toBe(200);
    expect((await apiCall(h.app, badKey, fresh())).status).toBe(401);
  });

  it('ignores X-Forwarded-For unless told the server is behind trusted proxies', async () => {
    const proxy = fresh();
    // Not trusted (the default): a client cannot get a new window by sending a new header.
    for (let i = 0; i < 3; i++) expect((await apiCall(h.app, badKey, proxy, { 'x-forwarded-for': `203.0.113.${i}` })).status).toBe(401);
    expect((await apiCall(h.app, badKey, proxy, { 'x-forwarded-for': '203.0.113.99' })).status).toBe(429);

    // Behind one trusted proxy: the client is the entry the proxy appended (the last); what the client wrote before it does not matter.
    const behind = createApp({ ...h.rt, config: { ...h.rt.config, HOLDPOINT_TRUSTED_PROXY_HOPS: 1 } });
    const lb = fresh();
    for (let i = 0; i < 3; i++) expect((await apiCall(behind, badKey, lb, { 'x-forwarded-for': `10.9.9.${i}, 192.0.2.10` })).status).toBe(401);
    expect((await apiCall(behind, badKey, lb, { 'x-forwarded-for': '10.9.9.77, 192.0.2.10' })).status).toBe(429);
    expect((await apiCall(behind, badKey, lb, { 'x-forwarded-for': '192.0.2.11' })).status).toBe(401);
  });

  it('fails open when Redis does not answer: the request is still authenticated, not refused', async () => {
    const dead = createProducerConnection('redis://127.0.0.1:1', { retryStrategy: () => null });
    dead.on('error', () => {});
    try {
      const limiter = createAddressLimiter({ redis: dead, prefix: h.prefix, limits: { signin: 1, bad_key: 1 }, windowMs: 60_000, log: silentLogger });
      for (let i = 0; i < 3; i++) expect(await limiter.hit('bad_key', '192.0.2.1')).toEqual({ ok: true });
    } finally {
      dead.disconnect();
    }
  });
});
