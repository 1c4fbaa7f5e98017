// The live feed: Server-Sent Events of one tenant's audit trail, in chain
// order. Each message is one batch of newly chained events plus the current
// view of every approval they touched; its id is the last event's chain seq,
// so a client that reconnects with Last-Event-ID gets exactly what it missed
// (the seq is given at chaining time, in the order events became visible, so
// a late commit is never skipped). Messages:
//   ready   {seq}                 — the feed starts after this seq
//   change  {approvals, events}   — id: the batch's last seq; events carry
//                                   their seq, prev_hash and hash
//   reset   {seq}                 — too far behind to replay: reload instead
// A comment line every `heartbeatMs` keeps proxies from closing the socket.
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { renderApproval, type ApprovalView } from '../approvals/render.ts';
import { votesFor } from '../db/approvals.ts';
import type { Sql } from '../db/client.ts';
import { eventsForTenant, toChainEvent } from '../db/events.ts';
import { approvalsByIds, chainHead } from '../db/inbox.ts';
import type { Logger } from '../log.ts';
import type { Notifier } from '../services/notifier.ts';

export interface StreamDeps {
  sql: Sql;
  notifier: Notifier;
  log: Logger;
  config: { HOLDPOINT_STREAM_HEARTBEAT_MS: number };
}

const BATCH = 200;
/** Further behind than this and the client is told to reload rather than replay. */
const MAX_REPLAY = 5_000;

/** Last-Event-ID as a chain seq, or null when absent or not one of ours. */
export function parseLastEventId(raw: string | undefined): number | null {
  if (!raw || !/^\d{1,15}$/.test(raw)) return null;
  return Number(raw);
}

export function tenantStream(c: Context, deps: StreamDeps, tenantId: string, lastEventId: number | null) {
  const heartbeatMs = deps.config.HOLDPOINT_STREAM_HEARTBEAT_MS;
  return streamSSE(
    c,
    async (stream) => {
      let closed = false;
      let wake: () => void = () => {};
      const woken = () => new Promise<void>((r) => (wake = r));
      let kicked = true;
      const kick = () => {
        kicked = true;
        wake();
      };
      const unsubscribe = deps.notifier.onTenant(tenantId, (why) => {
        if (why === 'closed') closed = true;
        kick();
      });
      stream.onAbort(() => {
        closed = true;
        wake();
      });
      const heartbeat = setInterval(() => {
        // A missed NOTIFY costs at most one heartbeat: read on every beat too.
        stream.write(': keep-alive\n\n').catch(() => {});
        kick();
      }, heartbeatMs);
      try {
        const head = await chainHead(deps.sql, tenantId);
        let seq = lastEventId ?? head;
        if (seq > head || head - seq > MAX_REPLAY) {
          seq = head;
          await stream.writeSSE({ event: 'reset', id: String(seq), data: JSON.stringify({ seq }) });
        } else {
          await stream.writeSSE({ event: 'ready', id: String(seq), data: JSON.stringify({ seq }), retry: 2_000 });
        }
        while (!closed) {
          if (!kicked) await woken();
          kicked = false;
          for (;;) {
            if (closed) break;
            const rows = await eventsForTenant(deps.sql, tenantId, seq, BATCH);
            if (rows.length === 0) break;
            const ids = [...new Set(rows.map((r) => r.approval_id).filter((x): x is string => x !== null))];
            const approvals = await approvalsByIds(deps.sql, tenantId, ids);
            const votes = await votesFor(deps.sql, ids);
            const views: ApprovalView[] = approvals.map((a) => renderApproval(a, votes.get(a.id) ?? []));
            const events = rows.map(toChainEvent);
            seq = Number(rows[rows.length - 1]!.seq);
            await stream.writeSSE({ event: 'change', id: String(seq), data: JSON.stringify({ approvals: views, events }) });
            if (rows.length < BATCH) break;
          }
        }
      } catch (err) {
        if (!closed) deps.log.warn('live feed ended by an error', { tenant_id: tenantId, err });
      } finally {
        clearInterval(heartbeat);
        unsubscribe();
      }
    },
    async (err, stream) => {
      deps.log.warn('live feed failed', { tenant_id: tenantId, err });
      await stream.close();
    },
  );
}
