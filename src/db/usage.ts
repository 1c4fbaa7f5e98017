// What the decision ledger sums to: calls, outcomes and cost for a session, a
// run, or each action over a period. One SQL aggregate each; the 0010 indexes
// (decisions_by_session, decisions_by_run, decisions_usage) keep them cheap.
//
// Cost per row, in step with what the budget counters hold:
// * spent — the action ran and was reported: completed costs its reported
//   cost_usd, else the cost it was evaluated at; failed costs only what it
//   reported (else nothing), as settle / release do.
// * held  — the call was let through (allowed, or an approval still open or
//   approved) and is not reported yet: the budget holds its cost as a
//   reservation until the report, or until reservation_ttl_seconds lapses.
// * a deny, and an approval rejected, expired or cancelled, costs nothing.
import type { Tx } from './client.ts';

export interface Totals {
  calls: number;
  allowed: number;
  denied: number;
  approvals: number;
  spent_usd: number;
  held_usd: number;
}

export interface ActionTotals extends Totals {
  action: string;
}

export interface ScopeTotals extends Totals {
  first_at: Date | null;
  last_at: Date | null;
}

/** The select list both aggregates share; `d` is decisions, `a` its approval (LEFT JOIN). */
function totalsColumns(tx: Tx) {
  return tx`
    count(*)::int AS calls,
    count(*) FILTER (WHERE d.decision IN ('allow', 'modify'))::int AS allowed,
    count(*) FILTER (WHERE d.decision = 'deny')::int AS denied,
    count(*) FILTER (WHERE d.decision = 'require_approval')::int AS approvals,
    COALESCE(sum(CASE d.report_status
      WHEN 'completed' THEN COALESCE(d.report_cost_usd, d.cost_usd, 0)
      WHEN 'failed' THEN COALESCE(d.report_cost_usd, 0)
      ELSE 0 END), 0)::float8 AS spent_usd,
    COALESCE(sum(CASE
      WHEN d.report_status IS NOT NULL OR d.decision = 'deny' THEN 0
      WHEN d.decision = 'require_approval' AND (a.status IS NULL OR a.status NOT IN ('pending', 'approved', 'executing')) THEN 0
      ELSE COALESCE(d.cost_usd, 0) END), 0)::float8 AS held_usd`;
}

/** Every call of one session or one run (as ledgerKey stored it), optionally of one agent. */
export async function scopeTotals(
  tx: Tx,
  tenantId: string,
  scope: { session_id: string } | { run_id: string },
  agentId?: string,
): Promise<ScopeTotals> {
  const [row] = await tx<ScopeTotals[]>`
    SELECT ${totalsColumns(tx)}, min(d.created_at) AS first_at, max(d.created_at) AS last_at
    FROM decisions d LEFT JOIN approvals a ON a.id = d.approval_id
    WHERE d.tenant_id = ${tenantId}
      ${'session_id' in scope ? tx`AND d.session_id = ${scope.session_id}` : tx`AND d.run_id = ${scope.run_id}`}
      ${agentId ? tx`AND d.agent_id = ${agentId}` : tx``}`;
  return row!;
}

/**
 * Per-action totals over [since, until), most-called first, at most `limit`
 * actions (action names are the agent's: there may be many); the caller asks
 * for one more to know whether it was cut.
 */
export async function actionTotals(
  tx: Tx,
  tenantId: string,
  p: { since: Date; until: Date; agent_id?: string | undefined; limit: number },
): Promise<ActionTotals[]> {
  return tx<ActionTotals[]>`
    SELECT d.action, ${totalsColumns(tx)}
    FROM decisions d LEFT JOIN approvals a ON a.id = d.approval_id
    WHERE d.tenant_id = ${tenantId} AND d.created_at >= ${p.since} AND d.created_at < ${p.until}
      ${p.agent_id ? tx`AND d.agent_id = ${p.agent_id}` : tx``}
    GROUP BY d.action
    ORDER BY calls DESC, d.action
    LIMIT ${p.limit}`;
}

/** The same totals over every action of the period (not cut by the per-action limit). */
export async function periodTotals(tx: Tx, tenantId: string, p: { since: Date; until: Date; agent_id?: string | undefined }): Promise<Totals> {
  const [row] = await tx<Totals[]>`
    SELECT ${totalsColumns(tx)}
    FROM decisions d LEFT JOIN approvals a ON a.id = d.approval_id
    WHERE d.tenant_id = ${tenantId} AND d.created_at >= ${p.since} AND d.created_at < ${p.until}
      ${p.agent_id ? tx`AND d.agent_id = ${p.agent_id}` : tx``}`;
  return row!;
}
