// What the evaluation dashboard reads from the decision log. Every query is
// bounded by the period (tenant_id, created_at >= since: the decisions_list
// index) and aggregates in SQL, so a busy day costs one index range scan per
// panel, not rows shipped to the process.
import type { Tx } from './client.ts';

export interface PeriodStats {
  total: number;
  allow: number;
  modify: number;
  deny: number;
  require_approval: number;
  avg_risk: number | null;
  max_risk: number | null;
  /** Reported cost, else the declared cost_usd, of the calls that went ahead (allow, modify). */
  spend_usd: number;
  agents: number;
}

export async function periodStats(tx: Tx, tenantId: string, since: Date): Promise<PeriodStats> {
  const [row] = await tx<PeriodStats[]>`
    SELECT count(*)::int AS total,
           count(*) FILTER (WHERE decision = 'allow')::int AS allow,
           count(*) FILTER (WHERE decision = 'modify')::int AS modify,
           count(*) FILTER (WHERE decision = 'deny')::int AS deny,
           count(*) FILTER (WHERE decision = 'require_approval')::int AS require_approval,
           avg(risk_score)::float8 AS avg_risk,
           max(risk_score)::float8 AS max_risk,
           coalesce(sum(coalesce(report_cost_usd, cost_usd)) FILTER (WHERE decision IN ('allow', 'modify')), 0)::float8 AS spend_usd,
           count(DISTINCT agent_id)::int AS agents
    FROM decisions
    WHERE tenant_id = ${tenantId} AND created_at >= ${since}`;
  return row!;
}

/** Who refused or held calls: a rule by name, a guard by name, the default, or the engine (an evaluation that failed). */
export interface ReasonCount {
  source: 'rule' | 'guard' | 'default' | 'engine' | string;
  name: string;
  denies: number;
  approvals: number;
}

/**
 * The rules and guards whose votes denied or held calls in the period, most
 * first. Counts votes (a call held by two rules counts for both), only from
 * decisions that ended deny or require_approval.
 */
export async function topReasons(tx: Tx, tenantId: string, since: Date, limit = 10): Promise<ReasonCount[]> {
  return tx<ReasonCount[]>`
    SELECT r->>'source' AS source,
           coalesce(r->>'rule', r->>'guard', '') AS name,
           count(*) FILTER (WHERE r->>'decision' = 'deny')::int AS denies,
           count(*) FILTER (WHERE r->>'decision' = 'require_approval')::int AS approvals
    FROM decisions d
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(d.reasons) = 'array' THEN d.reasons ELSE '[]'::jsonb END) r
    WHERE d.tenant_id = ${tenantId} AND d.created_at >= ${since}
      AND d.decision IN ('deny', 'require_approval')
      AND r->>'decision' IN ('deny', 'require_approval')
    GROUP BY 1, 2
    ORDER BY count(*) DESC, 1, 2
    LIMIT ${limit}`;
}

export interface RiskPoint {
  at: Date;
  n: number;
  avg: number | null;
  max: number | null;
  denied: number;
}

/** Average and maximum risk per bucket of `stepSeconds` starting at `origin`, of decisions since `since`; empty buckets are absent. */
export async function riskSeries(tx: Tx, tenantId: string, since: Date, origin: Date, stepSeconds: number): Promise<RiskPoint[]> {
  return tx<RiskPoint[]>`
    SELECT date_bin(make_interval(secs => ${stepSeconds}), created_at, ${origin}::timestamptz) AS at,
           count(*)::int AS n,
           avg(risk_score)::float8 AS avg,
           max(risk_score)::float8 AS max,
           count(*) FILTER (WHERE decision = 'deny')::int AS denied
    FROM decisions
    WHERE tenant_id = ${tenantId} AND created_at >= ${since}
    GROUP BY 1
    ORDER BY 1`;
}

export interface AgentSeen {
  agent_id: string;
  calls: number;
}

/** The agents that called in the period, busiest first (the budget gauges' rows). */
export async function agentsSeen(tx: Tx, tenantId: string, since: Date, limit: number): Promise<AgentSeen[]> {
  return tx<AgentSeen[]>`
    SELECT agent_id, count(*)::int AS calls
    FROM decisions
    WHERE tenant_id = ${tenantId} AND created_at >= ${since}
    GROUP BY agent_id
    ORDER BY calls DESC, agent_id
    LIMIT ${limit}`;
}

/** One line of the live feed: the decision and, for a held call, where its approval stands now. */
export interface FeedRow {
  id: string;
  kind: 'check' | 'guard';
  action: string;
  agent_id: string;
  decision: 'allow' | 'modify' | 'deny' | 'require_approval';
  reasons: unknown;
  risk_score: number | null;
  cost_usd: string | null;
  approval_id: string | null;
  approval_status: string | null;
  created_at: Date;
}

const FEED_COLUMNS = (tx: Tx) => tx`
  d.id, d.kind, d.action, d.agent_id, d.decision, d.reasons, d.risk_score, coalesce(d.report_cost_usd, d.cost_usd) AS cost_usd,
  d.approval_id, a.status AS approval_status, d.created_at`;

/** The newest decisions of the period, newest first. */
export async function recentDecisions(tx: Tx, tenantId: string, since: Date, limit: number): Promise<FeedRow[]> {
  return tx<FeedRow[]>`
    SELECT ${FEED_COLUMNS(tx)}
    FROM decisions d LEFT JOIN approvals a ON a.tenant_id = d.tenant_id AND a.id = d.approval_id
    WHERE d.tenant_id = ${tenantId} AND d.created_at >= ${since}
    ORDER BY d.created_at DESC, d.id DESC
    LIMIT ${limit}`;
}

/** The tenant's decisions among `ids` (another tenant's ids find nothing), newest first. */
export async function decisionsByIds(tx: Tx, tenantId: string, ids: readonly string[]): Promise<FeedRow[]> {
  if (ids.length === 0) return [];
  return tx<FeedRow[]>`
    SELECT ${FEED_COLUMNS(tx)}
    FROM decisions d LEFT JOIN approvals a ON a.tenant_id = d.tenant_id AND a.id = d.approval_id
    WHERE d.tenant_id = ${tenantId} AND d.id = ANY(${ids as string[]}::uuid[])
    ORDER BY d.created_at DESC, d.id DESC`;
}

/** Ids of the newest decisions recorded since `since`: the live feed's catch-up after a lost NOTIFY. */
export async function decisionIdsSince(tx: Tx, tenantId: string, since: Date, limit: number): Promise<{ id: string; created_at: Date }[]> {
  return tx<{ id: string; created_at: Date }[]>`
    SELECT id, created_at FROM decisions
    WHERE tenant_id = ${tenantId} AND created_at >= ${since}
    ORDER BY created_at DESC, id DESC
    LIMIT ${limit}`;
}
