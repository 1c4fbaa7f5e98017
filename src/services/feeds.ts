// The live feeds' fan-out: one reader per tenant per API process, however many
// streams follow that tenant. A change to the tenant's audit chain (a NOTIFY,
// a heartbeat tick, a LISTEN reconnect) makes the hub read the new events and
// the approvals they touched once, and hand the same message to every stream
// of the tenant. With 1,000 open streams an event costs three queries, not
// 3,000.
//
// Each follower has its own position (the last seq it was given). A pass reads
// from the lowest position, so a stream that joined with an old Last-Event-ID
// is caught up by the same reads; a follower is only given events past its own
// position, so nothing is sent twice. Reads of one tenant never overlap: a wake
// during a pass makes one more pass.
import { renderApproval, type ApprovalView } from '../approvals/render.ts';
import { votesFor } from '../db/approvals.ts';
import type { Sql } from '../db/client.ts';
import { eventsForTenant, toChainEvent, type EventRow } from '../db/events.ts';
import { approvalsByIds } from '../db/inbox.ts';
import type { Logger } from '../log.ts';
import type { Notifier } from './notifier.ts';
import { closedFollow, joinTenant, type TenantFollowing } from './tenant-followers.ts';

const BATCH = 200;

/** One `change` message: its SSE id (the last seq) and its JSON. */
export interface FeedMessage {
  seq: number;
  data: string;
}

export interface Follower {
  /** Called with each batch past the follower's position, in chain order. Must not block. */
  push(msg: FeedMessage): void;
  /** The hub is closing (the process is shutting down). */
  closed(): void;
}

export interface FeedHub {
  /** Follows the tenant's chain after `seq`. */
  follow(tenantId: string, seq: number, f: Follower): { stop(): void };
}

interface Position extends Follower {
  seq: number;
}

interface TenantFeed extends TenantFollowing<Position> {
  running: boolean;
  again: boolean;
}

export function createFeedHub(deps: { sql: Sql; notifier: Notifier; log: Logger; heartbeatMs: number }): FeedHub {
  const feeds = new Map<string, TenantFeed>();
  // The notifier closes once, on shutdown; a stream that starts after that ends at once.
  let closed = false;

  function fanOut(feed: TenantFeed, rows: EventRow[], views: ApprovalView[]) {
    const last = Number(rows[rows.length - 1]!.seq);
    const first = Number(rows[0]!.seq);
    let whole: string | undefined;
    for (const f of feed.followers) {
      if (f.seq >= last) continue;
      let data: string;
      if (f.seq < first) {
        data = whole ??= JSON.stringify({ approvals: views, events: rows.map(toChainEvent) });
      } else {
        // Joined mid-batch: only what it has not had, and only the approvals those events touched.
        const mine = rows.filter((r) => Number(r.seq) > f.seq);
        const ids = new Set(mine.map((r) => r.approval_id));
        data = JSON.stringify({ approvals: views.filter((v) => ids.has(v.id)), events: mine.map(toChainEvent) });
      }
      f.seq = last;
      f.push({ seq: last, data });
    }
  }

  async function pump(tenantId: string, feed: TenantFeed) {
    if (feed.running) {
      feed.again = true;
      return;
    }
    feed.running = true;
    try {
      do {
        feed.again = false;
        for (;;) {
          if (feed.followers.size === 0) break;
          let from = Infinity;
          for (const f of feed.followers) from = Math.min(from, f.seq);
          const rows = await eventsForTenant(deps.sql, tenantId, from, BATCH);
          if (rows.length === 0) break;
          const ids = [...new Set(rows.map((r) => r.approval_id).filter((x): x is string => x !== null))];
          const [approvals, votes] = await Promise.all([approvalsByIds(deps.sql, tenantId, ids), votesFor(deps.sql, ids)]);
          fanOut(feed, rows, approvals.map((a) => renderApproval(a, votes.get(a.id) ?? [])));
          if (rows.length < BATCH) break;
        }
      } while (feed.again);
    } catch (err) {
      // The next wake (at the latest the next heartbeat tick) reads again from the same positions.
      deps.log.warn('live feed read failed', { tenant_id: tenantId, err });
    } finally {
      feed.running = false;
    }
  }

  return {
    follow(tenantId, seq, follower) {
      if (closed) return closedFollow(follower);
      let feed = feeds.get(tenantId);
      if (!feed) {
        const created: TenantFeed = {
          followers: new Set(),
          running: false,
          again: false,
          unsubscribe: () => {},
          // A lost NOTIFY costs at most one heartbeat: the tenant is read on every tick too.
          timer: setInterval(() => void pump(tenantId, created), deps.heartbeatMs),
        };
        created.timer.unref();
        created.unsubscribe = deps.notifier.onTenant(tenantId, (why) => {
          if (why === 'closed') {
            closed = true;
            for (const f of [...created.followers]) f.closed();
            return;
          }
          void pump(tenantId, created);
        });
        if (closed) {
          // The notifier closed between the check above and now (it answers `closed` at once).
          clearInterval(created.timer);
          return closedFollow(follower);
        }
        feeds.set(tenantId, created);
        feed = created;
      }
      const pos: Position = { seq, push: (m) => follower.push(m), closed: () => follower.closed() };
      const following = joinTenant(feeds, tenantId, feed, pos);
      // Catch this follower up (a Last-Event-ID behind the head) without waiting for a change.
      void pump(tenantId, feed);
      return following;
    },
  };
}
