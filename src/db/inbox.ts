// The web inbox's reads: what waits (oldest deadline first), what was decided
// (newest decision first), and the overview's numbers. Tenant-scoped, always.
import type { Status } from '../approvals/status.ts';
import type { ApprovalRow } from './approvals.ts';
import type { Tx } from './client.ts';

export interface InboxFilter {
  status?: Status | undefined;
  action?: string | undefined;
  agent_id?: string | undefined;
  /** An idempotency key, or its beginning. */
  q?: string | undefined;
}

const narrow = (tx: Tx, f: InboxFilter) => tx`
  ${f.action ? tx`AND action = ${f.action}` : tx``}
  ${f.agent_id ? tx`AND agent_id = ${f.agent_id}` : tx``}
  ${f.q ? tx`AND starts_with(idempotency_key, ${f.q})` : tx``}`;

/** Pending approvals by deadline; any other status newest first. */
export async function inboxApprovals(tx: Tx, tenantId: string, f: InboxFilter, limit: number): Promise<ApprovalRow[]> {
  const status = f.status ?? 'pending';
  return tx<ApprovalRow[]>`
    SELECT * FROM approvals
    WHERE tenant_id = ${tenantId} AND status = ${status} ${narrow(tx, f)}
    ORDER BY ${status === 'pending' ? tx`expires_at ASC, id ASC` : tx`created_at DESC, id DESC`}
    LIMIT ${limit}`;
}

export interface HistoryFilter extends InboxFilter {
  before?: { decided_at: Date; id: string } | undefined;
}

/** Decided approvals (by a person, a policy of on_timeout, or a deadline), newest decision first. */
export async function historyApprovals(tx: Tx, tenantId: string, f: HistoryFilter, limit: number): Promise<ApprovalRow[]> {
  return tx<ApprovalRow[]>`
    SELECT * FROM approvals
    WHERE tenant_id = ${tenantId} AND decided_at IS NOT NULL
      ${f.status ? tx`AND status = ${f.status}` : tx``}
      ${narrow(tx, f)}
      ${f.before ? tx`AND (decided_at, id) < (${f.before.decided_at}, ${f.before.id})` : tx``}
    ORDER BY decided_at DESC, id DESC
    LIMIT ${limit}`;
}

/** The filter's choices: the actions and agents this tenant has seen lately. */
export async function facets(tx: Tx, tenantId: string): Promise<{ actions: string[]; agents: string[] }> {
  const rows = await tx<{ action: string; agent_id: string }[]>`
    SELECT DISTINCT action, agent_id FROM (
      SELECT action, agent_id FROM approvals WHERE tenant_id = ${tenantId}
      ORDER BY created_at DESC LIMIT 1000) recent`;
  const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();
  return { actions: sorted(rows.map((r) => r.action)), agents: sorted(rows.map((r) => r.agent_id)) };
}

export interface WindowStats {
  by_status: Record<string, number>;
  total: number;
  /** Seconds from request to a person's decision (timeouts excluded). */
  ttd_p50: number | null;
  ttd_p90: number | null;
  decided_by_people: number;
  by_action: { action: string; count: number }[];
}

export async function windowStats(tx: Tx, tenantId: string, since: Date): Promise<WindowStats> {
  const [status, ttd, actions] = await Promise.all([
    tx<{ status: string; n: number }[]>`
      SELECT status, count(*)::int AS n FROM approvals
      WHERE tenant_id = ${tenantId} AND created_at >= ${since}
      GROUP BY status`,
    tx<{ p50: number | null; p90: number | null; n: number }[]>`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS p50,
             percentile_cont(0.9) WITHIN GROUP (ORDER BY s) AS p90,
             count(*)::int AS n
      FROM (SELECT extract(epoch FROM decided_at - created_at)::float8 AS s FROM approvals
            WHERE tenant_id = ${tenantId} AND decided_at >= ${since}
              AND decision_channel IN ('api', 'slack', 'web', 'webhook')) d`,
    tx<{ action: string; n: number }[]>`
      SELECT action, count(*)::int AS n FROM approvals
      WHERE tenant_id = ${tenantId} AND created_at >= ${since}
      GROUP BY action ORDER BY n DESC, action LIMIT 8`,
  ]);
  const by_status: Record<string, number> = {};
  for (const r of status) by_status[r.status] = r.n;
  return {
    by_status,
    total: status.reduce((a, r) => a + r.n, 0),
    ttd_p50: ttd[0]?.p50 ?? null,
    ttd_p90: ttd[0]?.p90 ?? null,
    decided_by_people: ttd[0]?.n ?? 0,
    by_action: actions.map((r) => ({ action: r.action, count: r.n })),
  };
}

/** The tenant's chain head: where a fresh live feed starts. */
export async function chainHead(tx: Tx, tenantId: string): Promise<number> {
  const [row] = await tx<{ chain_seq: string }[]>`SELECT chain_seq FROM tenants WHERE id = ${tenantId}`;
  return row ? Number(row.chain_seq) : 0;
}

export async function approvalsByIds(tx: Tx, tenantId: string, ids: readonly string[]): Promise<ApprovalRow[]> {
  if (ids.length === 0) return [];
  return tx<ApprovalRow[]>`SELECT * FROM approvals WHERE tenant_id = ${tenantId} AND id = ANY(${ids as string[]}::uuid[])`;
}
