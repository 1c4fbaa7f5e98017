// The evaluation dashboard's page and fragments, rendered on the server with
// hono/jsx: every string an agent controls (action, agent id, reasons) is a
// JSX child or attribute, so it is escaped; nothing here builds raw HTML.
// Pure functions of their props.
import type { FC } from 'hono/jsx';
import type { FeedRow } from '../db/dashboard.ts';
import type { Gauge } from '../services/budget-gauges.ts';
import { Layout, type Viewer } from './components.tsx';
import { PERIODS, type DashboardData, type Period } from './dashboard-data.ts';
import { reasonText } from './format.ts';
import { RiskChart } from './risk-chart.tsx';

const DECISION_LABEL: Record<string, string> = { allow: 'allowed', modify: 'modified', deny: 'denied', require_approval: 'needs approval' };
const usd = (n: number) => `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const risk = (r: number | null) => (r === null ? '—' : r.toFixed(2));
const pct = (part: number, total: number) => (total > 0 ? `${Math.round((part / total) * 100)}%` : '—');
const hhmmss = (d: Date) => d.toISOString().slice(11, 19);

/** A 0–1 risk as a short coloured bar and its number. */
const RiskMeter: FC<{ value: number | null }> = ({ value }) =>
  value === null ? (
    <span class="muted">—</span>
  ) : (
    <span class={`risk ${value >= 0.75 ? 'high' : value >= 0.4 ? 'mid' : 'low'}`}>
      <span class="risk-bar" aria-hidden="true">
        <span style={`width:${Math.round(value * 100)}%`}></span>
      </span>
      {value.toFixed(2)}
    </span>
  );

/** One row of the live feed; the page's script inserts more of these as they come. */
export const FeedRowView: FC<{ d: FeedRow }> = ({ d }) => {
  const reasons = Array.isArray(d.reasons) ? (d.reasons as unknown[]) : [];
  const shown = reasons.slice(0, 2).map(reasonText);
  const at = new Date(d.created_at);
  return (
    <tr id={`d-${d.id}`} data-at={at.toISOString()} class={`dec-${d.decision}`} data-held={d.approval_status === 'pending' ? '' : undefined}>
      <td data-label="Time" class="time">
        <time datetime={at.toISOString()} title={at.toISOString()}>
          {hhmmss(at)}
        </time>
      </td>
      <td data-label="Decision">
        <span class={`pill ${d.decision}`}>{DECISION_LABEL[d.decision] ?? d.decision}</span>
      </td>
      <td data-label="Action">
        <strong class="action">{d.action}</strong>
        <div class="muted small">
          {d.agent_id} · {d.kind}
        </div>
      </td>
      <td data-label="Why">
        {shown.length === 0 ? (
          <span class="muted">—</span>
        ) : (
          shown.map((r) => (
            <div class="small">
              {r.text}
              {r.source && <span class="muted"> ({r.source})</span>}
            </div>
          ))
        )}
        {reasons.length > 2 && <div class="muted small">+{reasons.length - 2} more</div>}
      </td>
      <td data-label="Risk">
        <RiskMeter value={d.risk_score} />
      </td>
      <td data-label="Cost">{d.cost_usd === null ? <span class="muted">—</span> : usd(Number(d.cost_usd))}</td>
      <td data-label="Approval">
        {d.approval_id ? (
          <a href={`/ui/approvals/${d.approval_id}`}>
            <span class={`badge approval-state ${d.approval_status ?? ''}`}>{d.approval_status ?? 'open'}</span>
          </a>
        ) : (
          <span class="muted">—</span>
        )}
      </td>
    </tr>
  );
};

const Stat: FC<{ id: string; label: string; value: string; sub?: string; tone?: string }> = (p) => (
  <div class={`stat-card ${p.tone ?? ''}`} id={p.id}>
    <div class="stat-label">{p.label}</div>
    <div class="stat-value">{p.value}</div>
    {p.sub && <div class="stat-sub">{p.sub}</div>}
  </div>
);

export const StatsPanel: FC<{ d: DashboardData }> = ({ d }) => {
  const s = d.stats;
  return (
    <section id="dash-stats" data-panel class="stats" aria-label={`Evaluations, ${PERIODS[d.period].label}`}>
      <Stat id="stat-total" label="Evaluations" value={s.total.toLocaleString('en-US')} sub={`${s.agents} agent${s.agents === 1 ? '' : 's'}`} />
      <Stat id="stat-allow" label="Allowed" value={s.allow.toLocaleString('en-US')} sub={pct(s.allow, s.total)} tone="ok" />
      <Stat id="stat-modify" label="Modified" value={s.modify.toLocaleString('en-US')} sub={pct(s.modify, s.total)} tone="info" />
      <Stat id="stat-deny" label="Denied" value={s.deny.toLocaleString('en-US')} sub={pct(s.deny, s.total)} tone="bad" />
      <Stat id="stat-approval" label="Needs approval" value={s.require_approval.toLocaleString('en-US')} sub={pct(s.require_approval, s.total)} tone="warn" />
      <Stat id="stat-risk" label="Risk" value={risk(s.avg_risk)} sub={`average · max ${risk(s.max_risk)}`} />
      <Stat id="stat-spend" label="Spend" value={usd(s.spend_usd)} sub="reported or declared" />
    </section>
  );
};

const GaugeBar: FC<{ g: Gauge; who: string }> = ({ g, who }) => {
  const width = Math.min(100, Math.round(g.share * 100));
  return (
    <div class={`gauge ${g.state}`}>
      <div class="gauge-head">
        <span>{g.period}</span>
        <span>
          {usd(g.spent_usd)} <span class="muted">of {usd(g.limit_usd)}</span> · <strong>{Math.round(g.share * 100)}%</strong>
        </span>
      </div>
      <div
        class="gauge-track"
        role="meter"
        aria-valuemin={0}
        aria-valuemax={g.limit_usd}
        aria-valuenow={Math.round(g.spent_usd * 100) / 100}
        aria-label={`${who} ${g.period} budget: ${usd(g.spent_usd)} of ${usd(g.limit_usd)} (${g.state})`}
      >
        <span style={`width:${width}%`}></span>
      </div>
    </div>
  );
};

export const BudgetPanel: FC<{ d: DashboardData }> = ({ d }) => {
  const b = d.budgets;
  return (
    <section id="dash-budgets" data-panel class="card panel" aria-labelledby="budgets-title">
      <h2 id="budgets-title">Budgets</h2>
      <p class="muted small">
        Spend (settled and held) against the policy's limits. Amber from {Math.round(b.warn * 100)}%, red from {Math.round(b.danger * 100)}%.
      </p>
      {b.unavailable && <p class="flash error small">The budget counters (Redis) could not be read; spend is not shown.</p>}
      {!b.unavailable && b.tenant.length > 0 && (
        <div class="gauge-group" id="gauges-tenant">
          <h3>Whole tenant</h3>
          {b.tenant.map((g) => (
            <GaugeBar g={g} who="tenant" />
          ))}
        </div>
      )}
      {d.budgets.agents.length === 0 && <p class="muted">No agent called in this period.</p>}
      {!b.unavailable && d.budgets.agents.map((a) => (
        <div class="gauge-group agent-gauges">
          <h3>
            {a.agent_id} <span class="muted small">· {a.calls.toLocaleString('en-US')} call{a.calls === 1 ? '' : 's'}</span>
          </h3>
          {a.gauges.length > 0 ? (
            a.gauges.map((g) => <GaugeBar g={g} who={a.agent_id} />)
          ) : (
            <p class="muted small no-limit">{!b.configured ? 'No budget limit: the policy has no budget guard.' : b.session_only ? 'Limited per session only.' : 'No per-agent limit.'}</p>
          )}
        </div>
      ))}
      {d.stats.agents > d.budgets.agents.length && (
        <p class="muted small">
          and {d.stats.agents - d.budgets.agents.length} more agent{d.stats.agents - d.budgets.agents.length === 1 ? '' : 's'} (the busiest are shown)
        </p>
      )}
    </section>
  );
};

const SOURCE_LABEL: Record<string, string> = { rule: 'rule', guard: 'guard', default: 'default', engine: 'engine failure' };

export const ReasonsPanel: FC<{ d: DashboardData }> = ({ d }) => {
  const most = Math.max(1, ...d.reasons.map((r) => r.denies + r.approvals));
  return (
    <section id="dash-reasons" data-panel class="card panel" aria-labelledby="reasons-title">
      <h2 id="reasons-title">What denies and holds most</h2>
      {d.reasons.length === 0 ? (
        <p class="muted">Nothing was denied or held in this period.</p>
      ) : (
        <table class="list compact" id="top-reasons">
          <thead>
            <tr>
              <th scope="col">Rule or guard</th>
              <th scope="col">Denied</th>
              <th scope="col">Held</th>
            </tr>
          </thead>
          <tbody>
            {d.reasons.map((r) => (
              <tr>
                <td data-label="Rule or guard">
                  <span class="reason-name">{r.source === 'default' ? 'default decision' : r.name || '(unnamed)'}</span> <span class="muted small">{SOURCE_LABEL[r.source] ?? r.source}</span>
                  <div class="split" aria-hidden="true">
                    <span class="deny" style={`width:${(r.denies / most) * 100}%`}></span>
                    <span class="hold" style={`width:${(r.approvals / most) * 100}%`}></span>
                  </div>
                </td>
                <td class="num" data-label="Denied">
                  {r.denies}
                </td>
                <td class="num" data-label="Held">
                  {r.approvals}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Guards</h3>
      <ul class="guards" id="guard-status">
        {d.guards.map((g) => (
          <li class={g.active ? 'on' : 'off'}>
            <span class="dot" aria-hidden="true"></span>
            <span class="guard-name">{g.guard}</span> <span class="muted small">{g.active ? 'active' : 'off'}</span>
            <span class="guard-counts small">
              {g.denies} denied · {g.approvals} held
            </span>
          </li>
        ))}
      </ul>
      <p class="muted small">
        {d.rules} rule{d.rules === 1 ? '' : 's'} in the active policy.
      </p>
    </section>
  );
};

/** Everything the page refreshes as a whole when new decisions arrive. */
export const Summary: FC<{ d: DashboardData }> = ({ d }) => (
  <div id="dash-summary">
    <StatsPanel d={d} />
    <RiskChart points={d.risk} period={d.period} />
    <BudgetPanel d={d} />
    <ReasonsPanel d={d} />
  </div>
);

export const DashboardPage: FC<{ viewer: Viewer; d: DashboardData }> = ({ viewer, d }) => (
  <Layout title="Dashboard" viewer={viewer} page="dashboard" nav="dashboard">
    <div class="dash-head">
      <h1>Evaluations</h1>
      <nav class="periods" aria-label="Period">
        {(Object.keys(PERIODS) as Period[]).map((p) => (
          <a href={`/ui/dashboard?period=${p}`} aria-current={p === d.period ? 'page' : undefined}>
            {PERIODS[p].label}
          </a>
        ))}
      </nav>
      <span class="live-badge" id="live-badge">
        <span class="dot" aria-hidden="true"></span> <span class="on-text">live</span>
        <span class="off-text">not live: reload to update</span>
      </span>
    </div>
    <StatsPanel d={d} />
    <div class="dashboard" data-period={d.period}>
      <div class="dash-main">
        <RiskChart points={d.risk} period={d.period} />
        <section class="card panel" aria-labelledby="feed-title">
          <h2 id="feed-title">Every decision, newest first</h2>
          <div class="feed-scroll">
            <table class="list feed" id="feed">
              <caption class="skip">Live feed of decisions</caption>
              <thead>
                <tr>
                  <th scope="col">Time (UTC)</th>
                  <th scope="col">Decision</th>
                  <th scope="col">Action · agent</th>
                  <th scope="col">Why</th>
                  <th scope="col">Risk</th>
                  <th scope="col">Cost</th>
                  <th scope="col">Approval</th>
                </tr>
              </thead>
              <tbody>
                {d.feed.map((row) => (
                  <FeedRowView d={row} />
                ))}
              </tbody>
            </table>
          </div>
          <p id="feed-empty" class="muted" hidden={d.feed.length > 0}>
            No evaluations yet in this period. They appear here as agents call.
          </p>
        </section>
      </div>
      <aside class="dash-side">
        <BudgetPanel d={d} />
        <ReasonsPanel d={d} />
      </aside>
    </div>
  </Layout>
);
