import { eventContent, type ChainEvent } from '../approvals/chain.ts';
import type { AuditRecord } from '../approvals/transition.ts';
import type { Tx } from './client.ts';

export interface EventRow {
  id: string;
  tenant_id: string;
  seq: number;
  approval_id: string | null;
  type: string;
  actor: string;
  channel: string;
  data: Record<string, unknown>;
  created_at: Date;
  prev_hash: Buffer | null;
  hash: Buffer;
}

/** Appends to the tenant's hash chain. Call it last in a transaction (it locks the tenant row). */
export async function appendEvent(
  tx: Tx,
  e: AuditRecord & { id: string; tenant_id: string; approval_id: string | null; created_at: Date },
): Promise<EventRow> {
  const created = e.created_at.toISOString();
  const content = eventContent({
    id: e.id,
    approval_id: e.approval_id,
    type: e.type,
    actor: e.actor,
    channel: e.channel,
    data: e.data,
    created_at: created,
  });
  const [row] = await tx<EventRow[]>`
    SELECT * FROM holdpoint_append_event(
      ${e.id}, ${e.tenant_id}, ${e.approval_id}, ${e.type}, ${e.actor}, ${e.channel},
      ${tx.json(e.data as never)}, ${created}, ${content})`;
  return row!;
}

export async function eventsForApproval(tx: Tx, tenantId: string, approvalId: string): Promise<EventRow[]> {
  return tx<EventRow[]>`
    SELECT * FROM approval_events WHERE tenant_id = ${tenantId} AND approval_id = ${approvalId} ORDER BY seq`;
}

export async function eventsForTenant(tx: Tx, tenantId: string, afterSeq: number, limit: number): Promise<EventRow[]> {
  return tx<EventRow[]>`
    SELECT * FROM approval_events WHERE tenant_id = ${tenantId} AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`;
}

export function toChainEvent(r: EventRow): ChainEvent {
  return {
    id: r.id,
    seq: Number(r.seq),
    approval_id: r.approval_id,
    type: r.type,
    actor: r.actor,
    channel: r.channel,
    data: r.data,
    created_at: r.created_at.toISOString(),
    prev_hash: r.prev_hash ? r.prev_hash.toString('hex') : null,
    hash: r.hash.toString('hex'),
  };
}
