// The reads behind oversight records (src/services/oversight.ts): approvals by
// creation time, and — for a page of them at once — their decisions, their
// audit events and the tenant-chain events their events link to.
import type { ApprovalRow } from './approvals.ts';
import type { Tx } from './client.ts';
import type { EventRow } from './events.ts';

export interface DecisionSummary {
  id: string;
  reasons: unknown[];
  risk_score: number | null;
  redacted_paths: string[];
}

/** Approvals created in [since, until), oldest first, after a keyset position (approvals_list serves it backwards). */
export async function approvalsCreated(
  tx: Tx,
  tenantId: string,
  p: { since?: Date | undefined; until?: Date | undefined; after?: { created_at: Date; id: string } | undefined; limit: number },
): Promise<ApprovalRow[]> {
  return tx<ApprovalRow[]>`
    SELECT * FROM approvals
    WHERE tenant_id = ${tenantId}
      ${p.since ? tx`AND created_at >= ${p.since}` : tx``}
      ${p.until ? tx`AND created_at < ${p.until}` : tx``}
      ${p.after ? tx`AND (created_at, id) > (${p.after.created_at}, ${p.after.id})` : tx``}
    ORDER BY created_at ASC, id ASC
    LIMIT ${p.limit}`;
}

export async function decisionSummaries(tx: Tx, tenantId: string, ids: readonly string[]): Promise<Map<string, DecisionSummary>> {
  if (ids.length === 0) return new Map();
  const rows = await tx<DecisionSummary[]>`
    SELECT id, reasons, risk_score, redacted_paths FROM decisions WHERE tenant_id = ${tenantId} AND id = ANY(${ids as string[]}::uuid[])`;
  return new Map(rows.map((r) => [r.id, r]));
}

/** The audit events of these approvals, each approval's in insertion order. */
export async function eventsOf(tx: Tx, tenantId: string, approvalIds: readonly string[]): Promise<Map<string, EventRow[]>> {
  const out = new Map<string, EventRow[]>();
  if (approvalIds.length === 0) return out;
  const rows = await tx<EventRow[]>`
    SELECT * FROM approval_events WHERE tenant_id = ${tenantId} AND approval_id = ANY(${approvalIds as string[]}::uuid[]) ORDER BY ord`;
  for (const r of rows) {
    const list = out.get(r.approval_id!) ?? [];
    list.push(r);
    out.set(r.approval_id!, list);
  }
  return out;
}

/** The tenant's chained events at these positions. */
export async function eventsAtSeqs(tx: Tx, tenantId: string, seqs: readonly number[]): Promise<EventRow[]> {
  if (seqs.length === 0) return [];
  return tx<EventRow[]>`
    SELECT * FROM approval_events WHERE tenant_id = ${tenantId} AND seq = ANY(${seqs as number[]}::bigint[])`;
}
