// The audit trail's hash chain. Pure.
//   content = canonical JSON of { id, approval_id, type, actor, channel, data, created_at }
//   hash    = sha256(prev_hash || utf8(`${seq}.${content}`))      (prev_hash empty for seq 1)
// The chainer (src/db/events.ts chainTenant) links events per tenant in
// insertion order; anyone holding the events can recompute it with verifyChain.
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every depth; arrays keep their order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export interface ChainEvent {
  id: string;
  /** Position in the tenant's chain; null until the chainer has linked the event. */
  seq: number | null;
  approval_id: string | null;
  type: string;
  actor: string;
  channel: string;
  data: unknown;
  created_at: string;
  prev_hash: string | null;
  hash: string | null;
}

export function eventContent(e: Omit<ChainEvent, 'seq' | 'prev_hash' | 'hash'>): string {
  return canonicalJson({
    id: e.id,
    approval_id: e.approval_id,
    type: e.type,
    actor: e.actor,
    channel: e.channel,
    data: e.data,
    created_at: e.created_at,
  });
}

export function chainHash(prevHashHex: string | null, seq: number, content: string): string {
  const h = createHash('sha256');
  if (prevHashHex) h.update(Buffer.from(prevHashHex, 'hex'));
  h.update(`${seq}.${content}`, 'utf8');
  return h.digest('hex');
}

export type ChainCheck =
  | { intact: true; checked: number; unchained?: number }
  | { intact: false; checked: number; broken_at: string; why: string };

/**
 * Recomputes every hash. With `contiguous`, the events must be a whole tenant
 * chain (each prev_hash equals the previous event's hash); otherwise (one
 * approval's events, interleaved with others') each hash is checked against its
 * own prev_hash.
 */
export function verifyChain(events: readonly ChainEvent[], opts: { contiguous?: boolean } = {}): ChainCheck {
  let prev: ChainEvent | undefined;
  let checked = 0;
  let unchained = 0;
  for (const e of events) {
    if (e.seq === null || e.hash === null) {
      // Not linked yet: nothing to check, but nothing chained may follow it.
      unchained++;
      continue;
    }
    if (unchained > 0 && opts.contiguous) {
      return { intact: false, checked, broken_at: e.id, why: 'a chained event follows an unchained one' };
    }
    if (opts.contiguous && prev && e.prev_hash !== prev.hash) {
      return { intact: false, checked, broken_at: e.id, why: 'prev_hash does not match the previous event' };
    }
    const expected = chainHash(e.prev_hash, e.seq, eventContent(e));
    if (expected !== e.hash) return { intact: false, checked, broken_at: e.id, why: 'hash does not match the content' };
    checked++;
    prev = e;
  }
  return unchained > 0 ? { intact: true, checked, unchained } : { intact: true, checked };
}
