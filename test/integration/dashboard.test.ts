// The evaluation dashboard through app.request(): who may see it, the numbers
// against decisions seeded in SQL, the budget gauges against real counters
// after guarded calls, the top reasons, the period filter, tenant isolation,
// escaping, and the live feed (NOTIFY, catch-up, fragments).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECISION_CHANNEL } from '../../src/services/decision-feed.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { waitFor } from '../helpers/receiver.ts';

let h: Harness;
let t: TenantKeys;
let other: TenantKeys;
let busy: TenantKeys;
let n = 0;

const HOSTILE = '<img src=x onerror=alert(1)>';
const POLICY = {
  defaults: { decision: 'allow' },
  rules: [
    { name: 'no drops', match: { action: 'db.drop*' }, decision: 'deny', reason: 'Dropping is never allowed' },
    { name: 'big payments', match: { action: 'payment.send', when: { 'params.amount': { gt: 1000 } } }, decision: 'require_approval', approval: { timeout_seconds: 600 } },
  ],
  guards: { budget: { per_agent: { day: 10 }, warn_threshold: 0.8, cost_table: { 'llm.call': 2 } } },
};

// The seeded tenant: 10,000 decisions in the last ~20 hours (400 of them in the
// last hour, the rest from 67 minutes ago back), and 100 three days old.
const SEED = 10_000;
const RECENT = 400;
const OLD = 100;

beforeAll(async () => {
  h = await createHarness({ workers: true, env: { HOLDPOINT_STREAM_HEARTBEAT_MS: '500', HOLDPOINT_MAX_STREAMS_PER_KEY: '3' } });
  t = await h.tenant('acme');
  other = await h.tenant('globex');
  busy = await h.tenant('busy');
  await h.setPolicy(t, POLICY);
  await h.setPolicy(other, { defaults: { decision: 'allow' }, rules: [{ name: 'globex secret rule', match: { action: 'db.drop*' }, decision: 'deny' }] });
  await h.rt.sql`
    INSERT INTO decisions (id, tenant_id, kind, action, agent_id, decision, reasons, created_at, risk_score, cost_usd, report_cost_usd)
    SELECT gen_random_uuid(), ${busy.tenant_id}, 'check',
           'action.' || (i % 7), 'agent-' || (i % 3),
           (ARRAY['allow', 'modify', 'deny', 'require_approval'])[i % 4 + 1],
           CASE i % 4
             WHEN 0 THEN '[{"source":"default","decision":"allow","message":"default allow"}]'::jsonb
             WHEN 1 THEN '[{"source":"guard","guard":"sensitive_data","decision":"modify","message":"redacted"}]'::jsonb
             WHEN 2 THEN CASE WHEN i % 16 = 14 THEN '[{"source":"guard","guard":"rate_limit","decision":"deny","message":"too fast"}]'::jsonb
                              ELSE '[{"source":"rule","rule":"no drops","decision":"deny","message":"never"}]'::jsonb END
             ELSE '[{"source":"rule","rule":"big payments","decision":"require_approval","message":"a person decides"}]'::jsonb
           END,
           now() - make_interval(secs => CASE WHEN i <= ${RECENT} THEN i * 8 ELSE 4000 + (i - ${RECENT}) * 7 END),
           (i % 10) / 10.0,
           CASE WHEN i % 4 = 0 THEN 0.01 END,
           CASE WHEN i % 4 = 1 THEN 0.02 END
    FROM generate_series(1, ${SEED}) AS i`;
  await h.rt.sql`
    INSERT INTO decisions (id, tenant_id, kind, action, agent_id, decision, reasons, created_at, risk_score)
    SELECT gen_random_uuid(), ${busy.tenant_id}, 'check', 'old.action', 'agent-old', 'deny',
           '[{"source":"rule","rule":"old rule","decision":"deny","message":"then"}]'::jsonb, now() - interval '3 days', 1
    FROM generate_series(1, ${OLD})`;
}, 60_000);

afterAll(async () => {
  await h.close();
});

/** A browser for app.request(): keeps cookies. */
function browser() {
  const jar = new Map<string, string>();
  async function go(method: string, path: string, form?: Record<string, string>, extra: Record<string, string> = {}) {
    const res = await h.app.request(path, {
      method,
      redirect: 'manual',
      headers: {
        ...(jar.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...extra,
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [k, v] = pair!.split('=');
      if (/max-age=0|expires=Thu, 01 Jan 1970/i.test(c) || v === '') jar.delete(k!);
      else jar.set(k!, v!);
    }
    return res;
  }
  const page = async (path: string, extra: Record<string, string> = {}) => {
    const res = await go('GET', path, undefined, extra);
    return { status: res.status, location: res.headers.get('location'), headers: res.headers, html: await res.text() };
  };
  return { jar, go, page };
}

async function signedIn(key: string) {
  const b = browser();
  const login = await b.page('/ui/login');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(login.html)![1]!;
  const res = await b.go('POST', '/ui/login', { key, _csrf: csrf });
  expect(res.status).toBe(303);
  return b;
}

async function guard(tk: TenantKeys, action: string, extra: Record<string, unknown> = {}) {
  return h.call('POST', '/v1/guard', tk.agent, { action, agent_id: 'billing-bot', idempotency_key: `dash-${++n}`, params: {}, ...extra });
}

/** The text of the element with this id (tags stripped, whitespace squeezed). */
function textOf(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`);
  expect(start, `#${id} is on the page`).toBeGreaterThan(-1);
  const open = html.lastIndexOf('<', start);
  const tag = /^<(\w+)/.exec(html.slice(open))![1]!;
  let depth = 0;
  const re = new RegExp(`<(/?)${tag}\\b[^>]*>`, 'g');
  re.lastIndex = open;
  let m: RegExpExecArray | null;
  while ((m = re.exec(html))) {
    depth += m[1] ? -1 : 1;
    if (depth === 0) break;
  }
  return html
    .slice(open, re.lastIndex)
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

describe('who may see the dashboard', () => {
  it('sends a visitor without a session to sign in, and answers 401 to its fragments and stream', async () => {
    const b = browser();
    const r = await b.page('/ui/dashboard?period=7d');
    expect(r.status).toBe(303);
    expect(r.location).toBe(`/ui/login?next=${encodeURIComponent('/ui/dashboard?period=7d')}`);
    expect((await b.page('/ui/fragments/dashboard-summary')).status).toBe(401);
    expect((await b.page(`/ui/fragments/decisions?ids=${crypto.randomUUID()}`)).status).toBe(401);
    expect((await b.page('/ui/dashboard/stream')).status).toBe(401);
  });

  it('is linked from the inbox nav and served under the inbox CSP', async () => {
    const b = await signedIn(t.approver);
    const inbox = await b.page('/ui/inbox');
    expect(inbox.html).toContain('<a href="/ui/dashboard">Dashboard</a>');
    const r = await b.page('/ui/dashboard');
    expect(r.status).toBe(200);
    expect(r.html).toContain('data-page="dashboard"');
    expect(r.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    // No inline script: the page's only script is the inbox's asset.
    expect(r.html.match(/<script[^>]*>/g)).toEqual(['<script src="/ui/assets/app.js" defer="">']);
  });

  it('refuses a period it does not know with 400', async () => {
    const b = await signedIn(t.approver);
    expect((await b.page('/ui/dashboard?period=30d')).status).toBe(400);
    expect((await b.page('/ui/fragments/dashboard-summary?period=1y')).status).toBe(400);
  });
});

describe('the numbers', () => {
  it('match the 10,000 seeded decisions of the last 24 hours, and the page renders them', async () => {
    const b = await signedIn(busy.admin);
    const started = performance.now();
    const r = await b.page('/ui/dashboard');
    const ms = performance.now() - started;
    console.log(`dashboard page with ${SEED} decisions in the period: ${ms.toFixed(0)} ms`);
    expect(r.status).toBe(200);
    const q = SEED / 4;
    expect(textOf(r.html, 'stat-total')).toBe('Evaluations 10,000 3 agents');
    expect(textOf(r.html, 'stat-allow')).toBe(`Allowed ${q.toLocaleString('en-US')} 25%`);
    expect(textOf(r.html, 'stat-modify')).toBe(`Modified ${q.toLocaleString('en-US')} 25%`);
    expect(textOf(r.html, 'stat-deny')).toBe(`Denied ${q.toLocaleString('en-US')} 25%`);
    expect(textOf(r.html, 'stat-approval')).toBe(`Needs approval ${q.toLocaleString('en-US')} 25%`);
    // risk (i % 10) / 10 over i = 1..10000: mean 0.45, max 0.9.
    expect(textOf(r.html, 'stat-risk')).toBe('Risk 0.45 average · max 0.90');
    // allowed rows declared $0.01, modified ones reported $0.02: 2,500 × 0.01 + 2,500 × 0.02.
    expect(textOf(r.html, 'stat-spend')).toBe('Spend $75.00 reported or declared');
    // The feed shows the newest 50.
    expect((r.html.match(/<tr id="d-/g) ?? []).length).toBe(50);
  });

  it('orders the rules and guards that deny and hold most', async () => {
    const b = await signedIn(busy.approver);
    const r = await b.page('/ui/dashboard?period=24h');
    const rows = [...textOf(r.html, 'top-reasons').matchAll(/(big payments rule|no drops rule|rate_limit guard) (\d+) (\d+)/g)].map((m) => [m[1], Number(m[2]), Number(m[3])]);
    expect(rows).toEqual([
      ['big payments rule', 0, 2500],
      ['no drops rule', 1875, 0],
      ['rate_limit guard', 625, 0],
    ]);
    expect(textOf(r.html, 'guard-status')).toContain('rate_limit off 625 denied · 0 held');
    expect(r.html).not.toContain('old rule');
  });

  it('filters by period: the last hour, and seven days that include older decisions', async () => {
    const b = await signedIn(busy.approver);
    const hour = await b.page('/ui/dashboard?period=1h');
    expect(textOf(hour.html, 'stat-total')).toBe(`Evaluations ${RECENT} 3 agents`);
    expect(hour.html).toContain('aria-current="page">last hour</a>');
    const week = await b.page('/ui/dashboard?period=7d');
    expect(textOf(week.html, 'stat-total')).toBe(`Evaluations ${(SEED + OLD).toLocaleString('en-US')} 4 agents`);
    expect(textOf(week.html, 'top-reasons')).toContain('old rule rule 100 0');
    // 7 days in 6-hour buckets from 00, 06, 12 or 18 UTC, and the chart's table says the same as the chart.
    const starts = textOf(week.html, 'risk-table').match(/\d{4}-\d\d-\d\d \d\d:\d\d/g) ?? [];
    expect(starts.length).toBeGreaterThanOrEqual(28);
    expect(starts.length).toBeLessThanOrEqual(29);
    expect(starts.every((x) => /(00|06|12|18):00$/.test(x))).toBe(true);
    expect(week.html).toMatch(/<svg class="chart"[^>]*role="img"/);
  });

  it('charts risk per whole hour over 24 hours, and its table counts every decision of the period', async () => {
    const b = await signedIn(busy.approver);
    const r = await b.page('/ui/dashboard');
    const table = textOf(r.html, 'risk-table');
    // Whole UTC hours, from the one 24 hours ago to the current one.
    const starts = table.match(/\d{4}-\d\d-\d\d \d\d:\d\d/g) ?? [];
    expect(starts.length).toBeGreaterThanOrEqual(24);
    expect(starts.length).toBeLessThanOrEqual(25);
    expect(starts.every((x) => x.endsWith(':00'))).toBe(true);
    const counts = [...table.matchAll(/\d\d:\d\d (\d+) (\S+) (\S+) (\d+)/g)].map((m) => Number(m[1]));
    expect(counts.reduce((a, c) => a + c, 0)).toBe(SEED);
  });
});

describe('guard status', () => {
  it('shows a guard the policy configures as active, with the calls it denied and held', async () => {
    const g = await h.tenant('guarded');
    await h.setPolicy(g, { defaults: { decision: 'allow' }, guards: { budget: { per_agent: { day: 10 }, warn_threshold: 0.8, cost_table: { 'llm.call': 4 } } } });
    // $4 (40%) passes, $8 (80%) is held for a human, $12 would pass the $10 limit.
    expect((await guard(g, 'llm.call')).body.status).toBe('allowed');
    expect((await guard(g, 'llm.call')).body.status).toBe('pending');
    expect((await guard(g, 'llm.call')).body.status).toBe('denied');
    const b = await signedIn(g.approver);
    const r = await b.page('/ui/dashboard');
    const status = textOf(r.html, 'guard-status');
    expect(status).toContain('budget active 1 denied · 1 held');
    expect(status).toContain('rate_limit off 0 denied · 0 held');
    expect(r.html).toMatch(/<li class="on">\s*<span class="dot" aria-hidden="true"><\/span>\s*<span class="guard-name">budget<\/span>/);
  });
});

describe('budget gauges', () => {
  it('show each agent spent against its daily limit from the real counters, amber at the warn threshold', async () => {
    for (let i = 0; i < 3; i++) expect((await guard(t, 'llm.call', { agent_id: 'spender' })).status).toBe(200);
    const b = await signedIn(t.approver);
    let r = await b.page('/ui/dashboard');
    let gauges = textOf(r.html, 'dash-budgets');
    expect(gauges).toContain('spender · 3 calls day $6.00 of $10.00 · 60%');
    expect(r.html).toMatch(/class="gauge ok"[\s\S]*?spender day budget: \$6\.00 of \$10\.00 \(ok\)/);
    // The fourth $2 call reaches 80%: the guard holds it for approval and reserves it.
    expect((await guard(t, 'llm.call', { agent_id: 'spender' })).status).toBe(202);
    r = await b.page('/ui/dashboard');
    gauges = textOf(r.html, 'dash-budgets');
    expect(gauges).toContain('spender · 4 calls day $8.00 of $10.00 · 80%');
    expect(r.html).toContain('aria-label="spender day budget: $8.00 of $10.00 (warn)"');
    expect(gauges).toContain('Amber from 80%, red from 95%');
  });

  it('say so for agents of a tenant without budget limits', async () => {
    expect((await guard(other, 'report.read', { agent_id: 'reader' })).status).toBe(200);
    const b = await signedIn(other.approver);
    const r = await b.page('/ui/dashboard');
    expect(textOf(r.html, 'dash-budgets')).toContain('reader · 1 call No budget limit: the policy has no budget guard.');
  });
});

describe('tenant isolation and escaping', () => {
  it("shows only the signed-in tenant's decisions, rules and agents, and another tenant's ids render nothing", async () => {
    const mine = await guard(t, 'db.drop_table', { agent_id: 'acme-agent' });
    expect(mine.status).toBe(200);
    const theirs = await guard(other, 'db.drop_table', { agent_id: 'globex-agent' });
    const b = await signedIn(t.approver);
    const r = await b.page('/ui/dashboard');
    expect(r.html).toContain(`id="d-${mine.body.decision_id}"`);
    expect(r.html).not.toContain(theirs.body.decision_id);
    expect(r.html).not.toContain('globex-agent');
    expect(r.html).not.toContain('globex secret rule');
    expect(r.html).not.toContain('agent-0');
    const frag = await b.page(`/ui/fragments/decisions?ids=${theirs.body.decision_id},${mine.body.decision_id}`);
    expect(frag.status).toBe(200);
    expect(frag.html).toContain(`id="d-${mine.body.decision_id}"`);
    expect(frag.html).not.toContain(theirs.body.decision_id);
    expect((await b.page('/ui/fragments/decisions?ids=not-a-uuid')).status).toBe(400);
  });

  it('renders an action, agent id and rule name full of HTML as text', async () => {
    const c = await h.call('POST', '/v1/check', t.agent, { action: `db.drop ${HOSTILE}`, agent_id: `"><script>alert(2)</script>` });
    expect(c.body.decision).toBe('deny');
    const b = await signedIn(t.approver);
    const r = await b.page('/ui/dashboard');
    expect(r.html).toContain('db.drop &lt;img src=x onerror=alert(1)&gt;');
    expect(r.html).toContain('&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(r.html).not.toContain(HOSTILE);
    expect(r.html).not.toContain('<script>alert(2)');
    const frag = await b.page(`/ui/fragments/decisions?ids=${c.body.decision_id}`);
    expect(frag.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(frag.html).not.toContain(HOSTILE);
  });
});

describe('the live feed', () => {
  /** Reads SSE messages off a streaming Response until `until` says stop. */
  async function readEvents(res: Response, until: (evs: { event: string; id: string; data: any }[]) => boolean) {
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const evs: { event: string; id: string; data: any }[] = [];
    const deadline = Date.now() + 15_000;
    while (!until(evs)) {
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(evs)}`);
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = { event: 'message', id: '', data: '' as any };
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) ev.event = line.slice(7);
          if (line.startsWith('id: ')) ev.id = line.slice(4);
          if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
        }
        if (block.split('\n').some((l) => l.startsWith('data: '))) evs.push(ev);
      }
    }
    await reader.cancel();
    return evs;
  }

  it('announces each guard and check decision with a NOTIFY carrying the tenant and the ids, not the request', async () => {
    const heard: string[] = [];
    const sub = await h.rt.sql.listen(DECISION_CHANNEL, (p) => heard.push(p));
    try {
      const g = await guard(t, 'payment.send', { agent_id: 'notify-bot', params: { amount: 5000, secret_note: 'do not broadcast' } });
      const c = await h.call('POST', '/v1/check', t.agent, { action: 'report.read', agent_id: 'notify-bot' });
      const ids = [g.body.decision_id, c.body.decision_id];
      await waitFor(() => ids.every((id) => heard.some((p) => p.includes(id))), { what: 'both NOTIFYs' });
      for (const p of heard) {
        expect(p).toMatch(new RegExp(`^${t.tenant_id} [0-9a-f-]{36}(,[0-9a-f-]{36})*$`));
        expect(p).not.toContain('do not broadcast');
      }
    } finally {
      await sub.unlisten();
    }
  });

  it('streams the ids of new decisions of the tenant only, and the fragment renders them', async () => {
    const b = await signedIn(t.approver);
    const res = await b.go('GET', '/ui/dashboard/stream');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    let mine = '';
    let theirs = '';
    let started = false;
    const evs = await readEvents(res, (e) => {
      if (e.length === 1 && !started) {
        started = true;
        // Connected (ready): now make one decision here and one in another tenant.
        void (async () => {
          theirs = (await guard(other, 'report.read', { agent_id: 'someone-else' })).body.decision_id;
          mine = (await guard(t, 'db.drop_all', { agent_id: 'live-bot' })).body.decision_id;
        })();
      }
      return mine !== '' && e.some((x) => x.event === 'decisions' && x.data.ids.includes(mine));
    });
    expect(evs[0]!.event).toBe('ready');
    expect(JSON.stringify(evs)).not.toContain(theirs);
    const ev = evs.find((x) => x.event === 'decisions' && x.data.ids.includes(mine))!;
    expect(ev.id).toMatch(/^[0-9a-f-]{36}$/);
    const frag = await b.page(`/ui/fragments/decisions?ids=${mine}`);
    expect(frag.html).toContain('db.drop_all');
    expect(frag.html).toContain('<span class="pill deny">denied</span>');
    expect(frag.html).toContain('Dropping is never allowed');
  });

  it('finds a decision whose NOTIFY was lost within a heartbeat', async () => {
    const b = await signedIn(t.approver);
    const res = await b.go('GET', '/ui/dashboard/stream');
    const id = crypto.randomUUID();
    let written = false;
    const evs = await readEvents(res, (e) => {
      if (e.length === 1 && !written) {
        written = true;
        // Written behind the announcer's back: only the heartbeat's catch-up read can find it.
        void h.rt.sql`
          INSERT INTO decisions (id, tenant_id, kind, action, agent_id, decision, reasons, created_at)
          VALUES (${id}, ${t.tenant_id}, 'check', 'silent.call', 'quiet-bot', 'allow', '[]'::jsonb, now())`.then(() => undefined);
      }
      return e.some((x) => x.event === 'decisions' && x.data.ids.includes(id));
    });
    expect(evs.filter((x) => x.event === 'decisions' && x.data.ids.includes(id))).toHaveLength(1);
  });

  it('replays what a reconnecting client missed since its Last-Event-ID', async () => {
    const first = await guard(t, 'report.read', { agent_id: 'resume-bot' });
    const missed = await guard(t, 'report.write', { agent_id: 'resume-bot' });
    const b = await signedIn(t.approver);
    const res = await b.go('GET', '/ui/dashboard/stream', undefined, { 'last-event-id': first.body.decision_id });
    const evs = await readEvents(res, (e) => e.some((x) => x.event === 'decisions' && x.data.ids.includes(missed.body.decision_id)));
    expect(evs[0]!.event).toBe('ready');
  });

  it('tells the page when a held call is decided, and its row then shows the outcome', async () => {
    const held = await guard(t, 'payment.send', { agent_id: 'payer', params: { amount: 5000 } });
    expect(held.status).toBe(202);
    const b = await signedIn(t.approver);
    expect((await b.page(`/ui/fragments/decisions?ids=${held.body.decision_id}`)).html).toMatch(/data-held=""[\s\S]*approval-state pending">pending</);
    const res = await b.go('GET', '/ui/dashboard/stream');
    let voted = false;
    let decided = false;
    const evs = await readEvents(res, (e) => {
      if (e.length === 1 && !voted) {
        voted = true;
        void h
          .as(t, 'erin')
          .then((key) => h.call('POST', `/v1/approvals/${held.body.approval.id}/decision`, key, { decision: 'approve' }))
          .then(() => (decided = true));
      }
      return decided && e.slice(1).some((x) => x.event === 'approvals');
    });
    expect(evs.filter((x) => x.event === 'approvals').every((x) => x.id === '' && JSON.stringify(x.data) === '{}')).toBe(true);
    await waitFor(async () => (await b.page(`/ui/fragments/decisions?ids=${held.body.decision_id}`)).html.includes('approved'), { what: 'the row approved' });
    const row = (await b.page(`/ui/fragments/decisions?ids=${held.body.decision_id}`)).html;
    expect(row).toContain('approval-state approved">approved<');
    expect(row).not.toContain('data-held');
  });

  it('ends the stream when the session is signed out', async () => {
    const b = await signedIn(t.approver);
    const page = await b.page('/ui/dashboard');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.html)![1]!;
    const res = await b.go('GET', '/ui/dashboard/stream');
    const cookie = [...b.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let out = false;
    const evs = await readEvents(res, (e) => {
      if (e.length === 1 && !out && (out = true)) void h.app.request('/ui/logout', { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${csrf}` });
      return e.some((x) => x.event === 'end');
    });
    expect(evs.at(-1)).toMatchObject({ event: 'end', data: { reason: 'unauthorized' } });
  });

  it("takes one of the sign-in's live-feed slots, shared with the inbox stream: 429 beyond the cap", async () => {
    const key = await h.as(t, 'capped-carol');
    const b = await signedIn(key);
    const open = [await b.go('GET', '/ui/stream'), await b.go('GET', '/ui/dashboard/stream'), await b.go('GET', '/ui/dashboard/stream')];
    expect(open.map((r) => r.status)).toEqual([200, 200, 200]);
    const refused = await b.go('GET', '/ui/dashboard/stream');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    await Promise.all(open.map((r) => r.body!.cancel()));
    // Closing one gives its slot back.
    await waitFor(async () => {
      const again = await b.go('GET', '/ui/dashboard/stream');
      await again.body?.cancel();
      return again.status === 200;
    }, { what: 'a slot given back' });
  });

  // Last: it closes the process's notifier, as SIGTERM does.
  it('ends open dashboard streams with end {reason: shutdown} when the process shuts down', async () => {
    const b = await signedIn(t.approver);
    const res = await b.go('GET', '/ui/dashboard/stream');
    let closing = false;
    const evs = await readEvents(res, (e) => {
      if (e.length === 1 && !closing && (closing = true)) void h.rt.notifier.close();
      return e.some((x) => x.event === 'end');
    });
    expect(evs.at(-1)).toMatchObject({ event: 'end', data: { reason: 'shutdown' } });
    // A stream opened afterwards ends at once.
    const late = await readEvents(await b.go('GET', '/ui/dashboard/stream'), (e) => e.some((x) => x.event === 'end'));
    expect(late.at(-1)).toMatchObject({ event: 'end', data: { reason: 'shutdown' } });
  });
});
