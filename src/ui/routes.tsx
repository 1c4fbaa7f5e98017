// The web approval inbox under /ui: server-rendered pages, a session cookie
// instead of the API key, a CSRF token on every form, and the same service
// path as Slack and the API for every decision (channel "web").
import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import type { ApprovalView } from '../approvals/render.ts';
import { STATUSES } from '../approvals/status.ts';
import { decodeCursor, encodeCursor } from '../db/cursor.ts';
import { facets, historyApprovals, inboxApprovals, windowStats, type HistoryFilter } from '../db/inbox.ts';
import { findActiveKey } from '../db/keys.ts';
import { createSession, deleteExpiredSessions, deleteSession, findSession, newToken, type SessionAuth } from '../db/sessions.ts';
import { votesFor } from '../db/approvals.ts';
import { renderApproval } from '../approvals/render.ts';
import { AppError } from '../errors.ts';
import type { AppDeps, LiveDeps } from '../api/deps.ts';
import { toAppError } from '../api/errors.ts';
import { parseLastEventId, RETRY_AFTER_SECONDS, tenantStream } from '../api/stream.ts';
import { clientAddress } from '../api/client-address.ts';
import { ownVoter } from '../identities/voter.ts';
import { getProvider } from '../db/oidc.ts';
import { createOidcClient, type OidcClient } from '../identities/oidc.ts';
import { CSS, JS } from './assets.ts';
import { InboxRow, type Viewer } from './components.tsx';
import { csvRow } from './format.ts';
import { oidcRoutes } from './oidc.tsx';
import { dashboardRoutes } from './dashboard-routes.tsx';
import { safeNext, SESSION_COOKIE, TENANT_COOKIE, UUID, type UiEnv } from './session.ts';
import { DetailLive, DetailPage, ErrorPage, HistoryPage, InboxPage, LoginPage, OverviewPage, type Filters, type SingleSignOn } from './pages.tsx';

const LOGIN_COOKIE = 'hp_login';
const HISTORY_PAGE = 50;
const CSV_MAX_ROWS = 100_000;

const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .optional()
    .transform((s) => (s ? s : undefined));
const FilterQuery = z.object({
  status: z
    .union([z.enum(STATUSES), z.literal('')])
    .optional()
    .transform((s) => (s ? s : undefined)),
  action: text(200),
  agent_id: text(200),
  q: text(200),
  before: text(200),
});
const LoginForm = z.object({
  key: z.string().trim().min(1, 'Enter an API key.').max(200, 'That is not a Holdpoint API key.'),
  _csrf: z.string().min(1),
  next: z.string().max(500).optional(),
});
const DecisionForm = z.object({
  _csrf: z.string().min(1),
  decision: z.enum(['approve', 'reject'], { message: 'Choose Approve or Reject.' }),
  reason: z.string().max(2000, 'The reason is longer than 2,000 characters.').optional(),
});

const sameToken = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

function viewerOf(s: SessionAuth): Viewer {
  return { tenant_name: s.tenant_name, identity: s.approver ?? `key:${s.key_prefix}`, role: s.method === 'oidc' ? `${s.role}, single sign-on` : s.role, csrf: s.csrf_token };
}

/**
 * Whose vote a web decision is. A provider session is its approver, full stop
 * (that is what the provider vouched for); a key session keeps the API's rule
 * (the key's bound approver, else key:<prefix>).
 */
function voterOf(s: SessionAuth): string {
  if (s.method === 'oidc') return s.approver!;
  return ownVoter({ approver: s.approver, key_prefix: s.key_prefix! }).approver;
}

function filtersOf(q: z.infer<typeof FilterQuery>): Filters {
  return { status: q.status, action: q.action, agent_id: q.agent_id, q: q.q };
}

function matches(a: ApprovalView, f: Filters): boolean {
  return (
    a.status === (f.status ?? 'pending') &&
    (!f.action || a.action === f.action) &&
    (!f.agent_id || a.agent_id === f.agent_id) &&
    (!f.q || a.idempotency_key.startsWith(f.q))
  );
}

function queryString(f: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export function uiRoutes(deps: AppDeps & LiveDeps & { sessionTtlMs: number; publicUrl?: string | undefined; oidc?: OidcClient }) {
  const ui = new Hono<UiEnv>();
  const { sql, service, clock } = deps;
  const oidc = deps.oidc ?? createOidcClient({ secrets: deps.secrets });

  const secure = (c: Context) =>
    new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https' || Boolean(deps.publicUrl?.startsWith('https:'));

  const cookieOpts = (c: Context, maxAge?: number) => ({ path: '/ui', httpOnly: true, secure: secure(c), sameSite: 'Strict' as const, ...(maxAge ? { maxAge } : {}) });

  /** A form post must come from our own pages: same origin (when the browser says) and the session's token. */
  function sameOrigin(c: Context): boolean {
    const origin = c.req.header('origin');
    if (!origin || origin === 'null') return origin === undefined;
    const host = c.req.header('x-forwarded-host') ?? c.req.header('host') ?? new URL(c.req.url).host;
    try {
      return new URL(origin).host === host || (deps.publicUrl !== undefined && new URL(origin).host === new URL(deps.publicUrl).host);
    } catch {
      return false;
    }
  }

  async function form(c: Context): Promise<Record<string, string>> {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/x-www-form-urlencoded|^multipart\/form-data/i.test(type)) return {};
    const body = await c.req.parseBody();
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v;
    return out;
  }

  const page = (c: Context, status: number, html: unknown) => {
    c.status(status as 200);
    return c.html(html as string);
  };

  ui.onError((err, c) => {
    const e = toAppError(err);
    const session = c.get('session') as SessionAuth | undefined;
    const viewer = session ? viewerOf(session) : undefined;
    if (!e) {
      deps.log.error('inbox page failed', { err, path: c.req.path });
      return page(c, 500, <ErrorPage viewer={viewer} title="Something went wrong" message="The page could not be built. Try again; if it keeps failing, check the server's log." />);
    }
    const title = e.status === 404 ? 'Not found' : e.status === 503 ? 'Temporarily unavailable' : 'That did not work';
    return page(c, e.status, <ErrorPage viewer={viewer} title={title} message={e.message} />);
  });

  ui.use('/ui/*', async (c, next) => {
    await next();
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'same-origin');
    c.header('x-frame-options', 'DENY');
    c.header(
      'content-security-policy',
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    if (!c.res.headers.has('cache-control')) c.header('cache-control', 'no-store');
  });

  ui.get('/ui/assets/app.css', (c) => c.body(CSS, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=300' }));
  ui.get('/ui/assets/app.js', (c) => c.body(JS, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=300' }));
  ui.get('/ui', (c) => c.redirect('/ui/inbox', 302));
  ui.get('/ui/', (c) => c.redirect('/ui/inbox', 302));

  // --- signing in and out --------------------------------------------------

  async function currentSession(c: Context): Promise<SessionAuth | undefined> {
    const token = getCookie(c, SESSION_COOKIE);
    if (!token || token.length > 100) return undefined;
    return findSession(sql, token, clock());
  }

  /** The tenant's single sign-on for the sign-in page: ?tenant=<id>, else the tenant this browser last signed in to that way. */
  async function singleSignOn(c: Context): Promise<{ sso?: SingleSignOn; notice?: string }> {
    const asked = c.req.query('tenant');
    const tenant = asked ?? getCookie(c, TENANT_COOKIE);
    if (!tenant) return {};
    const missing = asked ? { notice: 'Single sign-on is not set up for this tenant. Sign in with an API key.' } : {};
    if (!UUID.test(tenant)) return missing;
    const p = await getProvider(sql, tenant);
    if (!p) return missing;
    if (!deps.publicUrl) {
      deps.log.warn('single sign-on is configured but HOLDPOINT_PUBLIC_URL is not set, so there is no redirect URI', { tenant_id: tenant });
      return asked ? { notice: 'Single sign-on needs the server to know its public address (HOLDPOINT_PUBLIC_URL). Sign in with an API key.' } : {};
    }
    const [t] = await sql<{ name: string }[]>`SELECT name FROM tenants WHERE id = ${tenant}`;
    return { sso: { tenant_id: tenant, tenant_name: t?.name ?? '', display_name: p.display_name } };
  }

  const loginForm = async (c: Context, status: number, opts: { next?: string | undefined; error?: string; notice?: string }) => {
    const csrf = newToken();
    setCookie(c, LOGIN_COOKIE, csrf, cookieOpts(c, 3600));
    const { sso, notice } = await singleSignOn(c);
    return page(c, status, <LoginPage csrf={csrf} next={opts.next} error={opts.error} notice={opts.notice ?? notice} sso={sso} />);
  };

  ui.get('/ui/login', async (c) => {
    if (await currentSession(c)) return c.redirect('/ui/inbox', 303);
    const next = c.req.query('next');
    return loginForm(c, 200, { next: next ? safeNext(next) : undefined, ...(c.req.query('signed_out') ? { notice: 'You are signed out.' } : {}) });
  });

  oidcRoutes(ui, { ...deps, oidc, page, cookieOpts, secure });

  ui.post('/ui/login', async (c) => {
    // Every attempt counts, before any key is looked up (HOLDPOINT_SIGNIN_RATE_LIMIT per address).
    const verdict = await deps.addresses.hit('signin', clientAddress(c, deps.trustedProxyHops));
    if (!verdict.ok) {
      c.header('retry-after', String(verdict.retryAfterSeconds));
      return loginForm(c, 429, { error: `Too many sign-in attempts from your network. Try again in ${verdict.retryAfterSeconds} seconds.` });
    }
    const parsed = LoginForm.safeParse(await form(c));
    const cookie = getCookie(c, LOGIN_COOKIE);
    if (!parsed.success) {
      const keyIssue = parsed.error.issues.find((i) => i.path[0] === 'key');
      if (keyIssue) return loginForm(c, 422, { error: keyIssue.message });
      return loginForm(c, 403, { error: 'The sign-in form expired. Please try again.' });
    }
    const next = parsed.data.next ? safeNext(parsed.data.next) : undefined;
    if (!cookie || !sameToken(cookie, parsed.data._csrf) || !sameOrigin(c)) {
      return loginForm(c, 403, { next, error: 'The sign-in form expired. Please try again.' });
    }
    const key = await findActiveKey(sql, parsed.data.key);
    if (!key) return loginForm(c, 401, { next, error: 'That key is unknown or revoked.' });
    if (key.role === 'agent') return loginForm(c, 403, { next, error: 'Agent keys cannot sign in here. Use an approver or admin key.' });
    const now = clock();
    const s = await sql.begin(async (tx) => {
      await deleteExpiredSessions(tx, now);
      return createSession(tx, { tenant_id: key.tenant_id, key_id: key.id, now, ttlMs: deps.sessionTtlMs });
    });
    deleteCookie(c, LOGIN_COOKIE, { path: '/ui' });
    setCookie(c, SESSION_COOKIE, s.token, cookieOpts(c, Math.floor(deps.sessionTtlMs / 1000)));
    deps.log.info('inbox sign-in', { tenant_id: key.tenant_id, key_prefix: key.prefix, role: key.role });
    return c.redirect(next ?? '/ui/inbox', 303);
  });

  /** Pages redirect to sign-in; fragments and the stream answer 401. */
  const requireSession =
    (kind: 'page' | 'data'): MiddlewareHandler<UiEnv> =>
    async (c, next) => {
      const s = await currentSession(c);
      if (!s) {
        if (getCookie(c, SESSION_COOKIE)) deleteCookie(c, SESSION_COOKIE, { path: '/ui' });
        if (kind === 'data' || c.req.method !== 'GET') return c.text('not signed in', 401);
        return c.redirect(`/ui/login?next=${encodeURIComponent(c.req.path + (new URL(c.req.url).search || ''))}`, 303);
      }
      c.set('session', s);
      await next();
    };

  /** Every form post carries the session's CSRF token. */
  const csrfOk = (c: Context<UiEnv>, token: unknown) => typeof token === 'string' && sameToken(token, c.get('session').csrf_token) && sameOrigin(c);

  ui.post('/ui/logout', requireSession('page'), async (c) => {
    const body = await form(c);
    if (!csrfOk(c, body._csrf)) return page(c, 403, <ErrorPage viewer={viewerOf(c.get('session'))} title="Not signed out" message="The form expired. Reload the page and try again." />);
    await deleteSession(sql, getCookie(c, SESSION_COOKIE)!);
    deleteCookie(c, SESSION_COOKIE, { path: '/ui' });
    return c.redirect('/ui/login?signed_out=1', 303);
  });

  // --- the pages -------------------------------------------------------------

  async function views(rows: Parameters<typeof renderApproval>[0][]): Promise<ApprovalView[]> {
    const votes = await votesFor(sql, rows.map((r) => (r as { id: string }).id));
    return rows.map((r) => renderApproval(r, votes.get((r as { id: string }).id) ?? []));
  }

  function badFilter(c: Context<UiEnv>, error: z.ZodError) {
    const field = String(error.issues[0]?.path[0] ?? 'filter');
    return page(c, 400, <ErrorPage viewer={viewerOf(c.get('session'))} title="Bad filter" message={`The ${field} filter is not valid: ${error.issues[0]?.message ?? ''}`} />);
  }

  ui.get('/ui/inbox', requireSession('page'), async (c) => {
    const q = FilterQuery.safeParse(c.req.query());
    if (!q.success) return badFilter(c, q.error);
    const s = c.get('session');
    const f = filtersOf(q.data);
    const [rows, fc] = await Promise.all([inboxApprovals(sql, s.tenant_id, f, 200), facets(sql, s.tenant_id)]);
    return c.html(<InboxPage viewer={viewerOf(s)} rows={await views(rows)} f={f} facets={fc} now={clock()} />);
  });

  async function detail(s: SessionAuth, id: string) {
    if (!UUID.test(id)) throw new AppError('not_found', `approval ${id} not found`);
    const a = await service.get(s.tenant_id, id);
    const trail = await service.events(s.tenant_id, id);
    return { a, events: trail.events, chain: trail.chain };
  }

  const DONE: Record<string, string> = {
    approved: 'You approved this request.',
    rejected: 'You rejected this request.',
    voted: 'Your approval is recorded. More approvals are needed before it runs.',
  };

  ui.get('/ui/approvals/:id', requireSession('page'), async (c) => {
    const s = c.get('session');
    const d = await detail(s, c.req.param('id'));
    const done = DONE[c.req.query('done') ?? ''];
    return c.html(<DetailPage viewer={viewerOf(s)} {...d} now={clock()} flash={done ? { kind: 'ok', text: done } : undefined} />);
  });

  ui.post('/ui/approvals/:id/decision', requireSession('page'), async (c) => {
    const s = c.get('session');
    const id = c.req.param('id');
    const body = await form(c);
    const again = async (status: number, text: string, kind: 'error' | 'ok' = 'error') => {
      const d = await detail(s, id);
      return page(c, status, <DetailPage viewer={viewerOf(s)} {...d} now={clock()} flash={{ kind, text }} reason={body.reason} />);
    };
    if (!csrfOk(c, body._csrf)) return again(403, 'The form expired (or came from another site). Nothing was recorded; please decide again.');
    const parsed = DecisionForm.safeParse(body);
    if (!parsed.success) return again(422, parsed.error.issues[0]?.message ?? 'The form is not valid.');
    if (!UUID.test(id)) throw new AppError('not_found', `approval ${id} not found`);
    const { decision, reason } = parsed.data;
    try {
      const a = await service.decide(s.tenant_id, id, { decision, reason: reason?.trim() || undefined, approver: voterOf(s), channel: 'web' });
      const done = a.status === 'pending' ? 'voted' : a.status === 'rejected' ? 'rejected' : 'approved';
      return c.redirect(`/ui/approvals/${id}?done=${done}`, 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'already_decided' || err.code === 'invalid_state') {
        const current = (err.details as { approval?: ApprovalView } | undefined)?.approval;
        const who = current?.decided_by ? ` by ${current.decided_by}${current.decision_channel ? ` (${current.decision_channel})` : ''}` : '';
        const when = current?.decided_at ? ` at ${current.decided_at.replace('T', ' ').slice(0, 19)} UTC` : '';
        return again(409, `Already ${current?.status ?? 'decided'}${who}${when}. Your ${decision} was not recorded.`);
      }
      if (err.code === 'self_approval' || err.code === 'not_an_approver' || err.code === 'forbidden') return again(403, err.message);
      throw err;
    }
  });

  ui.get('/ui/history', requireSession('page'), async (c) => {
    const q = FilterQuery.safeParse(c.req.query());
    if (!q.success) return badFilter(c, q.error);
    const s = c.get('session');
    const f: HistoryFilter = { ...filtersOf(q.data), before: q.data.before ? toDecided(decodeCursor(q.data.before)) : undefined };
    const [rows, fc] = await Promise.all([historyApprovals(sql, s.tenant_id, f, HISTORY_PAGE + 1), facets(sql, s.tenant_id)]);
    const shown = await views(rows.slice(0, HISTORY_PAGE));
    const last = rows.length > HISTORY_PAGE ? rows[HISTORY_PAGE - 1] : undefined;
    const base = { status: f.status, action: f.action, agent_id: f.agent_id, q: f.q };
    const next = last?.decided_at ? `/ui/history${queryString({ ...base, before: encodeCursor({ created_at: last.decided_at, id: last.id }) })}` : null;
    return c.html(<HistoryPage viewer={viewerOf(s)} rows={shown} f={f} facets={fc} csv={`/ui/history.csv${queryString(base)}`} next={next} />);
  });

  ui.get('/ui/history.csv', requireSession('page'), async (c) => {
    const q = FilterQuery.safeParse(c.req.query());
    if (!q.success) return badFilter(c, q.error);
    const s = c.get('session');
    const f: HistoryFilter = filtersOf(q.data);
    const chunks: string[] = [
      csvRow(['id', 'idempotency_key', 'action', 'agent_id', 'status', 'decided_by', 'decision_channel', 'decision_reason', 'created_at', 'decided_at', 'seconds_to_decision', 'approvals', 'required_approvals']),
    ];
    let rowsOut = 0;
    for (;;) {
      const rows = await historyApprovals(sql, s.tenant_id, f, 1_000);
      for (const a of await views(rows)) {
        const secs = a.decided_at ? (new Date(a.decided_at).getTime() - new Date(a.created_at).getTime()) / 1000 : null;
        const approvals = a.votes.filter((v) => v.vote === 'approve').length;
        chunks.push(csvRow([a.id, a.idempotency_key, a.action, a.agent_id, a.status, a.decided_by, a.decision_channel, a.decision_reason, a.created_at, a.decided_at, secs, approvals, a.required_approvals]));
      }
      rowsOut += rows.length;
      const last = rows[rows.length - 1];
      if (rows.length < 1_000 || !last?.decided_at || rowsOut >= CSV_MAX_ROWS) break;
      f.before = { decided_at: last.decided_at, id: last.id };
    }
    const day = clock().toISOString().slice(0, 10);
    return c.body(chunks.join(''), 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="holdpoint-history-${day}.csv"`,
    });
  });

  ui.get('/ui/overview', requireSession('page'), async (c) => {
    const s = c.get('session');
    const now = clock().getTime();
    const [day, week] = await Promise.all([windowStats(sql, s.tenant_id, new Date(now - 86_400_000)), windowStats(sql, s.tenant_id, new Date(now - 7 * 86_400_000))]);
    return c.html(<OverviewPage viewer={viewerOf(s)} day={day} week={week} />);
  });

  dashboardRoutes(ui, { ...deps, requireSession, viewerOf });

  // --- live updates ----------------------------------------------------------

  ui.get('/ui/stream', requireSession('data'), (c) => {
    const s = c.get('session');
    // Capped per key, or per person for a provider session, like /v1/stream.
    const release = deps.limits.acquire('stream', s.key_id ? `key:${s.key_id}` : `approver:${s.tenant_id}:${s.approver}`);
    if (!release) return c.text('too many live feeds open for this sign-in; close a tab or retry later', 429, { 'retry-after': String(RETRY_AFTER_SECONDS) });
    const token = getCookie(c, SESSION_COOKIE)!;
    return tenantStream(c, deps, {
      tenantId: s.tenant_id,
      lastEventId: parseLastEventId(c.req.header('last-event-id')),
      // Signed out, expired, its key revoked or its approver removed: the stream ends within a heartbeat.
      stillValid: async () => (await findSession(sql, token, clock())) !== undefined,
      release,
    });
  });

  /** One inbox row for the live script: 200 with the row, 204 when it no longer belongs (filtered out, decided). */
  ui.get('/ui/fragments/inbox-row/:id', requireSession('data'), async (c) => {
    const q = FilterQuery.safeParse(c.req.query());
    if (!q.success) return c.text(q.error.issues[0]?.message ?? 'bad filter', 400);
    const id = c.req.param('id');
    if (!UUID.test(id)) return c.text('not found', 404);
    const a = await service.get(c.get('session').tenant_id, id);
    if (!matches(a, filtersOf(q.data))) return c.body(null, 204);
    return c.html(<InboxRow a={a} now={clock()} />);
  });

  ui.get('/ui/fragments/approval/:id', requireSession('data'), async (c) => {
    const s = c.get('session');
    const d = await detail(s, c.req.param('id'));
    return c.html(<DetailLive {...d} viewer={viewerOf(s)} now={clock()} />);
  });

  return ui;
}

const toDecided = (p: { created_at: Date; id: string }) => ({ decided_at: p.created_at, id: p.id });
