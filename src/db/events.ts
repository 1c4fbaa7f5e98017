import { chainHash, eventContent, type ChainEvent } from '../approvals/chain.ts';
import type { AuditRecord } from '../approvals/transition.ts';
import type { Sql, Tx } from './client.ts';

/** The NOTIFY channel the chainer speaks on (payload: tenant id); see services/notifier.ts. */
export const CHAIN_CHANNEL = 'holdpoint_chain';

export interface EventRow {
  id: string;
  tenant_id: string;
  ord: number;
  approval_id: string | null;
  type: string;
  actor: string;
  channel: string;
  data: Record<string, unknown>;
  created_at: Date;
  seq: number | null;
  prev_hash: Buffer | null;
  hash: Buffer | null;
}

/** Inserts an event, unchained: nothing here waits on other approvals of the tenant. */
export async function appendEvent(
  tx: Tx,
  e: AuditRecord & { id: string; tenant_id: string; approval_id: string | null; created_at: Date },
): Promise<EventRow> {
  const [row] = await tx<EventRow[]>`
    INSERT INTO approval_events (id, tenant_id, approval_id, type, actor, channel, data, created_at)
    VALUES (${e.id}, ${e.tenant_id}, ${e.approval_id}, ${e.type}, ${e.actor}, ${e.channel}, ${tx.json(e.data as never)}, ${e.created_at})
    RETURNING *`;
  return row!;
}

/**
 * Links the tenant's unchained events into its hash chain, in insertion order,
 * up to `limit` at a time; returns how many it linked. One chainer per tenant
 * at a time (the tenant row lock, NO KEY UPDATE so inserts keep going).
 */
export async function chainTenant(sql: Sql, tenantId: string, limit = 1_000): Promise<number> {
  return sql.begin(async (tx) => {
    const [head] = await tx<{ chain_seq: number; chain_head: Buffer | null }[]>`
      SELECT chain_seq, chain_head FROM tenants WHERE id = ${tenantId} FOR NO KEY UPDATE`;
    if (!head) return 0;
    const rows = await tx<EventRow[]>`
      SELECT * FROM approval_events WHERE tenant_id = ${tenantId} AND hash IS NULL ORDER BY ord LIMIT ${limit}`;
    if (rows.length === 0) return 0;
    let seq = Number(head.chain_seq);
    let prev = head.chain_head ? head.chain_head.toString('hex') : null;
    const ids: string[] = [];
    const seqs: number[] = [];
    const prevs: (string | null)[] = [];
    const hashes: string[] = [];
    for (const r of rows) {
      seq += 1;
      const hash = chainHash(prev, seq, eventContent(toChainEvent(r)));
      ids.push(r.id);
      seqs.push(seq);
      prevs.push(prev);
      hashes.push(hash);
      prev = hash;
    }
    await tx`
      UPDATE approval_events e
      SET seq = v.seq, prev_hash = decode(v.prev, 'hex'), hash = decode(v.hash, 'hex')
      FROM (SELECT unnest(${ids}::uuid[]) AS id, unnest(${seqs}::bigint[]) AS seq,
                   unnest(${prevs as string[]}::text[]) AS prev, unnest(${hashes}::text[]) AS hash) v
      WHERE e.id = v.id`;
    await tx`UPDATE tenants SET chain_seq = ${seq}, chain_head = decode(${prev}, 'hex') WHERE id = ${tenantId}`;
    // Heard at commit by every process's notifier: live feeds read on from their seq.
    await tx`SELECT pg_notify(${CHAIN_CHANNEL}, ${tenantId})`;
    return rows.length;
  });
}

/** Chains everything the tenant has unchained, batch after batch. */
export async function chainAll(sql: Sql, tenantId: string): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await chainTenant(sql, tenantId);
    total += n;
    if (n < 1_000) return total;
  }
}

export async function tenantsWithUnchained(tx: Tx, limit = 1_000): Promise<string[]> {
  const rows = await tx<{ tenant_id: string }[]>`
    SELECT DISTINCT tenant_id FROM approval_events WHERE hash IS NULL LIMIT ${limit}`;
  return rows.map((r) => r.tenant_id);
}

export async function eventsForApproval(tx: Tx, tenantId: string, approvalId: string): Promise<EventRow[]> {
  return tx<EventRow[]>`
    SELECT * FROM approval_events WHERE tenant_id = ${tenantId} AND approval_id = ${approvalId} ORDER BY ord`;
}

export async function eventsForTenant(tx: Tx, tenantId: string, afterSeq: number, limit: number): Promise<EventRow[]> {
  return tx<EventRow[]>`
    SELECT * FROM approval_events WHERE tenant_id = ${tenantId} AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`;
}

export function toChainEvent(r: EventRow): ChainEvent {
  return {
    id: r.id,
    seq: r.seq === null ? null : Number(r.seq),
    approval_id: r.approval_id,
    type: r.type,
    actor: r.actor,
    channel: r.channel,
    data: r.data,
    created_at: r.created_at.toISOString(),
    prev_hash: r.prev_hash ? r.prev_hash.toString('hex') : null,
    hash: r.hash ? r.hash.toString('hex') : null,
  };
}
