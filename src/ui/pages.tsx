// The inbox's pages. Each takes what it shows and the clock's `now`; the
// routes in routes.tsx do the reading, deciding and writing.
import type { FC } from 'hono/jsx';
import type { ApprovalView } from '../approvals/render.ts';
import { STATUSES, type Status } from '../approvals/status.ts';
import type { ChainCheck, ChainEvent } from '../approvals/chain.ts';
import type { WindowStats } from '../db/inbox.ts';
import { approvalsSoFar, Badge, Chart, Countdown, Flash, InboxRow, Layout, Reasons, seconds, Value, When, type Viewer } from './components.tsx';

export interface Filters {
  status?: Status | undefined;
  action?: string | undefined;
  agent_id?: string | undefined;
  q?: string | undefined;
}

/** A tenant's identity provider, as the sign-in page offers it. */
export interface SingleSignOn {
  tenant_id: string;
  tenant_name: string;
  display_name: string;
}

export const LoginPage: FC<{ csrf: string; next?: string | undefined; error?: string | undefined; notice?: string | undefined; sso?: SingleSignOn | undefined }> = (p) => (
  <Layout title="Sign in">
    <section class="login card" aria-labelledby="signin">
      <h1 id="signin">Sign in to the approval inbox{p.sso?.tenant_name ? ` of ${p.sso.tenant_name}` : ''}</h1>
      {p.error && <Flash kind="error">{p.error}</Flash>}
      {p.notice && <Flash kind="ok">{p.notice}</Flash>}
      {p.sso && (
        <>
          <p>
            <a class="button sso" id="sso" href={`/ui/oidc/start?tenant=${encodeURIComponent(p.sso.tenant_id)}${p.next ? `&next=${encodeURIComponent(p.next)}` : ''}`}>
              Sign in with {p.sso.display_name}
            </a>
          </p>
          <p class="muted small">Or with an API key:</p>
        </>
      )}
      <form method="post" action={p.sso ? `/ui/login?tenant=${encodeURIComponent(p.sso.tenant_id)}` : '/ui/login'}>
        <input type="hidden" name="_csrf" value={p.csrf} />
        {p.next && <input type="hidden" name="next" value={p.next} />}
        <p>
          <label for="key">Approver or admin API key</label>
          <br />
          <input id="key" name="key" type="password" autocomplete="off" required autofocus={!p.sso} spellcheck={false} placeholder="hp_approver_…" />
        </p>
        <p class="muted small">The key is checked once and never stored in your browser: you get a session cookie instead.</p>
        <button type="submit">Sign in</button>
      </form>
    </section>
  </Layout>
);

/**
 * After the provider's redirect: the session cookie is SameSite=Strict, and a
 * browser withholds Strict cookies on a redirect chain that began at another
 * site, so a 303 from here would land signed out. A page of our own that moves
 * on (meta refresh, no script needed) starts a same-site navigation instead.
 */
export const SignedInPage: FC<{ next: string; who: string }> = (p) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta http-equiv="refresh" content={`0;url=${p.next}`} />
      <title>Signed in · Holdpoint</title>
      <link rel="stylesheet" href="/ui/assets/app.css" />
    </head>
    <body>
      <main id="main">
        <p class="flash ok" role="status">
          Signed in as <strong>{p.who}</strong>. <a href={p.next}>Continue to the inbox</a>
        </p>
      </main>
    </body>
  </html>
);

/** A sign-in at the provider that did not open a session, and why. */
export const SignInRefusedPage: FC<{ title: string; message: string; tenant?: string | undefined }> = (p) => (
  <Layout title={p.title}>
    <section class="login card" aria-labelledby="refused">
      <h1 id="refused">{p.title}</h1>
      <Flash kind="error">{p.message}</Flash>
      <p>Nobody was signed in.</p>
      <p>
        <a href={p.tenant ? `/ui/login?tenant=${encodeURIComponent(p.tenant)}` : '/ui/login'}>Back to sign-in</a>
      </p>
    </section>
  </Layout>
);

export const ErrorPage: FC<{ viewer?: Viewer | undefined; title: string; message: string }> = (p) => (
  <Layout title={p.title} viewer={p.viewer}>
    <h1>{p.title}</h1>
    <Flash kind="error">{p.message}</Flash>
    <p>
      <a href="/ui/inbox">Back to the inbox</a>
    </p>
  </Layout>
);

/** A filter's dropdown: "any", the values seen lately, and the current one even if it is not among them. */
const Choice: FC<{ label: string; name: string; values: string[]; current: string | undefined }> = (p) => (
  <label>
    {p.label}
    <select name={p.name}>
      <option value="">any</option>
      {[...new Set([...p.values, ...(p.current ? [p.current] : [])])].map((v) => (
        <option value={v} selected={v === p.current}>
          {v}
        </option>
      ))}
    </select>
  </label>
);

const FilterForm: FC<{ action: string; f: Filters; facets: { actions: string[]; agents: string[] }; statuses: readonly string[]; anyStatus?: boolean }> = (p) => (
  <form class="filters" method="get" action={p.action} role="search" aria-label="Filter">
    <Choice label="Action" name="action" values={p.facets.actions} current={p.f.action} />
    <Choice label="Agent" name="agent_id" values={p.facets.agents} current={p.f.agent_id} />
    <label>
      Status
      <select name="status">
        {p.anyStatus && <option value="">any</option>}
        {p.statuses.map((s) => (
          <option value={s} selected={s === (p.f.status ?? (p.anyStatus ? '' : 'pending'))}>
            {s}
          </option>
        ))}
      </select>
    </label>
    <label>
      Idempotency key
      <input type="search" name="q" value={p.f.q ?? ''} placeholder="starts with…" />
    </label>
    <button type="submit">Filter</button>
  </form>
);

export const InboxPage: FC<{ viewer: Viewer; rows: ApprovalView[]; f: Filters; facets: { actions: string[]; agents: string[] }; now: Date; error?: string | undefined }> = (p) => (
  <Layout title="Inbox" viewer={p.viewer} page="inbox" nav="inbox">
    <h1>
      {p.f.status && p.f.status !== 'pending' ? `Approvals: ${p.f.status}` : 'Waiting for a decision'} (<span id="inbox-count">{p.rows.length}</span>)
    </h1>
    {p.error && <Flash kind="error">{p.error}</Flash>}
    <FilterForm action="/ui/inbox" f={p.f} facets={p.facets} statuses={STATUSES} />
    <table class="list" id="inbox">
      <caption class="skip">{p.f.status === 'pending' || !p.f.status ? 'Pending approvals, oldest deadline first' : 'Approvals, newest first'}</caption>
      <thead>
        <tr>
          <th scope="col">Action</th>
          <th scope="col">Agent</th>
          <th scope="col">Params</th>
          <th scope="col">Why</th>
          <th scope="col">Time left</th>
          <th scope="col">Votes</th>
        </tr>
      </thead>
      <tbody>
        {p.rows.map((a) => (
          <InboxRow a={a} now={p.now} />
        ))}
      </tbody>
    </table>
    <p id="inbox-empty" class="muted" hidden={p.rows.length > 0}>
      Nothing is waiting. New requests appear here as they arrive.
    </p>
  </Layout>
);

const outcomeText = (a: ApprovalView) => {
  if (a.status === 'pending') return null;
  const verb = a.decided_by === 'system' && a.decision_channel === 'timeout' ? `${a.status} by its deadline` : `${a.status}${a.decided_by ? ` by ${a.decided_by}` : ''}`;
  return a.decision_channel && a.decision_channel !== 'timeout' ? `${verb} (${a.decision_channel})` : verb;
};

export const DecisionForm: FC<{ a: ApprovalView; csrf: string; reason?: string | undefined }> = (p) => (
  <form class="decide" method="post" action={`/ui/approvals/${p.a.id}/decision`}>
    <input type="hidden" name="_csrf" value={p.csrf} />
    <label for="reason">Reason (optional; shown to the agent and on the audit trail)</label>
    <textarea id="reason" name="reason" maxlength={2000}>
      {p.reason ?? ''}
    </textarea>
    <div class="actions">
      <button class="approve" type="submit" name="decision" value="approve">
        Approve
      </button>
      <button class="reject" type="submit" name="decision" value="reject">
        Reject
      </button>
    </div>
  </form>
);

const reasonOf = (e: ChainEvent): string | null => {
  const r = (e.data as { reason?: unknown } | null)?.reason;
  return typeof r === 'string' && r ? r : null;
};

export const AuditTrail: FC<{ events: ChainEvent[]; chain: ChainCheck }> = (p) => (
  <section class="card" aria-labelledby="audit">
    <h2 id="audit">Audit trail</h2>
    {p.chain.intact ? (
      <p class="chain ok" id="chain-status">
        ✓ Chain intact: {p.chain.checked} event{p.chain.checked === 1 ? '' : 's'} verified
        {p.chain.unchained ? `, ${p.chain.unchained} not linked yet` : ''}
      </p>
    ) : (
      <p class="chain broken" id="chain-status" role="alert">
        ✗ Chain broken at event <code>{p.chain.broken_at}</code>: {p.chain.why}
      </p>
    )}
    <ol class="audit">
      {p.events.map((e) => (
        <li id={`event-${e.id}`}>
          <strong>{e.type}</strong> by {e.actor} <span class="muted">via {e.channel}</span> · <When at={e.created_at} />
          {e.seq !== null && <span class="muted small"> · #{e.seq}</span>}
          {reasonOf(e) && <div class="small">Reason: {reasonOf(e)}</div>}
        </li>
      ))}
    </ol>
  </section>
);

/** The part of the detail page that live updates replace. */
export const DetailLive: FC<{ a: ApprovalView; viewer: Viewer; events: ChainEvent[]; chain: ChainCheck; now: Date; reason?: string | undefined }> = ({ a, viewer, events, chain, now, reason }) => (
  <div id="approval-live" class="grid2">
    <div>
      <section class="card" aria-labelledby="status">
        <h2 id="status">
          Status: <Badge status={a.status} />
        </h2>
        {a.status === 'pending' ? (
          <p>
            <Countdown expiresAt={a.expires_at} now={now} /> · deadline <When at={a.expires_at} /> · then {a.on_timeout === 'approve' ? 'approved' : 'rejected'} automatically
          </p>
        ) : (
          <p id="outcome">
            <strong>{outcomeText(a)}</strong> at <When at={a.decided_at} />
            {a.decision_reason && (
              <>
                <br />
                Reason: {a.decision_reason}
              </>
            )}
          </p>
        )}
        <p>
          Approvals: {approvalsSoFar(a)} of {a.required_approvals} needed
        </p>
        {a.votes.length > 0 && (
          <ul>
            {a.votes.map((v) => (
              <li>
                {v.approver} voted <strong>{v.vote}</strong> via {v.channel} at <When at={v.created_at} />
                {v.reason ? ` — ${v.reason}` : ''}
              </li>
            ))}
          </ul>
        )}
        {a.status === 'pending' && <DecisionForm a={a} csrf={viewer.csrf} reason={reason} />}
      </section>
    </div>
    <div>
      <AuditTrail events={events} chain={chain} />
    </div>
  </div>
);

export const DetailPage: FC<{ viewer: Viewer; a: ApprovalView; events: ChainEvent[]; chain: ChainCheck; now: Date; flash?: { kind: 'error' | 'ok'; text: string } | undefined; reason?: string | undefined }> = (p) => (
  <Layout title={p.a.action} viewer={p.viewer} page="detail" id={p.a.id}>
    <p>
      <a href="/ui/inbox">← Inbox</a>
    </p>
    <h1>
      {p.a.action} <span class="muted">from {p.a.agent_id}</span>
    </h1>
    {p.flash && <Flash kind={p.flash.kind}>{p.flash.text}</Flash>}
    <DetailLive a={p.a} viewer={p.viewer} events={p.events} chain={p.chain} now={p.now} reason={p.reason} />
    <section class="card" aria-labelledby="request">
      <h2 id="request">The request</h2>
      <dl class="params">
        <dt>Approval id</dt>
        <dd>
          <code>{p.a.id}</code>
        </dd>
        <dt>Idempotency key</dt>
        <dd>
          <code>{p.a.idempotency_key}</code>
        </dd>
        <dt>Requested</dt>
        <dd>
          <When at={p.a.created_at} />
        </dd>
        <dt>Why it needs approval</dt>
        <dd>
          <Reasons reasons={p.a.reasons} />
        </dd>
        <dt>Params</dt>
        <dd>
          <Value value={p.a.params} />
        </dd>
        <dt>Context</dt>
        <dd>
          <Value value={p.a.context} />
        </dd>
        <dt>Policy version</dt>
        <dd>{p.a.policy_version ?? '—'}</dd>
        {p.a.result !== null && p.a.result !== undefined && (
          <>
            <dt>Result</dt>
            <dd>
              <Value value={p.a.result} />
            </dd>
          </>
        )}
        {p.a.error !== null && p.a.error !== undefined && (
          <>
            <dt>Error</dt>
            <dd>
              <Value value={p.a.error} />
            </dd>
          </>
        )}
      </dl>
    </section>
  </Layout>
);

const DECIDED = STATUSES.filter((s) => s !== 'pending');

export const HistoryPage: FC<{ viewer: Viewer; rows: ApprovalView[]; f: Filters; facets: { actions: string[]; agents: string[] }; csv: string; next: string | null }> = (p) => (
  <Layout title="History" viewer={p.viewer} page="history" nav="history">
    <h1>Decided approvals</h1>
    <p id="stale" class="flash" hidden>
      New decisions have arrived. <a href="">Reload</a> to see them.
    </p>
    <FilterForm action="/ui/history" f={p.f} facets={p.facets} statuses={DECIDED} anyStatus />
    <p>
      <a class="button" href={p.csv} download>
        Export these as CSV
      </a>
    </p>
    <table class="list" id="history">
      <thead>
        <tr>
          <th scope="col">Action</th>
          <th scope="col">Agent</th>
          <th scope="col">Outcome</th>
          <th scope="col">Decided by</th>
          <th scope="col">Decided</th>
          <th scope="col">Time to decision</th>
        </tr>
      </thead>
      <tbody>
        {p.rows.map((a) => (
          <tr id={`row-${a.id}`}>
            <td data-label="Action">
              <a href={`/ui/approvals/${a.id}`}>{a.action}</a>
              <div class="muted small">
                key <code>{a.idempotency_key}</code>
              </div>
            </td>
            <td data-label="Agent">{a.agent_id}</td>
            <td data-label="Outcome">
              <Badge status={a.status} />
            </td>
            <td data-label="Decided by">
              {a.decided_by ?? '—'} <span class="muted small">{a.decision_channel ? `via ${a.decision_channel}` : ''}</span>
            </td>
            <td data-label="Decided">
              <When at={a.decided_at} />
            </td>
            <td data-label="Time to decision">{a.decided_at ? seconds((new Date(a.decided_at).getTime() - new Date(a.created_at).getTime()) / 1000) : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
    {p.rows.length === 0 && <p class="muted">No decided approvals match.</p>}
    {p.next && (
      <p>
        <a href={p.next}>Older decisions →</a>
      </p>
    )}
  </Layout>
);

const WindowSection: FC<{ label: string; s: WindowStats }> = ({ label, s }) => (
  <section aria-labelledby={`w-${label}`}>
    <h2 id={`w-${label}`}>Last {label}</h2>
    <div class="charts">
      <div class="card">
        <div>Requests</div>
        <div class="stat">{s.total}</div>
        <div>Time to decision (by people, {s.decided_by_people} decided)</div>
        <div class="stat">
          {seconds(s.ttd_p50)} <span class="muted small">median</span> · {seconds(s.ttd_p90)} <span class="muted small">p90</span>
        </div>
      </div>
      <Chart title="By status" rows={STATUSES.filter((st) => (s.by_status[st] ?? 0) > 0).map((st) => ({ label: st, value: s.by_status[st] ?? 0 }))} />
      <Chart title="By action" rows={s.by_action.map((r) => ({ label: r.action, value: r.count }))} />
      <Chart
        title="Time to decision"
        rows={[
          { label: 'median', value: s.ttd_p50 ?? 0, display: seconds(s.ttd_p50) },
          { label: 'p90', value: s.ttd_p90 ?? 0, display: seconds(s.ttd_p90) },
        ]}
      />
    </div>
  </section>
);

export const OverviewPage: FC<{ viewer: Viewer; day: WindowStats; week: WindowStats }> = (p) => (
  <Layout title="Overview" viewer={p.viewer} page="overview" nav="overview">
    <h1>Overview</h1>
    <p id="stale" class="flash" hidden>
      There is new activity. <a href="">Reload</a> to update these numbers.
    </p>
    <WindowSection label="24 hours" s={p.day} />
    <WindowSection label="7 days" s={p.week} />
  </Layout>
);
