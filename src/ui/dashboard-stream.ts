// The dashboard's Server-Sent Events: ids of newly recorded decisions (the page
// fetches their rendered rows from /ui/fragments/decisions, so nothing an agent
// wrote travels as JSON into the page's script). Same rules as the inbox's
// stream (src/api/stream.ts): a keep-alive comment and a re-check of the
// session every heartbeat, an `end` event at the maximum lifetime, when the
// client reads too slowly, on shutdown or when the session is gone; the caller
// holds one of the key's stream slots for the stream's life. Messages:
//   ready      {}
//   decisions  {ids}   — id: the newest id sent; a reconnect with it as
//                        Last-Event-ID is first sent the decisions recorded
//                        since shortly before it (the page skips rows it has)
//   approvals  {}      — an approval of the tenant changed: rows showing an
//                        open approval may be out of date
//   end        {reason}
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Config } from '../config.ts';
import type { Sql } from '../db/client.ts';
import { decisionIdsSince } from '../db/dashboard.ts';
import type { Logger } from '../log.ts';
import type { DecisionHub } from '../services/decision-feed.ts';
import { UUID } from './session.ts';

const MAX_QUEUED = 500;
const RECONNECT_MS = 2_000;
/** A resumed stream replays from this long before its last id's time (commits land slightly out of order). */
const RESUME_SLACK_MS = 5_000;
const RESUME_ROWS = 100;

export interface DecisionStreamDeps {
  sql: Sql;
  hub: DecisionHub;
  log: Logger;
  config: Pick<Config, 'HOLDPOINT_STREAM_HEARTBEAT_MS' | 'HOLDPOINT_STREAM_MAX_LIFETIME_MS'>;
}

/** The time inside a uuidv7 decision id (its first 48 bits are Unix milliseconds), or null. */
export function idTime(id: string | undefined): number | null {
  if (!id || !UUID.test(id) || id[14] !== '7') return null;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

export function decisionStream(c: Context, deps: DecisionStreamDeps, o: { tenantId: string; lastEventId: string | undefined; stillValid: () => Promise<boolean>; release: () => void }) {
  const heartbeatMs = deps.config.HOLDPOINT_STREAM_HEARTBEAT_MS;
  const lifetimeMs = Math.round(deps.config.HOLDPOINT_STREAM_MAX_LIFETIME_MS * (0.9 + Math.random() * 0.1));
  return streamSSE(
    c,
    async (stream) => {
      let aborted = false;
      let ending: 'lifetime' | 'behind' | 'shutdown' | 'unauthorized' | null = null;
      const queue: (string[] | 'approvals')[] = [];
      let wake: () => void = () => {};
      const woken = () => new Promise<void>((r) => (wake = r));
      const end = (why: NonNullable<typeof ending>) => {
        ending ??= why;
        if (why === 'unauthorized' || why === 'behind') queue.length = 0;
        wake();
      };
      stream.onAbort(() => {
        aborted = true;
        wake();
      });
      let checking = false;
      const heartbeat = setInterval(() => {
        stream.write(': keep-alive\n\n').catch(() => {});
        if (checking || ending) return;
        checking = true;
        o.stillValid()
          .then((ok) => {
            if (!ok) end('unauthorized');
          })
          .catch((err: unknown) => deps.log.debug('dashboard feed credential check failed; trying again next heartbeat', { err }))
          .finally(() => (checking = false));
      }, heartbeatMs);
      const lifetime = setTimeout(() => end('lifetime'), lifetimeMs);
      let following: { stop(): void } | undefined;
      try {
        following = deps.hub.follow(o.tenantId, {
          push(ids) {
            if (ending) return;
            queue.push(ids);
            if (queue.length > MAX_QUEUED) end('behind');
            wake();
          },
          approvalsChanged() {
            if (ending || queue.at(-1) === 'approvals') return;
            queue.push('approvals');
            wake();
          },
          closed: () => end('shutdown'),
        });
        await stream.writeSSE({ event: 'ready', data: '{}', retry: RECONNECT_MS });
        const since = idTime(o.lastEventId);
        if (since !== null) {
          const missed = await decisionIdsSince(deps.sql, o.tenantId, new Date(since - RESUME_SLACK_MS), RESUME_ROWS);
          if (missed.length > 0) queue.unshift(missed.reverse().map((r) => r.id));
        }
        for (;;) {
          while (queue.length > 0 && !aborted) {
            const m = queue.shift()!;
            if (m === 'approvals') await stream.writeSSE({ event: 'approvals', data: '{}' });
            else await stream.writeSSE({ event: 'decisions', id: m.at(-1)!, data: JSON.stringify({ ids: m }) });
          }
          if (aborted || ending) break;
          await woken();
        }
        if (ending && !aborted) await stream.writeSSE({ event: 'end', data: JSON.stringify({ reason: ending }), retry: RECONNECT_MS });
      } catch (err) {
        if (!aborted) deps.log.warn('dashboard feed ended by an error', { tenant_id: o.tenantId, err });
      } finally {
        clearInterval(heartbeat);
        clearTimeout(lifetime);
        following?.stop();
        o.release();
      }
    },
    async (err, stream) => {
      deps.log.warn('dashboard feed failed', { tenant_id: o.tenantId, err });
      await stream.close();
    },
  );
}
