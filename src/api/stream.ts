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
//   end     {reason, seq}         — the server ends the stream: `lifetime`
//                                   (reconnect; id and Last-Event-ID resume
//                                   it), `behind` (the client read too slowly;
//                                   reconnect), `shutdown`, or `unauthorized`
//                                   (the key was revoked or the session ended;
//                                   a reconnect gets 401)
// A comment line every `heartbeatMs` keeps proxies from closing the socket;
// on each heartbeat the stream's credential is checked again (that lifecycle
// is src/api/sse-session.ts, shared with the dashboard's feed). The reads are
// shared by every stream of the tenant (src/services/feeds.ts).
import type { Context } from 'hono';
import type { Config } from '../config.ts';
import type { Sql } from '../db/client.ts';
import { chainHead } from '../db/inbox.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { FeedHub, FeedMessage } from '../services/feeds.ts';
import type { OpenKind, OpenLimits } from './open-limits.ts';
import { RECONNECT_MS, sseSession } from './sse-session.ts';

export interface StreamDeps {
  sql: Sql;
  feeds: FeedHub;
  limits: OpenLimits;
  log: Logger;
  config: Pick<Config, 'HOLDPOINT_STREAM_HEARTBEAT_MS' | 'HOLDPOINT_STREAM_MAX_LIFETIME_MS'>;
}

/** Further behind than this and the client is told to reload rather than replay. */
const MAX_REPLAY = 5_000;
/** How long a client over its cap should wait before trying again. */
export const RETRY_AFTER_SECONDS = 5;

/** Last-Event-ID as a chain seq, or null when absent or not one of ours. */
export function parseLastEventId(raw: string | undefined): number | null {
  if (!raw || !/^\d{1,15}$/.test(raw)) return null;
  return Number(raw);
}

/** Takes one of `holder`'s slots of `kind`, or refuses with 429 rate_limited and Retry-After. */
export function takeOpenSlot(limits: OpenLimits, kind: OpenKind, holder: string): () => void {
  const release = limits.acquire(kind, holder);
  if (release) return release;
  const what = kind === 'stream' ? 'live-feed streams' : 'long-polls';
  throw new AppError('rate_limited', `this credential already has its limit of ${what} open; close one or retry later`, { retry_after_seconds: RETRY_AFTER_SECONDS });
}

export interface TenantStreamOptions {
  tenantId: string;
  lastEventId: number | null;
  /** Whether the credential that opened the stream is still good; asked on every heartbeat. */
  stillValid: () => Promise<boolean>;
  /** Gives back the stream's slot (takeOpenSlot); called once when the stream ends. */
  release: () => void;
}

export function tenantStream(c: Context, deps: StreamDeps, o: TenantStreamOptions) {
  let seq = 0;
  return sseSession<FeedMessage>(c, deps, {
    ...o,
    name: 'live feed',
    async open(s) {
      const head = await chainHead(deps.sql, o.tenantId);
      seq = o.lastEventId ?? head;
      if (seq > head || head - seq > MAX_REPLAY) {
        seq = head;
        await s.stream.writeSSE({ event: 'reset', id: String(seq), data: JSON.stringify({ seq }) });
      } else {
        await s.stream.writeSSE({ event: 'ready', id: String(seq), data: JSON.stringify({ seq }), retry: RECONNECT_MS });
      }
      s.hold(deps.feeds.follow(o.tenantId, seq, { push: (m) => s.push(m), closed: () => s.end('shutdown') }));
    },
    async write(m, stream) {
      await stream.writeSSE({ event: 'change', id: String(m.seq), data: m.data });
      seq = m.seq;
    },
    endMessage: (reason) => ({ event: 'end', id: String(seq), data: JSON.stringify({ reason, seq }), retry: RECONNECT_MS }),
  });
}
