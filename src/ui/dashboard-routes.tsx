// The evaluation dashboard under /ui/dashboard: the page, the fragments its
// script swaps in, and its live feed. Registered by uiRoutes with the inbox's
// session check, so it is for the tenant's signed-in approvers and admins, and
// served under the inbox's CSP and headers.
import type { Hono, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { AppDeps, LiveDeps } from '../api/deps.ts';
import { RETRY_AFTER_SECONDS } from '../api/stream.ts';
import { decisionsByIds } from '../db/dashboard.ts';
import { findSession, type SessionAuth } from '../db/sessions.ts';
import { createDecisionHub } from '../services/decision-feed.ts';
import type { Viewer } from './components.tsx';
import { DashboardPage, FeedRowView, Summary } from './dashboard.tsx';
import { loadDashboard, PeriodQuery } from './dashboard-data.ts';
import { decisionStream } from './dashboard-stream.ts';
import { ErrorPage } from './pages.tsx';
import { SESSION_COOKIE, UUID, type UiEnv } from './session.ts';

/** The most rows one fragment request renders (the stream sends batches of up to 150 ids; the script asks in slices). */
const MAX_IDS = 50;

export function dashboardRoutes(
  ui: Hono<UiEnv>,
  deps: AppDeps &
    LiveDeps & {
      requireSession: (kind: 'page' | 'data') => MiddlewareHandler<UiEnv>;
      viewerOf: (s: SessionAuth) => Viewer;
    },
) {
  const { sql, clock, requireSession, viewerOf } = deps;
  // One LISTEN and one reader per tenant for every dashboard this process serves.
  const hub = createDecisionHub({ sql, notifier: deps.notifier, log: deps.log, heartbeatMs: deps.config.HOLDPOINT_STREAM_HEARTBEAT_MS, clock });

  ui.get('/ui/dashboard', requireSession('page'), async (c) => {
    const s = c.get('session');
    const q = PeriodQuery.safeParse(c.req.query());
    if (!q.success) {
      c.status(400);
      return c.html(<ErrorPage viewer={viewerOf(s)} title="Bad period" message="The period is one of 1h, 24h or 7d." />);
    }
    const d = await loadDashboard(deps, s.tenant_id, q.data.period, clock());
    return c.html(<DashboardPage viewer={viewerOf(s)} d={d} />);
  });

  /** The panels that change as decisions arrive (stats, chart, gauges, reasons), for the script to swap in. */
  ui.get('/ui/fragments/dashboard-summary', requireSession('data'), async (c) => {
    const q = PeriodQuery.safeParse(c.req.query());
    if (!q.success) return c.text('the period is one of 1h, 24h or 7d', 400);
    const d = await loadDashboard(deps, c.get('session').tenant_id, q.data.period, clock());
    return c.html(<Summary d={d} />);
  });

  /** Feed rows for the ids the stream announced; ids of other tenants find nothing. */
  ui.get('/ui/fragments/decisions', requireSession('data'), async (c) => {
    const ids = (c.req.query('ids') ?? '').split(',').filter(Boolean);
    if (ids.length === 0 || ids.length > MAX_IDS || !ids.every((id) => UUID.test(id))) return c.text(`ids: 1 to ${MAX_IDS} decision ids, comma-separated`, 400);
    const rows = await decisionsByIds(sql, c.get('session').tenant_id, ids);
    return c.html(
      <>
        {rows.map((d) => (
          <FeedRowView d={d} />
        ))}
      </>,
    );
  });

  ui.get('/ui/dashboard/stream', requireSession('data'), (c) => {
    const s = c.get('session');
    // The same per-sign-in cap as the inbox's stream: a dashboard tab takes one of its slots.
    const release = deps.limits.acquire('stream', s.key_id ? `key:${s.key_id}` : `approver:${s.tenant_id}:${s.approver}`);
    if (!release) return c.text('too many live feeds open for this sign-in; close a tab or retry later', 429, { 'retry-after': String(RETRY_AFTER_SECONDS) });
    const token = getCookie(c, SESSION_COOKIE)!;
    return decisionStream(c, { sql, hub, log: deps.log, config: deps.config }, {
      tenantId: s.tenant_id,
      lastEventId: c.req.header('last-event-id'),
      stillValid: async () => (await findSession(sql, token, clock())) !== undefined,
      release,
    });
  });
}
