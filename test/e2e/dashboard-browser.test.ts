/// <reference lib="dom" />
// The evaluation dashboard in a real browser: Debian's Chromium driven by
// playwright-core against the real `holdpoint start`. A day of history is
// seeded in SQL (for the risk chart) and a round of real calls goes through
// the API (for the gauges); then a guard call with a hostile action name must
// appear in the live feed without a reload, as text, with no CSP violation, no
// console error and no dialog. The screenshot goes to test/artifacts/dashboard.png.
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createSql } from '../../src/db/client.ts';
import { createProcessFixture, ROOT, runCli, type ProcessFixture, type Proc } from '../helpers/processes.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = `${ROOT}test/artifacts`;
const HOSTILE = 'db.drop <img src=x onerror=alert(1)>';

let fx: ProcessFixture;
let server: Proc;
let browser: Browser;
let keys: { agent: string; approver: string; admin: string };
let tenantId: string;
let n = 0;
/** A payment held for a person: the test approves it and watches its row. */
let held: { decision_id: string; approval: { id: string } };

async function api(method: string, path: string, key: string, body?: unknown) {
  const r = await fetch(`${fx.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: (await r.json()) as any };
}

const guard = (action: string, agent_id: string, params: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  api('POST', '/v1/guard', keys.agent, { action, agent_id, params, idempotency_key: `dash-browser-${++n}-${Date.now()}`, ...extra });

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  fx = await createProcessFixture({ HOLDPOINT_SHUTDOWN_TIMEOUT_MS: '30000' });
  server = await fx.start();
  const created = await runCli(['tenant', 'create', 'Acme Robotics', '--json'], fx.env);
  expect(created.code, created.stderr).toBe(0);
  const out = JSON.parse(created.stdout) as { tenant_id: string; api_keys: typeof keys };
  keys = out.api_keys;
  tenantId = out.tenant_id;
  const put = await api('PUT', '/v1/policy', keys.admin, {
    defaults: { decision: 'allow' },
    rules: [
      { name: 'never drop databases', match: { action: 'db.drop*' }, decision: 'deny', reason: 'Dropping databases is never allowed' },
      { name: 'payments over $500', match: { action: 'payment.send', when: { 'params.amount': { gt: 500 } } }, decision: 'require_approval', reason: 'payments over $500 need a person', approval: { timeout_seconds: 1800 } },
      { name: 'production deploys', match: { action: 'deploy.production' }, decision: 'require_approval', reason: 'a person signs off production', approval: { timeout_seconds: 1800 } },
    ],
    guards: {
      budget: { per_agent: { day: 25 }, per_tenant: { day: 100 }, warn_threshold: 0.8, cost_table: { 'llm.*': 0.75, 'search.*': 0.05 } },
      sensitive_data: { on_finding: 'redact' },
      rate_limit: { per_agent: { per_minute: 600 } },
    },
  });
  expect(put.status, JSON.stringify(put.body)).toBe(200);

  // A day of history for the chart (no counters: the gauges show only the live calls below).
  const sql = createSql(fx.db.url, { max: 1 });
  try {
    await sql`
      INSERT INTO decisions (id, tenant_id, kind, action, agent_id, decision, reasons, created_at, risk_score, cost_usd)
      SELECT gen_random_uuid(), ${tenantId}, 'guard',
             (ARRAY['search.web', 'llm.summarize', 'crm.update', 'payment.send', 'email.send'])[i % 5 + 1],
             (ARRAY['research-agent', 'support-bot', 'billing-agent'])[i % 3 + 1],
             CASE WHEN i % 11 = 0 THEN 'deny' WHEN i % 7 = 0 THEN 'require_approval' WHEN i % 5 = 4 THEN 'modify' ELSE 'allow' END,
             CASE WHEN i % 11 = 0 THEN '[{"source":"rule","rule":"never drop databases","decision":"deny","message":"Dropping databases is never allowed"}]'::jsonb
                  WHEN i % 7 = 0 THEN '[{"source":"rule","rule":"payments over $500","decision":"require_approval","message":"payments over $500 need a person"}]'::jsonb
                  WHEN i % 5 = 4 THEN '[{"source":"guard","guard":"sensitive_data","decision":"modify","message":"redacted an email address"}]'::jsonb
                  ELSE '[{"source":"default","decision":"allow","message":"no rule matched; default is allow"}]'::jsonb END,
             now() - make_interval(secs => 300 + i * 140),
             least(1, greatest(0, 0.18 + 0.14 * sin(i / 45.0) + CASE WHEN i % 11 = 0 THEN 0.6 WHEN i % 7 = 0 THEN 0.35 ELSE (i % 5) / 40.0 END)),
             CASE WHEN i % 5 IN (0, 1) THEN 0.05 * (i % 4 + 1) END
      FROM generate_series(1, 590) AS i`;
  } finally {
    await sql.end();
  }

  // A round of real calls: spend for the gauges, one of each decision.
  for (let i = 0; i < 28; i++) await guard('llm.reply', 'support-bot', { ticket: 4100 + i });
  for (let i = 0; i < 12; i++) await guard('llm.summarize', 'research-agent', { doc: `paper-${i}` });
  for (let i = 0; i < 6; i++) await guard('search.web', 'research-agent', { q: `query ${i}` });
  await guard('payment.send', 'billing-agent', { amount: 120, to: 'acct_42' });
  held = (await guard('payment.send', 'billing-agent', { amount: 2500, to: 'Globex Ltd' })).body;
  expect(held.approval.id).toBeTruthy();
  await guard('email.send', 'support-bot', { to: 'customer@example.com', body: 'card 4111 1111 1111 1111' });
  await guard('deploy.production', 'ops-agent', { service: 'api', version: '2026.11.30' });
  await guard('db.drop_table', 'ops-agent', { table: 'customers' });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.kill('SIGTERM');
  await fx?.close();
});

/** Signs in with the key, collecting every console error, page error, dialog and CSP violation from then on. */
async function signIn(key: string, viewport = { width: 1440, height: 1000 }) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`http ${r.status()}: ${r.url()}`);
  });
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.exposeFunction('reportCsp', (v: string) => problems.push(`csp: ${v}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => (window as any).reportCsp(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(`${fx.base}/ui/login?next=${encodeURIComponent('/ui/dashboard')}`);
  await page.fill('#key', key);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/ui\/dashboard$/);
  return { page, problems };
}

const live = (page: Page) => page.waitForSelector('body[data-live="on"]', { timeout: 10_000 });

describe('the evaluation dashboard in Chromium', () => {
  it('shows guard calls live, a hostile action name as text, a held call approved, a burst of 80; no CSP violation; screenshot', async () => {
    const { page, problems } = await signIn(keys.approver);
    await live(page);
    // Marks this document: a reload would lose it.
    await page.evaluate(() => ((window as any).sameDocument = true));
    const before = (await page.textContent('#stat-total .stat-value'))!;
    expect(await page.textContent('#dash-budgets')).toMatch(/support-bot/);
    expect(await page.getAttribute('#dash-budgets .gauge.warn .gauge-track', 'aria-label')).toMatch(/support-bot day budget: \$\d+\.\d\d of \$25\.00 \(warn\)/);

    const hostile = await guard(HOSTILE, 'ops-agent', { table: 'users' });
    expect(hostile.status).toBe(200);
    expect(hostile.body.status).toBe('denied');
    const ok = await guard('search.web', 'research-agent', { q: 'holdpoint dashboards' });
    expect(ok.body.status).toBe('allowed');

    // No reload: both rows arrive over SSE, newest first.
    await page.waitForSelector(`#d-${hostile.body.decision_id}`, { timeout: 10_000 });
    await page.waitForSelector(`#d-${ok.body.decision_id}`, { timeout: 10_000 });
    expect(await page.evaluate(() => (window as any).sameDocument)).toBe(true);
    const ids = await page.$$eval('#feed tbody tr', (rows) => rows.slice(0, 2).map((r) => r.id));
    expect(ids).toEqual([`d-${ok.body.decision_id}`, `d-${hostile.body.decision_id}`]);

    // The hostile name is text: the same characters, no element made of it.
    expect(await page.textContent(`#d-${hostile.body.decision_id} .action`)).toBe(HOSTILE);
    expect(await page.$$eval('main img', (imgs) => imgs.length)).toBe(0);
    expect(await page.textContent(`#d-${hostile.body.decision_id}`)).toContain('Dropping databases is never allowed');
    expect(await page.textContent('#live')).toMatch(/new decision/i);

    // A held payment approved through the API: its row says so, still without a reload.
    expect(await page.textContent(`#d-${held.decision_id} .approval-state`)).toBe('pending');
    const vote = await api('POST', `/v1/approvals/${held.approval.id}/decision`, keys.approver, { decision: 'approve', reason: 'invoice checked' });
    expect(vote.status).toBe(200);
    await page.waitForFunction((id) => document.querySelector(`#d-${id} .approval-state`)?.textContent === 'approved', held.decision_id, { timeout: 10_000 });
    expect(await page.evaluate(() => (window as any).sameDocument)).toBe(true);

    // The panels follow (at most every 5 s): two more evaluations counted.
    const total = (s: string) => Number(s.replace(/,/g, ''));
    await expect.poll(async () => total((await page.textContent('#stat-total .stat-value'))!), { timeout: 15_000 }).toBe(total(before) + 2);
    await page.waitForTimeout(2_600); // let the rows' arrival highlight fade before the picture
    await page.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });

    // A burst of 80 checks at once: the feed keeps the newest 50 rows and the panels follow (at most every 5 s).
    const burst = await Promise.all(Array.from({ length: 80 }, (_, i) => api('POST', '/v1/check', keys.agent, { action: 'search.web', agent_id: `crawler-${i % 4}` })));
    expect(burst.every((r) => r.status === 200)).toBe(true);
    await expect.poll(async () => total((await page.textContent('#stat-total .stat-value'))!), { timeout: 15_000 }).toBe(total(before) + 82);
    await expect.poll(() => page.$$eval('#feed tbody tr', (rows) => rows.filter((r) => r.querySelector('.action')?.textContent === 'search.web' && /crawler-/.test(r.textContent ?? '')).length), { timeout: 10_000 }).toBe(50);
    expect(await page.$$eval('#feed tbody tr', (rows) => rows.length)).toBe(50);
    expect(await page.textContent('#top-reasons')).toContain('never drop databases');

    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('reads on a phone: the panels stack and nothing overflows sideways', async () => {
    const { page, problems } = await signIn(keys.approver, { width: 390, height: 844 });
    await live(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-phone.png`, fullPage: true });
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
