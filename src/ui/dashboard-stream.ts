// The dashboard's Server-Sent Events: ids of newly recorded decisions (the page
// fetches their rendered rows from /ui/fragments/decisions, so nothing an agent
// wrote travels as JSON into the page's script). Same rules as the inbox's
// stream (src/api/stream.ts), by the same lifecycle (src/api/sse-session.ts):
// a keep-alive comment and a re-check of the session every heartbeat, an `end`
// event at the maximum lifetime, when the client reads too slowly, on shutdown
// or when the session is gone; the caller holds one of the key's stream slots
// for the stream's life. Messages:
//   ready      {}
//   decisions  {ids}   — id: the newest id sent; a reconnect with it as
//                        Last-Event-ID is first sent the decisions recorded
//                        since shortly before it (the page skips rows it has)
//   approvals  {}      — an approval of the tenant changed: rows showing an
//                        open approval may be out of date
//   end        {reason}
import type { Context } from 'hono';
import { RECONNECT_MS, sseSession } from '../api/sse-session.ts';
import type { Config } from '../config.ts';
import type { Sql } from '../db/client.ts';
import { decisionIdsSince } from '../db/dashboard.ts';
import type { Logger } from '../log.ts';
import type { DecisionHub } from '../services/decision-feed.ts';
import { UUID } from './session.ts';

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
  return sseSession<string[] | 'approvals'>(c, deps, {
    ...o,
    name: 'dashboard feed',
    async open(s) {
      s.hold(
        deps.hub.follow(o.tenantId, {
          push: (ids) => s.push(ids),
          approvalsChanged() {
            // One pending notice is enough: the page re-checks every open row either way.
            if (s.ending || s.queue.at(-1) === 'approvals') return;
            s.queue.push('approvals');
            s.wake();
          },
          closed: () => s.end('shutdown'),
        }),
      );
      await s.stream.writeSSE({ event: 'ready', data: '{}', retry: RECONNECT_MS });
      const since = idTime(o.lastEventId);
      if (since !== null) {
        const missed = await decisionIdsSince(deps.sql, o.tenantId, new Date(since - RESUME_SLACK_MS), RESUME_ROWS);
        if (missed.length > 0) s.queue.unshift(missed.reverse().map((r) => r.id));
      }
    },
    async write(m, stream) {
      if (m === 'approvals') await stream.writeSSE({ event: 'approvals', data: '{}' });
      else await stream.writeSSE({ event: 'decisions', id: m.at(-1)!, data: JSON.stringify({ ids: m }) });
    },
    endMessage: (reason) => ({ event: 'end', data: JSON.stringify({ reason }), retry: RECONNECT_MS }),
  });
}
