/// <reference lib="dom" />
// Single sign-on in a real browser: Debian's Chromium (playwright-core) against
// the real `holdpoint start`, and a real OpenID Connect provider (`oidc-provider`)
// on another site (localhost vs 127.0.0.1), set up with `holdpoint oidc set`.
// A person signs in at the provider, lands in the inbox as their approver,
// approves, and the vote and audit trail carry their name through channel web;
// people the tenant does not know, or whose e-mail is unverified, are refused.
// Screenshots go to test/artifacts/ (git-ignored).
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createSql, type Sql } from '../../src/db/client.ts';
import { insertApprover } from '../../src/db/approvers.ts';
import { createProcessFixture, ROOT, runCli, type ProcessFixture, type Proc } from '../helpers/processes.ts';
import { startOidcProvider, type TestProvider } from '../helpers/oidc-provider.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = `${ROOT}test/artifacts`;

let fx: ProcessFixture;
let env: Record<string, string>;
let server: Proc;
let idp: TestProvider;
let sql: Sql;
let browser: Browser;
let tenantId: string;
let keys: { agent: string; approver: string; admin: string };
let n = 0;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  fx = await createProcessFixture({ HOLDPOINT_SHUTDOWN_TIMEOUT_MS: '5000' });
  env = { ...fx.env, HOLDPOINT_PUBLIC_URL: fx.base };
  server = await fx.start(env);
  idp = await startOidcProvider({
    redirectUris: [`${fx.base}/ui/oidc/callback`],
    people: {
      'alice-0001': { email: 'alice@acme.test', email_verified: true, name: 'Alice Liddell' },
      'mallory-0003': { email: 'carol@acme.test', email_verified: false },
      'eve-0004': { email: 'eve@elsewhere.test', email_verified: true },
    },
  });
  const created = await runCli(['tenant', 'create', 'Acme Payments', '--json'], env);
  expect(created.code).toBe(0);
  ({ tenant_id: tenantId, api_keys: keys } = JSON.parse(created.stdout));
  const set = await runCli(['oidc', 'set', '--tenant', tenantId, '--issuer', idp.issuer, '--client-id', idp.clientId, '--client-secret', idp.clientSecret, '--name', 'Acme SSO'], env);
  expect(set.stderr).toBe('');
  expect(set.code).toBe(0);
  expect(set.stdout).toContain(`register this redirect URI at the provider: ${fx.base}/ui/oidc/callback`);
  expect(set.stdout).toContain(`${fx.base}/ui/login?tenant=${tenantId}`);
  sql = createSql(fx.db.url, { max: 1 });
  await insertApprover(sql, { tenant_id: tenantId, name: 'alice', email: 'alice@acme.test' });
  await insertApprover(sql, { tenant_id: tenantId, name: 'carol', email: 'carol@acme.test' });
  const put = await api('PUT', '/v1/policy', keys.admin, {
    defaults: { decision: 'allow' },
    rules: [{ name: 'payments over $100', match: { action: 'payment.send', when: { 'params.amount': { gt: 100 } } }, decision: 'require_approval', reason: 'payments over $100 need a person', approval: { timeout_seconds: 1800 } }],
  });
  expect(put.status).toBe(200);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await sql?.end({ timeout: 1 });
  await idp?.close();
  await server?.kill('SIGTERM');
  await fx?.close();
});

async function api(method: string, path: string, key: string, body?: unknown) {
  const r = await fetch(`${fx.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: (await r.json()) as any };
}

/** From the tenant's sign-in page through the provider's sign-in form; answers the page and the callback's status. */
async function signInAtProvider(login: string, shot?: string): Promise<{ page: Page; status: number }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(`${fx.base}/ui/login?tenant=${tenantId}`);
  expect(await page.textContent('h1')).toContain('Acme Payments');
  if (shot) await page.screenshot({ path: `${ARTIFACTS}/oidc-signin-page.png`, fullPage: true });
  await page.click('text=Sign in with Acme SSO');
  await page.waitForURL((u) => u.origin === idp.issuer);
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'correct horse');
  if (shot) await page.screenshot({ path: `${ARTIFACTS}/${shot}`, fullPage: true });
  const callback = page.waitForResponse((r) => r.url().startsWith(`${fx.base}/ui/oidc/callback`));
  await page.click('button[type="submit"]');
  const status = (await callback).status();
  return { page, status };
}

describe('single sign-on in Chromium', () => {
  it('a person signs in at the provider, lands in the inbox as their approver, approves; the vote and audit say alice via web', async () => {
    const { page, status } = await signInAtProvider('alice-0001', 'oidc-provider-login.png');
    expect(status).toBe(200);
    await page.waitForURL(`${fx.base}/ui/inbox`);
    expect(await page.textContent('header .who')).toContain('signed in as alice');
    const cookies = await page.context().cookies([`${fx.base}/ui/inbox`, `${fx.base}/ui/oidc/callback`]);
    expect(cookies.find((c) => c.name === 'hp_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/ui' });
    // The sign-in's binding cookie is spent.
    expect(cookies.find((c) => c.name === 'hp_oidc')).toBeUndefined();

    const r = await api('POST', '/v1/guard', keys.agent, { action: 'payment.send', agent_id: 'billing-agent', idempotency_key: `sso-${++n}-${Date.now()}`, params: { amount: 2500, to: 'Globex Ltd' } });
    expect(r.status).toBe(202);
    const id = r.body.approval.id as string;
    await page.waitForSelector(`#row-${id}`, { timeout: 10_000 });
    await page.screenshot({ path: `${ARTIFACTS}/oidc-inbox.png`, fullPage: true });
    await page.click(`#row-${id} a`);
    await page.waitForURL(new RegExp(`/ui/approvals/${id}$`));
    await page.fill('#reason', 'Signed in through Acme SSO; invoice checked');
    await page.click('button.approve');
    await page.waitForURL(/done=approved$/);
    expect(await page.textContent('#outcome')).toContain('approved by alice (web)');
    expect(await page.textContent('ol.audit')).toMatch(/approved by alice via web/);
    await page.screenshot({ path: `${ARTIFACTS}/oidc-approved.png`, fullPage: true });

    const got = await api('GET', `/v1/approvals/${id}`, keys.agent);
    expect(got.body).toMatchObject({ status: 'approved', decided_by: 'alice', decision_channel: 'web', decision_reason: 'Signed in through Acme SSO; invoice checked' });
    expect(got.body.votes).toMatchObject([{ approver: 'alice', vote: 'approve', channel: 'web' }]);
    await page.context().close();
  });

  it('someone the tenant does not know is refused with a clear page, and is not signed in', async () => {
    const { page, status } = await signInAtProvider('eve-0004');
    expect(status).toBe(403);
    expect(await page.textContent('h1')).toContain('Not an approver here');
    expect(await page.textContent('main')).toContain('You signed in at Acme SSO as eve@elsewhere.test, but no approver of this tenant has that identity');
    await page.screenshot({ path: `${ARTIFACTS}/oidc-refused.png`, fullPage: true });
    expect((await page.context().cookies(`${fx.base}/ui/inbox`)).find((c) => c.name === 'hp_session')).toBeUndefined();
    await page.goto(`${fx.base}/ui/inbox`);
    expect(page.url()).toContain('/ui/login');
    await page.context().close();
  });

  it("an e-mail the provider has not verified does not match the approver who has it", async () => {
    const { page, status } = await signInAtProvider('mallory-0003');
    expect(status).toBe(403);
    expect(await page.textContent('main')).toContain('has not verified that e-mail address');
    await page.goto(`${fx.base}/ui/inbox`);
    expect(page.url()).toContain('/ui/login');
    await page.context().close();
  });
});

describe('holdpoint oidc', () => {
  it('get shows the provider and the redirect URI, never the secret', async () => {
    const r = await runCli(['oidc', 'get', '--tenant', tenantId, '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ issuer: idp.issuer, client_id: idp.clientId, client_secret_set: true, display_name: 'Acme SSO', redirect_uri: `${fx.base}/ui/oidc/callback` });
    expect(r.stdout).not.toContain(idp.clientSecret);
  });

  it.each([
    [['--issuer', 'http://login.example.com', '--client-id', 'c', '--client-secret', 's'], '--issuer: must be https (plain http only for localhost)'],
    [['--issuer', 'https://login.example.com', '--client-id', 'c'], '--client-secret:'],
    [['--issuer', 'https://login.example.com', '--client-secret', 's'], '--client-id:'],
  ])('set refuses bad arguments with exit 2 and says which (%j)', async (args, message) => {
    const r = await runCli(['oidc', 'set', '--tenant', tenantId, ...args], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('set for a tenant that does not exist fails with one line', async () => {
    const r = await runCli(['oidc', 'set', '--tenant', '00000000-0000-4000-8000-000000000000', '--issuer', 'https://login.example.com', '--client-id', 'c', '--client-secret', 's'], env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('holdpoint: tenant 00000000-0000-4000-8000-000000000000 not found');
  });
});
