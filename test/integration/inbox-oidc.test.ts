// Signing in to the web inbox at the tenant's OpenID Connect provider: a real
// `oidc-provider` on 127.0.0.1, driven over HTTP; the inbox through
// app.request(). Who gets in (subject, else verified e-mail), who does not, and
// every check the sign-in makes (PKCE, state, nonce, binding cookie, issuer).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteApprover, insertApprover } from '../../src/db/approvers.ts';
import { removeProvider, setProvider } from '../../src/identities/oidc.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { startOidcProvider, type TestPerson, type TestProvider } from '../helpers/oidc-provider.ts';

const PUBLIC_URL = 'http://holdpoint.test';
const CALLBACK = `${PUBLIC_URL}/ui/oidc/callback`;

let h: Harness;
let t: TenantKeys;
let idp: TestProvider;
let n = 0;

// Listed by subject, which is also what they type as their login at the provider.
const PEOPLE: Record<string, TestPerson> = {
  'alice-0001': { email: 'Alice@Acme.test', email_verified: true, name: 'Alice' },
  'bob-0002': {},
  // Claims carol's address, but the provider never verified it.
  'mallory-0003': { email: 'carol@acme.test', email_verified: false },
  'eve-0004': { email: 'eve@elsewhere.test', email_verified: true },
};

beforeAll(async () => {
  h = await createHarness({ env: { HOLDPOINT_PUBLIC_URL: PUBLIC_URL } });
  t = await h.tenant('acme');
  await h.setPolicy(t, { defaults: { decision: 'require_approval', reason: 'a person decides' }, rules: [{ name: 'bob only', match: { action: 'db.drop' }, decision: 'require_approval', approval: { approvers: { identities: ['bob'] } } }] });
  idp = await startOidcProvider({ people: PEOPLE, redirectUris: [CALLBACK] });
  await setProvider(h.rt.sql, t.tenant_id, { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, display_name: 'Acme SSO' }, 'test', h.rt.secrets);
  await insertApprover(h.rt.sql, { tenant_id: t.tenant_id, name: 'alice', email: 'alice@acme.test' });
  await insertApprover(h.rt.sql, { tenant_id: t.tenant_id, name: 'bob', oidc_subject: 'bob-0002' });
  await insertApprover(h.rt.sql, { tenant_id: t.tenant_id, name: 'carol', email: 'carol@acme.test' });
});

afterAll(async () => {
  await idp?.close();
  await h?.close();
});

type Jar = Map<string, string>;
const cookieHeader = (jar: Jar) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
function keep(jar: Jar, res: Response) {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair!.indexOf('=');
    const k = pair!.slice(0, i);
    const v = pair!.slice(i + 1);
    if (/max-age=0|expires=Thu, 01 Jan 1970/i.test(c) || v === '') jar.delete(k);
    else jar.set(k, v);
  }
}

/** A browser: one cookie jar for the inbox (app.request), one for the provider (real HTTP). */
function browser() {
  const app: Jar = new Map();
  const idpJar: Jar = new Map();
  async function inbox(path: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const res = await h.app.request(path, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: { ...(app.size ? { cookie: cookieHeader(app) } : {}), ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    });
    keep(app, res);
    return { status: res.status, location: res.headers.get('location'), html: await res.text(), headers: res.headers };
  }
  async function provider(url: string, form?: Record<string, string>) {
    const res = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { ...(idpJar.size ? { cookie: cookieHeader(idpJar) } : {}), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    keep(idpJar, res);
    return { status: res.status, location: res.headers.get('location') ? new URL(res.headers.get('location')!, url).href : null, html: await res.text() };
  }
  /** Signs in at the provider as `login` and answers the URL it sends the browser back to. */
  async function atProvider(authUrl: string, login: string): Promise<string> {
    let r = await provider(authUrl);
    for (let i = 0; i < 10 && r.location && !r.location.startsWith(PUBLIC_URL); i++) {
      const page = await provider(r.location);
      const action = /<form[^>]*action="([^"]+)"/.exec(page.html)?.[1];
      if (page.status === 200 && action) r = await provider(new URL(action.replace(/&amp;/g, '&'), r.location).href, { prompt: 'login', login, password: 'any' });
      else r = page;
    }
    if (!r.location?.startsWith(PUBLIC_URL)) throw new Error(`the provider did not send the browser back: ${r.status} ${r.html.slice(0, 300)}`);
    return r.location;
  }
  /** From the inbox's sign-in link to the provider's answer, not yet delivered. */
  async function startAndSignIn(login: string, next?: string) {
    const start = await inbox(`/ui/oidc/start?tenant=${t.tenant_id}${next ? `&next=${encodeURIComponent(next)}` : ''}`);
    expect(start.status).toBe(303);
    const authUrl = start.location!;
    return { authUrl, callback: await atProvider(authUrl, login) };
  }
  async function signIn(login: string, next?: string) {
    const { authUrl, callback } = await startAndSignIn(login, next);
    const back = await inbox(callback.slice(PUBLIC_URL.length));
    return { authUrl, callback, back };
  }
  return { app, inbox, signIn, startAndSignIn };
}

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

async function park(action = 'payment.send') {
  const r = await h.call('POST', '/v1/guard', t.agent, { action, agent_id: 'billing-bot', idempotency_key: `oidc-${++n}`, params: { amount: 120 } });
  expect(r.status).toBe(202);
  return r.body.approval as { id: string };
}

async function sessions(): Promise<number> {
  const [row] = await h.rt.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM ui_sessions WHERE tenant_id = ${t.tenant_id} AND approver IS NOT NULL`;
  return row!.n;
}

describe('the sign-in page', () => {
  it("offers the tenant's provider by name when asked for the tenant, beside the key form", async () => {
    const b = browser();
    const r = await b.inbox(`/ui/login?tenant=${t.tenant_id}`);
    expect(r.status).toBe(200);
    expect(r.html).toContain('Sign in with Acme SSO');
    expect(r.html).toContain(`href="/ui/oidc/start?tenant=${t.tenant_id}"`);
    expect(r.html).toContain('<label for="key">');
    const plain = await browser().inbox('/ui/login');
    expect(plain.html).not.toContain('Sign in with');
  });

  it('says so when the tenant has no provider, and the start link answers 404', async () => {
    const other = await h.tenant('globex');
    const r = await browser().inbox(`/ui/login?tenant=${other.tenant_id}`);
    expect(r.html).toContain('Single sign-on is not set up for this tenant');
    expect(r.html).not.toContain('id="sso"');
    const start = await browser().inbox(`/ui/oidc/start?tenant=${other.tenant_id}`);
    expect(start.status).toBe(404);
    expect((await browser().inbox('/ui/oidc/start?tenant=nope')).status).toBe(400);
  });
});

describe('a provider that cannot be reached', () => {
  it('answers 503 with a page that says so, and starts nothing', async () => {
    const other = await h.tenant('initech');
    await setProvider(h.rt.sql, other.tenant_id, { issuer: 'http://127.0.0.1:9', client_id: 'c', client_secret: 's', display_name: 'Initech SSO' }, 'test', h.rt.secrets);
    const [before] = await h.rt.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM oidc_logins`;
    const b = browser();
    const r = await b.inbox(`/ui/oidc/start?tenant=${other.tenant_id}`);
    expect(r.status).toBe(503);
    expect(r.html).toContain('Initech SSO could not be reached');
    expect(b.app.has('hp_oidc')).toBe(false);
    const [after] = await h.rt.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM oidc_logins`;
    expect(after!.n).toBe(before!.n);
  });
});

describe('signing in at the provider', () => {
  it('sends the browser to the issuer with code flow, PKCE S256, state, nonce and our redirect URI; the verifier stays on the server', async () => {
    const b = browser();
    const start = await b.inbox(`/ui/oidc/start?tenant=${t.tenant_id}`);
    const url = new URL(start.location!);
    expect(url.origin).toBe(idp.issuer);
    const q = url.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe(idp.clientId);
    expect(q.get('redirect_uri')).toBe(CALLBACK);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(q.get('nonce')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(q.get('scope')).toBe('openid email profile');
    const [row] = await h.rt.sql<{ code_verifier: string }[]>`SELECT code_verifier FROM oidc_logins ORDER BY created_at DESC LIMIT 1`;
    expect(start.location).not.toContain(row!.code_verifier);
    const binding = start.headers.getSetCookie().find((c) => c.startsWith('hp_oidc='))!;
    expect(binding).toMatch(/HttpOnly/);
    expect(binding).toMatch(/SameSite=Lax/);
    expect(binding).toMatch(/Path=\/ui\/oidc/);
    expect(binding).not.toContain(row!.code_verifier);
  });

  it('a verified e-mail maps to its approver (case-insensitively): the session is alice, shown in the header', async () => {
    const b = browser();
    const { back } = await b.signIn('alice-0001');
    expect(back.status).toBe(200);
    expect(back.html).toContain('http-equiv="refresh" content="0;url=/ui/inbox"');
    const cookie = back.headers.getSetCookie().find((c) => c.startsWith('hp_session='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(b.app.has('hp_oidc')).toBe(false);
    const inbox = await b.inbox('/ui/inbox');
    expect(inbox.status).toBe(200);
    expect(inbox.html).toContain('signed in as <strong>alice</strong> (approver, single sign-on)');
  });

  it("a subject maps to its approver even without an e-mail: bob's vote is bob's, through channel web", async () => {
    const a = await park('db.drop');
    const b = browser();
    expect((await b.signIn('bob-0002')).back.status).toBe(200);
    const page = await b.inbox(`/ui/approvals/${a.id}`);
    expect(page.html).toContain('signed in as <strong>bob</strong>');
    const r = await b.inbox(`/ui/approvals/${a.id}/decision`, { method: 'POST', form: { _csrf: csrfOf(page.html), decision: 'approve', reason: 'ok by me' } });
    expect(r.status).toBe(303);
    const got = await h.call('GET', `/v1/approvals/${a.id}`, t.agent);
    expect(got.body).toMatchObject({ status: 'approved', decided_by: 'bob', decision_channel: 'web', decision_reason: 'ok by me' });
    expect(got.body.votes).toMatchObject([{ approver: 'bob', vote: 'approve', channel: 'web' }]);
    const events = await h.call('GET', `/v1/approvals/${a.id}/events`, t.approver);
    expect(events.body.data ?? events.body.events).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'approved', actor: 'bob', channel: 'web' })]));
  });

  it('the approver is who the provider vouched for: a rule naming only bob refuses alice', async () => {
    const a = await park('db.drop');
    const b = browser();
    await b.signIn('alice-0001');
    const page = await b.inbox(`/ui/approvals/${a.id}`);
    const r = await b.inbox(`/ui/approvals/${a.id}/decision`, { method: 'POST', form: { _csrf: csrfOf(page.html), decision: 'approve' } });
    expect(r.status).toBe(403);
    expect((await h.call('GET', `/v1/approvals/${a.id}`, t.agent)).body).toMatchObject({ status: 'pending', votes: [] });
  });

  it("an unverified e-mail never matches, even one an approver has: 403, says why, no session", async () => {
    const before = await sessions();
    const b = browser();
    const { back } = await b.signIn('mallory-0003');
    expect(back.status).toBe(403);
    expect(back.html).toContain('Not an approver here');
    expect(back.html).toContain('carol@acme.test');
    expect(back.html).toContain('has not verified that e-mail address');
    expect(b.app.has('hp_session')).toBe(false);
    expect(await sessions()).toBe(before);
    expect((await b.inbox('/ui/inbox')).status).toBe(303);
  });

  it('a person the tenant does not know is refused with a clear page and no session', async () => {
    const before = await sessions();
    const b = browser();
    const { back } = await b.signIn('eve-0004');
    expect(back.status).toBe(403);
    expect(back.html).toContain('You signed in at Acme SSO as eve@elsewhere.test, but no approver of this tenant has that identity');
    expect(back.html).toContain('Nobody was signed in.');
    expect(b.app.has('hp_session')).toBe(false);
    expect(await sessions()).toBe(before);
  });

  it("signing in again ends the session the browser sent along (a key session here) instead of leaving it behind", async () => {
    const b = browser();
    const login = await b.inbox('/ui/login');
    expect((await b.inbox('/ui/login', { method: 'POST', form: { key: t.approver, _csrf: csrfOf(login.html) } })).status).toBe(303);
    const keyed = b.app.get('hp_session')!;
    await b.signIn('alice-0001');
    expect(b.app.get('hp_session')).not.toBe(keyed);
    const stale = browser();
    stale.app.set('hp_session', keyed);
    expect((await stale.inbox('/ui/inbox')).status).toBe(303);
    expect((await b.inbox('/ui/inbox')).html).toContain('signed in as <strong>alice</strong>');
  });

  it('goes back where the person was going, but never outside /ui', async () => {
    const inside = await browser().signIn('alice-0001', '/ui/history?status=approved');
    expect(inside.back.html).toContain('content="0;url=/ui/history?status=approved"');
    const outside = await browser().signIn('alice-0001', '//evil.example/ui');
    expect(outside.back.html).toContain('content="0;url=/ui/inbox"');
  });
});

describe('what the callback refuses', () => {
  it('a state is single-use: replaying the callback URL signs nobody in', async () => {
    const b = browser();
    const { callback } = await b.startAndSignIn('alice-0001');
    const binding = b.app.get('hp_oidc')!;
    expect((await b.inbox(callback.slice(PUBLIC_URL.length))).status).toBe(200);
    const replay = browser();
    replay.app.set('hp_oidc', binding);
    const r = await replay.inbox(callback.slice(PUBLIC_URL.length));
    expect(r.status).toBe(400);
    expect(r.html).toContain('expired or was already used');
    expect(replay.app.has('hp_session')).toBe(false);
  });

  it("login CSRF: the provider's answer carried to another browser is refused, and the state is spent", async () => {
    const attacker = browser();
    const { callback } = await attacker.startAndSignIn('alice-0001');
    const victim = browser();
    const r = await victim.inbox(callback.slice(PUBLIC_URL.length));
    expect(r.status).toBe(403);
    expect(r.html).toContain('started in another browser');
    expect(victim.app.has('hp_session')).toBe(false);
    expect((await attacker.inbox(callback.slice(PUBLIC_URL.length))).status).toBe(400);
  });

  it('a sign-in older than ten minutes has expired', async () => {
    const b = browser();
    const { callback } = await b.startAndSignIn('alice-0001');
    await h.rt.sql`UPDATE oidc_logins SET expires_at = now() - interval '1 second'`;
    const r = await b.inbox(callback.slice(PUBLIC_URL.length));
    expect(r.status).toBe(400);
    expect(r.html).toContain('expired');
    expect(b.app.has('hp_session')).toBe(false);
  });

  it('mix-up: an answer claiming another issuer (RFC 9207 iss) is refused', async () => {
    const b = browser();
    const { callback } = await b.startAndSignIn('alice-0001');
    const u = new URL(callback);
    expect(u.searchParams.get('iss')).toBe(idp.issuer);
    u.searchParams.set('iss', 'https://attacker.example');
    const r = await b.inbox(u.pathname + u.search);
    expect(r.status).toBe(400);
    expect(r.html).toContain('did not check out');
    expect(b.app.has('hp_session')).toBe(false);
  });

  it('a forged code (or one for another verifier) is refused by the token endpoint', async () => {
    const b = browser();
    const { callback } = await b.startAndSignIn('alice-0001');
    const u = new URL(callback);
    u.searchParams.set('code', 'forged-code');
    const r = await b.inbox(u.pathname + u.search);
    expect(r.status).toBe(400);
    expect(b.app.has('hp_session')).toBe(false);
  });

  it('an error from the provider (the person cancelled) is shown, and opens nothing', async () => {
    const b = browser();
    const start = await b.inbox(`/ui/oidc/start?tenant=${t.tenant_id}`);
    const state = new URL(start.location!).searchParams.get('state')!;
    const r = await b.inbox(`/ui/oidc/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(idp.issuer)}`);
    expect(r.status).toBe(403);
    expect(r.html).toContain('cancelled or refused at the provider');
    expect(b.app.has('hp_session')).toBe(false);
  });
});

describe('how a provider session ends', () => {
  it('removing the approver ends their session at the next request', async () => {
    await insertApprover(h.rt.sql, { tenant_id: t.tenant_id, name: 'dave', oidc_subject: 'dave-0005' });
    PEOPLE['dave-0005'] = {};
    const b = browser();
    expect((await b.signIn('dave-0005')).back.status).toBe(200);
    expect((await b.inbox('/ui/inbox')).status).toBe(200);
    await deleteApprover(h.rt.sql, t.tenant_id, 'dave');
    const r = await b.inbox('/ui/inbox');
    expect(r.status).toBe(303);
    expect(r.location).toMatch(/^\/ui\/login/);
    const [row] = await h.rt.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM ui_sessions WHERE approver = 'dave'`;
    expect(row!.n).toBe(0);
  });

  it('signing out works as for a key session, and the sign-in page then offers the same provider', async () => {
    const b = browser();
    await b.signIn('alice-0001');
    const inbox = await b.inbox('/ui/inbox');
    const out = await b.inbox('/ui/logout', { method: 'POST', form: { _csrf: csrfOf(inbox.html) } });
    expect(out.status).toBe(303);
    const login = await b.inbox(out.location!);
    expect(login.html).toContain('You are signed out.');
    expect(login.html).toContain('Sign in with Acme SSO');
  });

  it("removing the tenant's provider ends the sessions it opened; key sessions stay", async () => {
    const sso = browser();
    await sso.signIn('alice-0001');
    const keyed = browser();
    const login = await keyed.inbox('/ui/login');
    expect((await keyed.inbox('/ui/login', { method: 'POST', form: { key: t.approver, _csrf: csrfOf(login.html) } })).status).toBe(303);
    const r = await removeProvider(h.rt.sql, t.tenant_id);
    expect(r!.ended_sessions).toBeGreaterThan(0);
    expect((await sso.inbox('/ui/inbox')).status).toBe(303);
    expect((await keyed.inbox('/ui/inbox')).status).toBe(200);
    expect((await browser().inbox(`/ui/oidc/start?tenant=${t.tenant_id}`)).status).toBe(404);
    await setProvider(h.rt.sql, t.tenant_id, { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, display_name: 'Acme SSO' }, 'test', h.rt.secrets);
  });
});

describe('the admin API: /v1/oidc', () => {
  it('is for admin keys, shows the provider without its secret, and the redirect URI to register', async () => {
    expect((await h.call('GET', '/v1/oidc', t.approver)).status).toBe(403);
    expect((await h.call('PUT', '/v1/oidc', t.approver, { issuer: idp.issuer, client_id: 'x', client_secret: 'y' })).status).toBe(403);
    const r = await h.call('GET', '/v1/oidc', t.admin);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ issuer: idp.issuer, client_id: idp.clientId, client_secret_set: true, display_name: 'Acme SSO', redirect_uri: CALLBACK, login_url: `${PUBLIC_URL}/ui/login?tenant=${t.tenant_id}` });
    expect(JSON.stringify(r.body)).not.toContain(idp.clientSecret);
    const doc = await h.call('GET', '/openapi.json', null);
    expect(Object.keys(doc.body.paths)).toContain('/v1/oidc');
  });

  it.each([
    ['a plain-http issuer off this machine', { issuer: 'http://idp.example.com', client_id: 'c', client_secret: 's' }, 'issuer'],
    ['an issuer with a query', { issuer: 'https://idp.example.com/?x=1', client_id: 'c', client_secret: 's' }, 'issuer'],
    ['no client secret', { issuer: 'https://idp.example.com', client_id: 'c' }, 'client_secret'],
    ['an unknown field', { issuer: 'https://idp.example.com', client_id: 'c', client_secret: 's', scopes: 'all' }, ''],
  ])('refuses %s with 400 and changes nothing', async (_what, body, field) => {
    const r = await h.call('PUT', '/v1/oidc', t.admin, body);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('validation_failed');
    expect(JSON.stringify(r.body)).toContain(field);
    expect((await h.call('GET', '/v1/oidc', t.admin)).body.issuer).toBe(idp.issuer);
  });

  it("PUT with another issuer ends the provider's sessions; the same issuer (a new secret, a new label) keeps them", async () => {
    const b = browser();
    await b.signIn('alice-0001');
    const same = await h.call('PUT', '/v1/oidc', t.admin, { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, display_name: 'Acme Login' });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ ended_sessions: 0, display_name: 'Acme Login', updated_by: expect.stringMatching(/^key:hp_admin/) });
    expect((await b.inbox('/ui/inbox')).status).toBe(200);
    expect((await browser().inbox(`/ui/login?tenant=${t.tenant_id}`)).html).toContain('Sign in with Acme Login');
    const moved = await h.call('PUT', '/v1/oidc', t.admin, { issuer: 'https://login.example.com', client_id: 'c', client_secret: 's' });
    expect(moved.status).toBe(200);
    expect(moved.body.ended_sessions).toBeGreaterThan(0);
    expect(moved.body.display_name).toBe('login.example.com');
    expect((await b.inbox('/ui/inbox')).status).toBe(303);
    expect((await h.call('DELETE', '/v1/oidc', t.admin)).body).toMatchObject({ removed: true });
    expect((await h.call('DELETE', '/v1/oidc', t.admin)).status).toBe(404);
    expect((await h.call('GET', '/v1/oidc', t.admin)).status).toBe(404);
    const back = await h.call('PUT', '/v1/oidc', t.admin, { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, display_name: 'Acme SSO' });
    expect(back.status).toBe(201);
  });

  it('a sign-in started before the provider changed is refused at the callback', async () => {
    const b = browser();
    const { callback } = await b.startAndSignIn('alice-0001');
    await h.call('PUT', '/v1/oidc', t.admin, { issuer: `${idp.issuer}/elsewhere`, client_id: idp.clientId, client_secret: idp.clientSecret, display_name: 'Acme SSO' });
    const r = await b.inbox(callback.slice(PUBLIC_URL.length));
    expect(r.status).toBe(400);
    expect(r.html).toContain('identity provider changed while you were signing in');
    expect(b.app.has('hp_session')).toBe(false);
    await h.call('PUT', '/v1/oidc', t.admin, { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, display_name: 'Acme SSO' });
  });
});
