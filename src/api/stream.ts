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
// on each heartbeat the stream's credential is checked again. The reads are
// shared by every stream of the tenant (src/services/feeds.ts).
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Config } from '../config.ts';
import type { Sql } from '../db/client.ts';
import { chainHead } from '../db/inbox.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { FeedHub, FeedMessage } from '../services/feeds.ts';
import type { OpenKind, OpenLimits } from './open-limits.ts';

export interface StreamDeps {
  sql: Sql;
  feeds: FeedHub;
  limits: OpenLimits;
  log: Logger;
  config: Pick<Config, 'HOLDPOINT_STREAM_HEARTBEAT_MS' | 'HOLDPOINT_STREAM_MAX_LIFETIME_MS'>;
}

/** Further behind than this and the client is told to reload rather than replay. */
const MAX_REPLAY = 5_000;
/** Messages waiting for a client that reads slowly; beyond this its stream ends and it reconnects. */
const MAX_QUEUED = 500;
/** How long a client asked to reconnect waits first (the SSE `retry` field). */
const RECONNECT_MS = 2_000;
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
  const heartbeatMs = deps.config.HOLDPOINT_STREAM_HEARTBEAT_MS;
  // Spread over the last tenth, so streams opened together do not all reconnect together.
  const lifetimeMs = Math.round(deps.config.HOLDPOINT_STREAM_MAX_LIFETIME_MS * (0.9 + Math.random() * 0.1));
  return streamSSE(
    c,
    async (stream) => {
      let aborted = false;
      let ending: 'lifetime' | 'behind' | 'shutdown' | 'unauthorized' | null = null;
      const queue: FeedMessage[] = [];
      let wake: () => void = () => {};
      const woken = () => new Promise<void>((r) => (wake = r));
      const end = (why: NonNullable<typeof ending>) => {
        ending ??= why;
        // Not one more event for a dead credential; a client too slow to keep up resumes from what it has.
        if (why === 'unauthorized' || why === 'behind') queue.length = 0;
        wake();
      };
      stream.onAbort(() => {
        aborted = true;
        wake();
      });
      let following: { stop(): void } | undefined;
      let checking = false;
      const heartbeat = setInterval(() => {
        stream.write(': keep-alive\n\n').catch(() => {});
        if (checking || ending) return;
        checking = true;
        o.stillValid()
          .then((ok) => {
            if (!ok) end('unauthorized');
          })
          .catch((err: unknown) => deps.log.debug('live feed credential check failed; trying again next heartbeat', { err }))
          .finally(() => (checking = false));
      }, heartbeatMs);
      const lifetime = setTimeout(() => end('lifetime'), lifetimeMs);
      let seq = 0;
      try {
        const head = await chainHead(deps.sql, o.tenantId);
        seq = o.lastEventId ?? head;
        if (seq > head || head - seq > MAX_REPLAY) {
          seq = head;
          await stream.writeSSE({ event: 'reset', id: String(seq), data: JSON.stringify({ seq }) });
        } else {
          await stream.writeSSE({ event: 'ready', id: String(seq), data: JSON.stringify({ seq }), retry: RECONNECT_MS });
        }
        following = deps.feeds.follow(o.tenantId, seq, {
          push(m) {
            if (ending) return;
            queue.push(m);
            if (queue.length > MAX_QUEUED) end('behind');
            wake();
          },
          closed: () => end('shutdown'),
        });
        for (;;) {
          while (queue.length > 0 && !aborted) {
            const m = queue.shift()!;
            await stream.writeSSE({ event: 'change', id: String(m.seq), data: m.data });
            seq = m.seq;
          }
          if (aborted || ending) break;
          await woken();
        }
        if (ending && !aborted) {
          await stream.writeSSE({ event: 'end', id: String(seq), data: JSON.stringify({ reason: ending, seq }), retry: RECONNECT_MS });
        }
      } catch (err) {
        if (!aborted) deps.log.warn('live feed ended by an error', { tenant_id: o.tenantId, err });
      } finally {
        clearInterval(heartbeat);
        clearTimeout(lifetime);
        following?.stop();
        o.release();
      }
    },
    async (err, stream) => {
      deps.log.warn('live feed failed', { tenant_id: o.tenantId, err });
      await stream.close();
    },
  );
}
