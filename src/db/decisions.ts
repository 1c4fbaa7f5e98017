import { createHash } from 'node:crypto';
import type { Tx } from './client.ts';
import type { PolicyDecision } from '../policy/schema.ts';

export interface DecisionRow {
  id: string;
  tenant_id: string;
  kind: 'check' | 'guard';
  idempotency_key: string | null;
  request_hash: string | null;
  action: string;
  agent_id: string;
  decision: PolicyDecision | 'modify';
  reasons: unknown[];
  policy_version: number | null;
  approval_id: string | null;
  created_at: Date;
  risk_score: number | null;
  cost_usd: string | null;
  budget_buckets: string[];
  redacted_paths: string[];
  /** The redacted params an allowed guard granted (decision modify); null otherwise. */
  granted_params: Record<string, unknown> | null;
  failed_open: boolean;
  eval_ms: number | null;
  report_status: 'completed' | 'failed' | null;
  report_result: unknown;
  reported_at: Date | null;
  report_cost_usd: string | null;
  report_duration_ms: number | null;
  /** The params as evaluated, redacted when the sensitive_data guard found anything; null when not kept (see 0010). */
  params: Record<string, unknown> | null;
  context: Record<string, unknown> | null;
  tags: string[];
  session_id: string | null;
  run_id: string | null;
}

type GuardFields =
  | 'risk_score' | 'cost_usd' | 'budget_buckets' | 'redacted_paths' | 'granted_params' | 'failed_open' | 'eval_ms'
  | 'params' | 'context' | 'tags' | 'session_id' | 'run_id';

/** Longer session / run ids are stored hashed, so an index entry stays small (btree entries cap near 2.7 kB). */
const LEDGER_KEY_MAX = 200;

/**
 * context.session_id / context.run_id as the ledger keys them: the budget
 * guard's reading (a non-empty string, or a finite number in decimal), with a
 * value past 200 characters replaced by "sha256:<hex>". The usage query maps
 * its ?session_id= / ?run_id= the same way, so either finds the rows.
 */
export function ledgerKey(v: unknown): string | null {
  let s: string;
  if (typeof v === 'string' && v !== '') s = v;
  else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
  else return null;
  return s.length <= LEDGER_KEY_MAX ? s : `sha256:${createHash('sha256').update(s, 'utf8').digest('hex')}`;
}
type ReportFields = 'report_status' | 'report_result' | 'reported_at' | 'report_cost_usd' | 'report_duration_ms';
export type NewDecision = Omit<DecisionRow, ReportFields | GuardFields> & Partial<Pick<DecisionRow, GuardFields>>;

/** The INSERT of a decision, as a fragment; a guard key already taken inserts nothing. */
export function decisionInsert(tx: Tx, d: NewDecision) {
  return tx`
    INSERT INTO decisions (id, tenant_id, kind, idempotency_key, request_hash, action, agent_id,
                           decision, reasons, policy_version, approval_id, created_at,
                           risk_score, cost_usd, budget_buckets, redacted_paths, granted_params, failed_open, eval_ms,
                           params, context, tags, session_id, run_id)
    VALUES (${d.id}, ${d.tenant_id}, ${d.kind}, ${d.idempotency_key}, ${d.request_hash}, ${d.action},
            ${d.agent_id}, ${d.decision}, ${tx.json(d.reasons as never)}, ${d.policy_version},
            ${d.approval_id}, ${d.created_at},
            ${d.risk_score ?? null}, ${d.cost_usd ?? null}, ${d.budget_buckets ?? []}::text[], ${d.redacted_paths ?? []}::text[],
            ${d.granted_params ? tx.json(d.granted_params as never) : null}, ${d.failed_open ?? false}, ${d.eval_ms ?? null},
            ${d.params ? tx.json(d.params as never) : null}, ${d.context ? tx.json(d.context as never) : null},
            ${d.tags ?? []}::text[], ${d.session_id ?? null}, ${d.run_id ?? null})
    ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`;
}

/** Inserts, or returns undefined when a guard decision already holds this idempotency key. */
export async function insertDecision(tx: Tx, d: NewDecision): Promise<DecisionRow | undefined> {
  const [row] = await tx<DecisionRow[]>`${decisionInsert(tx, d)} RETURNING *`;
  return row;
}

export async function getDecisionByKey(tx: Tx, tenantId: string, key: string): Promise<DecisionRow | undefined> {
  const [row] = await tx<DecisionRow[]>`
    SELECT * FROM decisions WHERE tenant_id = ${tenantId} AND idempotency_key = ${key}`;
  return row;
}

export async function getDecision(tx: Tx, tenantId: string, id: string): Promise<DecisionRow | undefined> {
  const [row] = await tx<DecisionRow[]>`
    SELECT * FROM decisions WHERE tenant_id = ${tenantId} AND id = ${id}`;
  return row;
}

export interface DecisionReport {
  status: 'completed' | 'failed';
  result?: unknown;
  cost_usd?: number | undefined;
  duration_ms?: number | undefined;
}

/** Records the post-action report once; undefined when it was already reported. */
export async function reportDecision(
  tx: Tx,
  tenantId: string,
  id: string,
  r: DecisionReport,
  now: Date,
): Promise<DecisionRow | undefined> {
  const [row] = await tx<DecisionRow[]>`
    UPDATE decisions SET report_status = ${r.status}, report_result = ${tx.json((r.result ?? null) as never)}, reported_at = ${now},
      report_cost_usd = ${r.cost_usd ?? null}, report_duration_ms = ${r.duration_ms ?? null}
    WHERE tenant_id = ${tenantId} AND id = ${id} AND reported_at IS NULL
    RETURNING *`;
  return row;
}

export interface DecisionFilter {
  agent_id?: string | undefined;
  action?: string | undefined;
  decision?: string | undefined;
  since?: Date | undefined;
  /** Exclusive. */
  until?: Date | undefined;
  /** Rows carrying this tag. */
  tag?: string | undefined;
  approval_id?: string | undefined;
  /** As stored: pass it through ledgerKey. */
  session_id?: string | undefined;
  run_id?: string | undefined;
}

export interface DecisionPage extends DecisionFilter {
  /** Newest first (the log) or oldest first (exports). */
  order?: 'desc' | 'asc';
  /** The last row of the previous page: the next page starts past it. */
  after?: { created_at: Date; id: string } | undefined;
  /** The name this position had before exports (newest first only): the same as `after` there. */
  before?: { created_at: Date; id: string } | undefined;
  limit: number;
}

/** The WHERE conditions of a filter, after tenant_id. */
function conditions(tx: Tx, f: DecisionFilter) {
  return tx`
      ${f.agent_id ? tx`AND agent_id = ${f.agent_id}` : tx``}
      ${f.action ? tx`AND action = ${f.action}` : tx``}
      ${f.decision ? tx`AND decision = ${f.decision}` : tx``}
      ${f.since ? tx`AND created_at >= ${f.since}` : tx``}
      ${f.until ? tx`AND created_at < ${f.until}` : tx``}
      ${f.tag ? tx`AND tags @> ARRAY[${f.tag}]::text[]` : tx``}
      ${f.approval_id ? tx`AND approval_id = ${f.approval_id}` : tx``}
      ${f.session_id ? tx`AND session_id = ${f.session_id}` : tx``}
      ${f.run_id ? tx`AND run_id = ${f.run_id}` : tx``}`;
}

/** One keyset page of the log: newest first like the approvals list, or oldest first for exports. */
export async function listDecisions(tx: Tx, tenantId: string, f: DecisionPage): Promise<DecisionRow[]> {
  const asc = f.order === 'asc';
  const after = f.after ?? (asc ? undefined : f.before);
  return tx<DecisionRow[]>`
    SELECT * FROM decisions
    WHERE tenant_id = ${tenantId}
      ${conditions(tx, f)}
      ${after ? (asc ? tx`AND (created_at, id) > (${after.created_at}, ${after.id})` : tx`AND (created_at, id) < (${after.created_at}, ${after.id})`) : tx``}
    ORDER BY ${asc ? tx`created_at ASC, id ASC` : tx`created_at DESC, id DESC`}
    LIMIT ${f.limit}`;
}
