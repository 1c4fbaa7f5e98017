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
  decision: PolicyDecision;
  reasons: unknown[];
  policy_version: number | null;
  approval_id: string | null;
  created_at: Date;
  report_status: 'completed' | 'failed' | null;
  report_result: unknown;
  reported_at: Date | null;
}

export type NewDecision = Omit<DecisionRow, 'report_status' | 'report_result' | 'reported_at'>;

/** The INSERT of a decision, as a fragment; a guard key already taken inserts nothing. */
export function decisionInsert(tx: Tx, d: NewDecision) {
  return tx`
    INSERT INTO decisions (id, tenant_id, kind, idempotency_key, request_hash, action, agent_id,
                           decision, reasons, policy_version, approval_id, created_at)
    VALUES (${d.id}, ${d.tenant_id}, ${d.kind}, ${d.idempotency_key}, ${d.request_hash}, ${d.action},
            ${d.agent_id}, ${d.decision}, ${tx.json(d.reasons as never)}, ${d.policy_version},
            ${d.approval_id}, ${d.created_at})
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

/** Records the post-action report once; undefined when it was already reported. */
export async function reportDecision(
  tx: Tx,
  tenantId: string,
  id: string,
  status: 'completed' | 'failed',
  result: unknown,
  now: Date,
): Promise<DecisionRow | undefined> {
  const [row] = await tx<DecisionRow[]>`
    UPDATE decisions SET report_status = ${status}, report_result = ${tx.json((result ?? null) as never)}, reported_at = ${now}
    WHERE tenant_id = ${tenantId} AND id = ${id} AND reported_at IS NULL
    RETURNING *`;
  return row;
}
