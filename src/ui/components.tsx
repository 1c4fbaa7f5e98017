// The inbox's building blocks, rendered on the server with hono/jsx. Pure
// functions of their props (the clock comes in as `now`).
import type { Child, FC } from 'hono/jsx';
import type { ApprovalView } from '../approvals/render.ts';
import { FOLD_AT, humanDuration, reasonText, timeLeft } from './format.ts';

export interface Viewer {
  tenant_name: string;
  identity: string;
  role: string;
  csrf: string;
}

export const Layout: FC<{ title: string; viewer?: Viewer | undefined; page?: string; id?: string; nav?: 'inbox' | 'history' | 'overview' | 'dashboard'; children?: Child }> = (p) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${p.title} · Holdpoint`}</title>
      <link rel="stylesheet" href="/ui/assets/app.css" />
      {/* No /favicon.ico request (a 404 in every console): the CSP allows data: images. */}
      <link rel="icon" href="data:," />
      <script src="/ui/assets/app.js" defer></script>
    </head>
    <body data-page={p.page} data-id={p.id}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/ui/inbox">
          Holdpoint
        </a>
        {p.viewer && (
          <nav aria-label="Main">
            <a href="/ui/inbox" aria-current={p.nav === 'inbox' ? 'page' : undefined}>
              Inbox
            </a>
            <a href="/ui/history" aria-current={p.nav === 'history' ? 'page' : undefined}>
              History
            </a>
            <a href="/ui/overview" aria-current={p.nav === 'overview' ? 'page' : undefined}>
              Overview
            </a>
            <a href="/ui/dashboard" aria-current={p.nav === 'dashboard' ? 'page' : undefined}>
              Dashboard
            </a>
          </nav>
        )}
        {p.viewer && (
          <div class="who">
            <span>
              {p.viewer.tenant_name} · signed in as <strong>{p.viewer.identity}</strong> ({p.viewer.role})
            </span>
            <form method="post" action="/ui/logout">
              <input type="hidden" name="_csrf" value={p.viewer.csrf} />
              <button type="submit">Sign out</button>
            </form>
          </div>
        )}
      </header>
      <main id="main" tabindex={-1}>
        {p.children}
      </main>
      <div id="live" role="status" aria-live="polite" class="skip"></div>
    </body>
  </html>
);

export const Flash: FC<{ kind: 'error' | 'ok' | 'info'; children?: Child }> = (p) => (
  <p class={`flash ${p.kind}`} role={p.kind === 'error' ? 'alert' : 'status'}>
    {p.children}
  </p>
);

export const Badge: FC<{ status: string }> = (p) => <span class={`badge ${p.status}`}>{p.status}</span>;

export const Countdown: FC<{ expiresAt: string; now: Date }> = (p) => {
  const soon = new Date(p.expiresAt).getTime() - p.now.getTime() < 5 * 60_000;
  return (
    <time class={soon ? 'left soon' : 'left'} datetime={p.expiresAt} data-expires={p.expiresAt}>
      {timeLeft(p.expiresAt, p.now)}
    </time>
  );
};

export const When: FC<{ at: string | Date | null }> = (p) => {
  if (!p.at) return <span class="muted">—</span>;
  const iso = new Date(p.at).toISOString();
  return <time datetime={iso}>{iso.replace('T', ' ').slice(0, 19)} UTC</time>;
};

/** Params as a person reads them: nested objects indented, long strings folded. */
export const Value: FC<{ value: unknown; depth?: number }> = ({ value, depth = 0 }) => {
  if (value === null || value === undefined) return <code>null</code>;
  if (Array.isArray(value)) {
    if (value.length === 0) return <code>[]</code>;
    return (
      <ol start={0}>
        {value.map((v) => (
          <li>
            <Value value={v} depth={depth + 1} />
          </li>
        ))}
      </ol>
    );
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return <code>{'{}'}</code>;
    if (depth > 6) return <code>{JSON.stringify(value)}</code>;
    return (
      <dl class="params">
        {entries.map(([k, v]) => (
          <>
            <dt>{k}</dt>
            <dd>
              <Value value={v} depth={depth + 1} />
            </dd>
          </>
        ))}
      </dl>
    );
  }
  if (typeof value === 'string') {
    if (value.length <= FOLD_AT) return <span>{value}</span>;
    return (
      <details>
        <summary>
          {value.slice(0, 80)}… <span class="muted small">({value.length} characters)</span>
        </summary>
        <pre style="white-space:pre-wrap">{value}</pre>
      </details>
    );
  }
  return <code>{String(value)}</code>;
};

export const Reasons: FC<{ reasons: unknown[] }> = (p) =>
  p.reasons.length === 0 ? (
    <span class="muted">—</span>
  ) : (
    <ul class="reasons">
      {p.reasons.map((r) => {
        const { text, source } = reasonText(r);
        return (
          <li>
            {text}
            {source && <span class="muted small"> ({source})</span>}
          </li>
        );
      })}
    </ul>
  );

export const approvalsSoFar = (a: ApprovalView) => a.votes.filter((v) => v.vote === 'approve').length;

/** Where a row sorts in the inbox: ascending string order is display order. */
export function sortKey(a: ApprovalView): string {
  if (a.status === 'pending') return `${a.expires_at}|${a.id}`;
  return `${String(9_999_999_999_999 - new Date(a.created_at).getTime()).padStart(13, '0')}|${a.id}`;
}

export const InboxRow: FC<{ a: ApprovalView; now: Date }> = ({ a, now }) => (
  <tr id={`row-${a.id}`} data-sort={sortKey(a)}>
    <td data-label="Action">
      <a href={`/ui/approvals/${a.id}`}>
        <strong>{a.action}</strong>
      </a>
      <div class="muted small">
        key <code>{a.idempotency_key}</code>
      </div>
    </td>
    <td data-label="Agent">{a.agent_id}</td>
    <td data-label="Params">
      <Value value={a.params} />
    </td>
    <td data-label="Why">
      <Reasons reasons={a.reasons} />
    </td>
    <td data-label="Time left">{a.status === 'pending' ? <Countdown expiresAt={a.expires_at} now={now} /> : <Badge status={a.status} />}</td>
    <td data-label="Votes">
      {approvalsSoFar(a)} / {a.required_approvals}
    </td>
  </tr>
);

export const Chart: FC<{ title: string; rows: { label: string; value: number; display?: string }[]; unit?: string }> = (p) => {
  const max = Math.max(1, ...p.rows.map((r) => r.value));
  const rowH = 22;
  const labelW = 130;
  const barW = 170;
  const h = Math.max(1, p.rows.length) * rowH + 4;
  const summary = p.rows.map((r) => `${r.label} ${r.display ?? r.value}`).join(', ') || 'no data';
  return (
    <figure class="card" style="margin:0">
      <figcaption>
        <strong>{p.title}</strong>
      </figcaption>
      <svg width="100%" viewBox={`0 0 ${labelW + barW + 60} ${h}`} role="img" aria-label={`${p.title}: ${summary}`}>
        <title>{`${p.title}: ${summary}`}</title>
        {p.rows.length === 0 && (
          <text x="0" y="16" font-size="12" fill="#57606a">
            nothing in this window
          </text>
        )}
        {p.rows.map((r, i) => {
          const y = i * rowH + 2;
          const w = Math.round((r.value / max) * barW);
          return (
            <g>
              <text x={labelW - 6} y={y + 14} font-size="12" text-anchor="end" fill="#1b1f24">
                {r.label.length > 20 ? `${r.label.slice(0, 19)}…` : r.label}
              </text>
              <rect x={labelW} y={y + 3} width={Math.max(w, r.value > 0 ? 2 : 0)} height={rowH - 8} rx="3" fill="#0a58ca" />
              <text x={labelW + w + 6} y={y + 14} font-size="12" fill="#57606a">
                {r.display ?? String(r.value)}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
};

export const seconds = (s: number | null) => (s === null ? '—' : humanDuration(s));
