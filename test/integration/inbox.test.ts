// The web inbox through app.request(): sign-in and sessions, CSRF, tenant
// isolation, every form error, the pages' content, CSV, and the live feed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/approvals/chain.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { waitFor } from '../helpers/receiver.ts';

let h: Harness;
let t: TenantKeys;
let other: TenantKeys;
let n = 0;

const POLICY = {
  defaults: { decision: 'require_approval', reason: 'everything waits for a person' },
  rules: [
    { name: 'big payments', match: { action: 'payment.send' }, decision: 'require_approval', approval: { timeout_seconds: 600 } },
    { name: 'two keys', match: { action: 'vault.open' }, decision: 'require_approval', approval: { required_approvals: 2 } },
    { name: 'alice only', match: { action: 'db.drop' }, decision: 'require_approval', approval: { approvers: { identities: ['alice'] } } },
  ],
};

beforeAll(async () => {
  h = await createHarness({ workers: true, env: { HOLDPOINT_STREAM_HEARTBEAT_MS: '200' } });
  t = await h.tenant('acme');
  other = await h.tenant('globex');
  await h.setPolicy(t, POLICY);
  await h.setPolicy(other, POLICY);
});

afterAll(async () => {
  await h.close();
});

/** A browser for app.request(): keeps cookies, sends forms. */
function browser(headers: Record<string, string> = {}) {
  const jar = new Map<string, string>();
  const setCookies: string[] = [];
  async function go(method: string, path: string, form?: Record<string, string>, extra: Record<string, string> = {}) {
    const res = await h.app.request(path, {
      method,
      redirect: 'manual',
      headers: {
        ...headers,
        ...(jar.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...extra,
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const c of res.headers.getSetCookie()) {
      setCookies.push(c);
      const [pair] = c.split(';');
      const [k, v] = pair!.split('=');
      if (/max-age=0|expires=Thu, 01 Jan 1970/i.test(c) || v === '') jar.delete(k!);
      else jar.set(k!, v!);
    }
    return { status: res.status, location: res.headers.get('location'), html: await res.text(), headers: res.headers };
  }
  return {
    jar,
    setCookies,
    go,
    async signIn(key: string) {
      const login = await go('GET', '/ui/login');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(login.html)![1]!;
      return go('POST', '/ui/login', { key, _csrf: csrf });
    },
  };
}

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

async function park(tk: TenantKeys, action = 'payment.send', extra: Record<string, unknown> = {}) {
  const r = await h.call('POST', '/v1/guard', tk.agent, { action, agent_id: 'billing-bot', idempotency_key: `inbox-${++n}`, params: { amount: 120, to: 'acct_42' }, ...extra });
  expect(r.status).toBe(202);
  return r.body.approval as { id: string; idempotency_key: string };
}

async function signedIn(key = t.approver) {
  const b = browser();
  const r = await b.signIn(key);
  expect(r.status).toBe(303);
  return b;
}

describe('signing in', () => {
  it('sends a stranger to the sign-in page, remembering where they were going', async () => {
    const r = await browser().go('GET', '/ui/inbox?action=payment.send');
    expect(r.status).toBe(303);
    expect(r.location).toBe(`/ui/login?next=${encodeURIComponent('/ui/inbox?action=payment.send')}`);
  });

  it('an approver key opens a session: HttpOnly, SameSite=Strict cookie that is not the key, then back to where they were going', async () => {
    const b = browser();
    const login = await b.go('GET', `/ui/login?next=${encodeURIComponent('/ui/history')}`);
    expect(login.status).toBe(200);
    expect(login.html).toContain('<label for="key">');
    const r = await b.go('POST', '/ui/login', { key: t.approver, _csrf: csrfOf(login.html), next: '/ui/history' });
    expect(r.status).toBe(303);
    expect(r.location).toBe('/ui/history');
    const cookie = b.setCookies.find((c) => c.startsWith('hp_session='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/ui/);
    expect(cookie).not.toMatch(/Secure/);
    expect(cookie).not.toContain(t.approver);
    expect(r.location).not.toContain(t.approver);
    const [row] = await h.rt.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM ui_sessions WHERE tenant_id = ${t.tenant_id}`;
    expect(row!.n).toBeGreaterThan(0);
    const inbox = await b.go('GET', '/ui/inbox');
    expect(inbox.status).toBe(200);
    expect(inbox.html).toContain('signed in as <strong>key:');
  });

  it('marks the cookie Secure behind https', async () => {
    const b = browser({ 'x-forwarded-proto': 'https' });
    await b.signIn(t.admin);
    expect(b.setCookies.find((c) => c.startsWith('hp_session='))).toMatch(/Secure/);
  });

  it('never sends the browser off-site after sign-in', async () => {
    const b = browser();
    const login = await b.go('GET', '/ui/login');
    const r = await b.go('POST', '/ui/login', { key: t.approver, _csrf: csrfOf(login.html), next: '//evil.example/ui' });
    expect(r.location).toBe('/ui/inbox');
  });

  it.each([
    ['an empty key', { key: '   ' }, 422, 'Enter an API key.'],
    ['an unknown key', { key: 'hp_approver_nope' }, 401, 'unknown or revoked'],
  ])('refuses %s and says why', async (_what, fields, status, text) => {
    const b = browser();
    const login = await b.go('GET', '/ui/login');
    const r = await b.go('POST', '/ui/login', { ...fields, _csrf: csrfOf(login.html) } as Record<string, string>);
    expect(r.status).toBe(status);
    expect(r.html).toContain(text);
    expect(b.jar.has('hp_session')).toBe(false);
  });

  it('refuses an agent key: agents do not approve', async () => {
    const r = await browser().signIn(t.agent);
    expect(r.status).toBe(403);
    expect(r.html).toContain('Agent keys cannot sign in here');
  });

  it('refuses a sign-in without the form token (login CSRF), or with the wrong one', async () => {
    const b = browser();
    const noCookie = await b.go('POST', '/ui/login', { key: t.approver, _csrf: 'x' });
    expect(noCookie.status).toBe(403);
    await b.go('GET', '/ui/login');
    const wrong = await b.go('POST', '/ui/login', { key: t.approver, _csrf: 'not-the-token' });
    expect(wrong.status).toBe(403);
    expect(b.jar.has('hp_session')).toBe(false);
  });

  it('a revoked key ends its sessions at the next request', async () => {
    await h.call('POST', '/v1/approvers', t.admin, { name: 'temp', key: false });
    const k = await h.call('POST', '/v1/api-keys', t.admin, { role: 'approver', approver: 'temp' });
    const b = await signedIn(k.body.key);
    expect((await b.go('GET', '/ui/inbox')).status).toBe(200);
    expect((await h.call('DELETE', `/v1/api-keys/${k.body.id}`, t.admin)).status).toBe(200);
    const r = await b.go('GET', '/ui/inbox');
    expect(r.status).toBe(303);
    expect(r.location).toMatch(/^\/ui\/login/);
  });

  it('an expired session is a signed-out one', async () => {
    const b = await signedIn();
    await h.rt.sql`UPDATE ui_sessions SET expires_at = now() - interval '1 second' WHERE tenant_id = ${t.tenant_id}`;
    expect((await b.go('GET', '/ui/inbox')).status).toBe(303);
    expect((await b.go('GET', '/ui/stream')).status).toBe(401);
  });

  it('signing out needs the form token, then deletes the session', async () => {
    const b = await signedIn();
    const inbox = await b.go('GET', '/ui/inbox');
    const cookie = b.jar.get('hp_session')!;
    expect((await b.go('POST', '/ui/logout', { _csrf: 'forged' })).status).toBe(403);
    expect((await b.go('GET', '/ui/inbox')).status).toBe(200);
    const out = await b.go('POST', '/ui/logout', { _csrf: csrfOf(inbox.html) });
    expect(out.status).toBe(303);
    expect(out.location).toBe('/ui/login?signed_out=1');
    const replay = browser();
    replay.jar.set('hp_session', cookie);
    expect((await replay.go('GET', '/ui/inbox')).status).toBe(303);
  });
});

describe('the inbox', () => {
  it('lists pending approvals oldest deadline first, with params, reasons, time left and votes', async () => {
    const later = await park(t, 'payment.send', { params: { amount: 5, memo: { note: 'x'.repeat(300), tags: ['a', 'b'] } }, timeout_seconds: 3000 });
    const sooner = await park(t, 'payment.send', { timeout_seconds: 120 });
    const b = await signedIn();
    const r = await b.go('GET', '/ui/inbox');
    expect(r.status).toBe(200);
    expect(r.html.indexOf(`row-${sooner.id}`)).toBeGreaterThan(0);
    expect(r.html.indexOf(`row-${sooner.id}`)).toBeLessThan(r.html.indexOf(`row-${later.id}`));
    expect(r.html).toMatch(/<li>[^<]+<span class="muted small"> \(big payments\)<\/span><\/li>/);
    expect(r.html).toContain('acct_42');
    expect(r.html).toContain('billing-bot');
    expect(r.html).toMatch(/data-expires="[^"]+">\d+ min left/);
    expect(r.html).toContain('0 / 1');
    // A long string is folded, nested objects are nested lists.
    expect(r.html).toContain('(300 characters)');
    expect(r.html).toMatch(/<dt>memo<\/dt><dd><dl class="params"><dt>note<\/dt>/);
    expect(r.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('filters by action, agent and status, and searches by idempotency key', async () => {
    const vault = await park(t, 'vault.open');
    const pay = await park(t, 'payment.send', { agent_id: 'other-bot' });
    const b = await signedIn();
    const byAction = await b.go('GET', '/ui/inbox?action=vault.open');
    expect(byAction.html).toContain(`row-${vault.id}`);
    expect(byAction.html).not.toContain(`row-${pay.id}`);
    const byAgent = await b.go('GET', '/ui/inbox?agent_id=other-bot');
    expect(byAgent.html).toContain(`row-${pay.id}`);
    expect(byAgent.html).not.toContain(`row-${vault.id}`);
    const byKey = await b.go('GET', `/ui/inbox?q=${pay.idempotency_key}`);
    expect(byKey.html).toContain(`row-${pay.id}`);
    expect(byKey.html).not.toContain(`row-${vault.id}`);
    await h.call('POST', `/v1/approvals/${pay.id}/decision`, t.approver, { decision: 'reject' });
    const rejected = await b.go('GET', '/ui/inbox?status=rejected');
    expect(rejected.html).toContain(`row-${pay.id}`);
    expect((await b.go('GET', '/ui/inbox')).html).not.toContain(`row-${pay.id}`);
  });

  it('answers a bad filter with 400 and names it', async () => {
    const b = await signedIn();
    const r = await b.go('GET', '/ui/inbox?status=bogus');
    expect(r.status).toBe(400);
    expect(r.html).toContain('The status filter is not valid');
  });

  it("never shows another tenant's approvals: list, detail, decision and fragments are 404", async () => {
    const theirs = await park(other);
    const b = await signedIn();
    expect((await b.go('GET', '/ui/inbox')).html).not.toContain(theirs.id);
    expect((await b.go('GET', `/ui/approvals/${theirs.id}`)).status).toBe(404);
    const page = await b.go('GET', '/ui/inbox');
    const post = await b.go('POST', `/ui/approvals/${theirs.id}/decision`, { _csrf: csrfOf(page.html), decision: 'approve' });
    expect(post.status).toBe(404);
    expect((await b.go('GET', `/ui/fragments/inbox-row/${theirs.id}`)).status).toBe(404);
    expect((await b.go('GET', `/ui/fragments/approval/${theirs.id}`)).status).toBe(404);
    expect((await b.go('GET', '/ui/approvals/not-a-uuid')).status).toBe(404);
    const still = await h.call('GET', `/v1/approvals/${theirs.id}`, other.agent);
    expect(still.body).toMatchObject({ status: 'pending', votes: [] });
  });
});

describe('deciding', () => {
  async function detailPage(b: ReturnType<typeof browser>, id: string) {
    const r = await b.go('GET', `/ui/approvals/${id}`);
    expect(r.status).toBe(200);
    return r;
  }

  it('approves with a reason through the service: channel web, audit event, webhook outbox', async () => {
    const a = await park(t);
    const b = await signedIn();
    const page = await detailPage(b, a.id);
    expect(page.html).toContain('Chain intact');
    const r = await b.go('POST', `/ui/approvals/${a.id}/decision`, { _csrf: csrfOf(page.html), decision: 'approve', reason: 'checked the invoice' });
    expect(r.status).toBe(303);
    expect(r.location).toBe(`/ui/approvals/${a.id}?done=approved`);
    const got = await h.call('GET', `/v1/approvals/${a.id}`, t.agent);
    expect(got.body).toMatchObject({ status: 'approved', decision_channel: 'web', decision_reason: 'checked the invoice' });
    expect(got.body.decided_by).toMatch(/^key:hp_appro/);
    const after = await b.go('GET', r.location!);
    expect(after.html).toContain('You approved this request.');
    expect(after.html).toContain('checked the invoice');
    expect(after.html).toMatch(/<strong>approved<\/strong> by key:hp_appro[^<]* <span class="muted">via web<\/span>/);
    expect(after.html).not.toContain('name="decision"');
  });

  it('rejects, and a form without its token records nothing', async () => {
    const a = await park(t);
    const b = await signedIn();
    const page = await detailPage(b, a.id);
    const forged = await b.go('POST', `/ui/approvals/${a.id}/decision`, { decision: 'approve' });
    expect(forged.status).toBe(403);
    expect(forged.html).toContain('Nothing was recorded');
    const crossSite = await b.go('POST', `/ui/approvals/${a.id}/decision`, { _csrf: csrfOf(page.html), decision: 'approve' }, { origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    expect((await h.call('GET', `/v1/approvals/${a.id}`, t.agent)).body).toMatchObject({ status: 'pending', votes: [] });
    const r = await b.go('POST', `/ui/approvals/${a.id}/decision`, { _csrf: csrfOf(page.html), decision: 'reject', reason: 'wrong account' });
    expect(r.location).toBe(`/ui/approvals/${a.id}?done=rejected`);
    expect((await h.call('GET', `/v1/approvals/${a.id}`, t.agent)).body).toMatchObject({ status: 'rejected', decision_reason: 'wrong account' });
  });

  it.each([
    ['no decision', {}, 'Choose Approve or Reject.'],
    ['an unknown decision', { decision: 'maybe' }, 'Choose Approve or Reject.'],
    ['a reason over 2,000 characters', { decision: 'approve', reason: 'r'.repeat(2001) }, 'longer than 2,000 characters'],
  ])('answers %s with 422, keeps the form, records nothing', async (_what, fields, text) => {
    const a = await park(t);
    const b = await signedIn();
    const page = await detailPage(b, a.id);
    const r = await b.go('POST', `/ui/approvals/${a.id}/decision`, { _csrf: csrfOf(page.html), ...fields } as Record<string, string>);
    expect(r.status).toBe(422);
    expect(r.html).toContain(text);
    expect(r.html).toContain('name="decision"');
    expect((await h.call('GET', `/v1/approvals/${a.id}`, t.agent)).body).toMatchObject({ status: 'pending', votes: [] });
  });

  it('a decision that lost the race says who won', async () => {
    const a = await park(t);
    const b = await signedIn();
    const page = await detailPage(b, a.id);
    await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'bob'), { decision: 'reject', reason: 'too much' });
    const r = await b.go('POST', `/ui/approvals/${a.id}/decision`, { _csrf: csrfOf(page.html), decision: 'approve' });
    expect(r.status).toBe(409);
    expect(r.html).toMatch(/Already rejected by bob \(api\) at \d{4}-\d\d-\d\d [\d:]+ UTC\. Your approve was not recorded\./);
    expect((await h.call('GET', `/v1/approvals/${a.id}`, t.agent)).body).toMatchObject({ status: 'rejected', decided_by: 'bob' });
  });

  it('quorum applies: one web approval of two leaves it pending', async () => {
    const a = await park(t, 'vault.open');
    const b = await signedIn();
    const page = await detailPage(b, a.id);
    const r = await b.go('POST', `/ui/approvals/${a.id}/decision`, { _csrf: csrfOf(page.html), decision: 'approve' });
    expect(r.location).toBe(`/ui/approvals/${a.id}?done=voted`);
    const after = await b.go('GET', r.location!);
    expect(after.html).toContain('More approvals are needed');
    expect(after.html).toContain('Approvals: 1 of 2 needed');
    expect((await h.call('GET', `/v1/approvals/${a.id}`, t.agent)).body.status).toBe('pending');
  });

  it("approver authorization applies: someone the rule does not name gets 403 and the rule's refusal", async () => {
    const a = await park(t, 'db.drop');
    const b = await signedIn();
    const page = await detailPage(b, a.id);
    const r = await b.go('POST', `/ui/approvals/${a.id}/decision`, { _csrf: csrfOf(page.html), decision: 'approve' });
    expect(r.status).toBe(403);
    expect(r.html).toContain('flash error');
    const ab = await signedIn(await h.as(t, 'alice'));
    const ok = await ab.go('POST', `/ui/approvals/${a.id}/decision`, { _csrf: csrfOf((await detailPage(ab, a.id)).html), decision: 'approve' });
    expect(ok.status).toBe(303);
    expect((await h.call('GET', `/v1/approvals/${a.id}`, t.agent)).body).toMatchObject({ status: 'approved', decided_by: 'alice', decision_channel: 'web' });
  });

  it('shows where the hash chain breaks when an event was tampered with', async () => {
    const a = await park(t);
    await h.call('POST', `/v1/approvals/${a.id}/decision`, t.approver, { decision: 'approve' });
    const b = await signedIn();
    expect((await detailPage(b, a.id)).html).toContain('Chain intact');
    const [ev] = await h.rt.sql<{ id: string }[]>`SELECT id FROM approval_events WHERE approval_id = ${a.id} ORDER BY ord LIMIT 1`;
    await h.rt.sql.begin(async (tx) => {
      await tx`ALTER TABLE approval_events DISABLE TRIGGER approval_events_append_only`;
      await tx`UPDATE approval_events SET actor = 'mallory' WHERE id = ${ev!.id}`;
      await tx`ALTER TABLE approval_events ENABLE TRIGGER approval_events_append_only`;
    });
    const r = await detailPage(b, a.id);
    expect(r.html).toContain(`Chain broken at event <code>${ev!.id}</code>`);
    expect(r.html).toContain('hash does not match the content');
  });
});

describe('history, CSV and overview', () => {
  let th: TenantKeys;
  beforeAll(async () => {
    th = await h.tenant('history-co');
    await h.setPolicy(th, POLICY);
    const a1 = await park(th, 'payment.send', { idempotency_key: '=HYPERLINK("x")' });
    const a2 = await park(th, 'vault.open', { agent_id: 'ops-bot' });
    await park(th, 'payment.send');
    await h.call('POST', `/v1/approvals/${a1.id}/decision`, await h.as(th, 'carol'), { decision: 'approve', reason: 'ok, "fine"' });
    await h.call('POST', `/v1/approvals/${a2.id}/decision`, await h.as(th, 'dave'), { decision: 'reject' });
  });

  it('history lists decided approvals with outcome, decider and time to decision, filtered', async () => {
    const b = await signedIn(th.approver);
    const r = await b.go('GET', '/ui/history');
    expect(r.status).toBe(200);
    expect(r.html).toContain('carol');
    expect(r.html).toContain('dave');
    expect(r.html).toMatch(/<td data-label="Time to decision">\d+ s<\/td>/);
    expect((r.html.match(/<tr id="row-/g) ?? []).length).toBe(2);
    const rejected = await b.go('GET', '/ui/history?status=rejected');
    expect(rejected.html).toContain('dave');
    expect(rejected.html).not.toContain('carol');
    expect(rejected.html).toContain('href="/ui/history.csv?status=rejected"');
  });

  it('exports the filtered list as CSV, quoting and defusing formulas', async () => {
    const b = await signedIn(th.approver);
    const r = await b.go('GET', '/ui/history.csv');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(r.headers.get('content-disposition')).toMatch(/^attachment; filename="holdpoint-history-\d{4}-\d\d-\d\d\.csv"$/);
    const lines = r.html.trim().split('\r\n');
    expect(lines[0]).toBe('id,idempotency_key,action,agent_id,status,decided_by,decision_channel,decision_reason,created_at,decided_at,seconds_to_decision,approvals,required_approvals');
    expect(lines).toHaveLength(3);
    const carol = lines.find((l) => l.includes('carol'))!;
    expect(carol).toContain(`"'=HYPERLINK(""x"")"`);
    expect(carol).toContain('"ok, ""fine"""');
    expect(carol).toContain(',approved,carol,api,');
    const only = await b.go('GET', '/ui/history.csv?agent_id=ops-bot');
    expect(only.html.trim().split('\r\n')).toHaveLength(2);
    expect(only.html).toContain('dave');
  });

  it('overview counts by status and action, with time to decision, as SVG charts', async () => {
    const b = await signedIn(th.approver);
    const r = await b.go('GET', '/ui/overview');
    expect(r.status).toBe(200);
    expect(r.html).toContain('aria-label="By status: pending 1, approved 1, rejected 1"');
    expect(r.html).toContain('aria-label="By action: payment.send 2, vault.open 1"');
    expect(r.html).toMatch(/<div class="stat">3<\/div>/);
    expect(r.html).toMatch(/\d+ s <span class="muted small">median<\/span>/);
    expect((r.html.match(/<svg /g) ?? []).length).toBe(6);
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

  it('streams new requests and decisions of the tenant in chain order, and resumes from Last-Event-ID', async () => {
    const tl = await h.tenant('live-co');
    await h.setPolicy(tl, POLICY);
    const first = await h.app.request('/v1/stream', { headers: { authorization: `Bearer ${tl.approver}` } });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const mine = (async () => {
      // Views are current state, so the first batch may already show `approved`: wait for the event itself.
      return readEvents(first, (evs) => evs.some((e) => e.event === 'change' && e.data.events.some((x: any) => x.type === 'approved')));
    })();
    await new Promise((r) => setTimeout(r, 200));
    const theirs = await park(other); // another tenant: must not appear
    const a = await park(tl);
    await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(tl, 'erin'), { decision: 'approve' });
    const evs = await mine;
    expect(evs[0]).toMatchObject({ event: 'ready' });
    const start = evs[0]!.id;
    const changes = evs.filter((e) => e.event === 'change');
    const all = changes.flatMap((e) => e.data.events);
    expect(all.map((e: any) => e.type)).toEqual(expect.arrayContaining(['requested', 'voted', 'approved']));
    expect(all.every((e: any) => e.approval_id === a.id)).toBe(true);
    expect(JSON.stringify(evs)).not.toContain(theirs.id);
    const seqs = all.map((e: any) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(Number(changes.at(-1)!.id)).toBe(seqs.at(-1));
    // The events carry their hashes: a client can check the chain it was sent.
    expect(verifyChain(all, { contiguous: true })).toMatchObject({ intact: true, checked: all.length });

    // A client that was gone since `start` gets exactly what it missed.
    const again = await h.app.request('/v1/stream', { headers: { authorization: `Bearer ${tl.approver}`, 'last-event-id': start } });
    const replayed = await readEvents(again, (e) => e.filter((x) => x.event === 'change').flatMap((x) => x.data.events).length >= all.length);
    expect(replayed.filter((x) => x.event === 'change').flatMap((x) => x.data.events.map((e: any) => e.id))).toEqual(all.map((e: any) => e.id));
  });

  it('sends a keep-alive comment every heartbeat while nothing happens', async () => {
    const res = await h.app.request('/v1/stream', { headers: { authorization: `Bearer ${t.approver}` } });
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/^: keep-alive$/gm) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(text).toMatch(/^event: ready\ndata: \{"seq":\d+\}\nid: \d+\nretry: 2000$/m);
  });

  it('tells a client too far ahead (or behind) to reset instead of replaying', async () => {
    const res = await h.app.request('/v1/stream', { headers: { authorization: `Bearer ${t.approver}`, 'last-event-id': '999999999' } });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(first).toMatch(/^event: reset\ndata: \{"seq":\d+\}\nid: \d+\n/);
  });

  it('is for approvers: an agent key gets 403, the inbox stream needs a session', async () => {
    expect((await h.app.request('/v1/stream', { headers: { authorization: `Bearer ${t.agent}` } })).status).toBe(403);
    expect((await h.app.request('/ui/stream')).status).toBe(401);
  });

  it('the inbox fragment for a row is 200 while it matches and 204 once it is decided', async () => {
    const a = await park(t);
    const b = await signedIn();
    const row = await b.go('GET', `/ui/fragments/inbox-row/${a.id}`);
    expect(row.status).toBe(200);
    expect(row.html).toMatch(new RegExp(`^<tr id="row-${a.id}"`));
    expect((await b.go('GET', `/ui/fragments/inbox-row/${a.id}?action=vault.open`)).status).toBe(204);
    await h.call('POST', `/v1/approvals/${a.id}/decision`, t.approver, { decision: 'approve' });
    expect((await b.go('GET', `/ui/fragments/inbox-row/${a.id}`)).status).toBe(204);
    const detail = await waitFor(async () => {
      const r = await b.go('GET', `/ui/fragments/approval/${a.id}`);
      return r.html.includes('approved') ? r : undefined;
    });
    expect(detail.html).toMatch(/^<div id="approval-live"/);
  });
});
