// The dashboard's live feed of decisions: every check and guard evaluation, as
// it is recorded.
//
// Announcing. After a check or guard has inserted its decision (the insert is
// one autocommitted statement, so it is committed when the call returns), the
// process NOTIFYs `holdpoint_decision` with "<tenant id> <id>,<id>,…". Ids from
// one process are gathered for FLUSH_MS and sent in batches of BATCH_IDS
// (< 6 kB, under Postgres's 8000-byte payload limit), so a burst of calls costs
// a few NOTIFYs, not one each. A failed NOTIFY is only logged: the feed is a
// view, and its catch-up read (below) finds what was not announced.
//
// Following. Each API process LISTENs once (lazily, on the first follower) and
// hands a tenant's ids to that tenant's followers (dashboard streams). Because
// NOTIFYs sent while the LISTEN connection was down are lost, and a process
// may die between its commit and its NOTIFY, each tenant with followers is
// also read on every heartbeat and after every LISTEN (re)connect: the newest
// decisions of the last CATCH_UP_MS that were not handed out yet. So a lost
// announcement delays a row by at most one heartbeat; ids are given at most
// once per process (and the page ignores a row it already shows). The tenant's
// audit-chain NOTIFY is passed on too, so a page can re-read the rows of calls
// whose approval was still open.
import type { Sql } from '../db/client.ts';
import { decisionIdsSince } from '../db/dashboard.ts';
import type { Logger } from '../log.ts';
import type { Notifier } from './notifier.ts';
import { closedFollow, joinTenant, type TenantFollowing } from './tenant-followers.ts';

export const DECISION_CHANNEL = 'holdpoint_decision';
const FLUSH_MS = 25;
const BATCH_IDS = 150;
/** How far back a catch-up read looks: longer than any commit takes after its decision's timestamp. */
const CATCH_UP_MS = 30_000;
const CATCH_UP_ROWS = 100;
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Announcer {
  announce(tenantId: string, decisionId: string): void;
}

const announcers = new WeakMap<Sql, Announcer>();

function announcerFor(sql: Sql, log: Logger): Announcer {
  let a = announcers.get(sql);
  if (a) return a;
  const pending = new Map<string, Set<string>>();
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const batches = [...pending];
    pending.clear();
    for (const [tenantId, set] of batches) {
      const ids = [...set];
      for (let i = 0; i < ids.length; i += BATCH_IDS) {
        const payload = `${tenantId} ${ids.slice(i, i + BATCH_IDS).join(',')}`;
        sql`SELECT pg_notify(${DECISION_CHANNEL}, ${payload})`.catch((err: unknown) => log.debug('decision feed NOTIFY failed; the catch-up read will find it', { err }));
      }
    }
  };
  a = {
    announce(tenantId, decisionId) {
      let set = pending.get(tenantId);
      if (!set) pending.set(tenantId, (set = new Set()));
      set.add(decisionId);
      if (!timer) {
        timer = setTimeout(flush, FLUSH_MS);
        timer.unref();
      }
    },
  };
  announcers.set(sql, a);
  return a;
}

type Announced = (tenantId: string, ...rest: never[]) => Promise<{ decision_id: string }>;

/**
 * The guard flow with every recorded decision announced to the live feed. A
 * replayed guard announces its first decision again; followers drop repeats.
 */
export function announcingDecisions<F extends { check: Announced; guard: Announced }>(deps: { sql: Sql; log: Logger }, flow: F): F {
  const a = announcerFor(deps.sql, deps.log);
  const wrap = <G extends Announced>(fn: G): G =>
    (async (tenantId: string, ...rest: never[]) => {
      const out = await fn(tenantId, ...rest);
      a.announce(tenantId, out.decision_id);
      return out;
    }) as G;
  return { ...flow, check: wrap(flow.check), guard: wrap(flow.guard) };
}

export interface DecisionFollower {
  /** New decision ids of the tenant. Must not block. */
  push(ids: string[]): void;
  /** Something on the tenant's audit chain changed (an approval was decided, say): held calls may have moved on. */
  approvalsChanged(): void;
  /** The process is shutting down. */
  closed(): void;
}

export interface DecisionHub {
  follow(tenantId: string, f: DecisionFollower): { stop(): void };
}

interface TenantFeed extends TenantFollowing<DecisionFollower> {
  /** Ids handed out lately (id → when), so a NOTIFY and a catch-up never give one twice. */
  sent: Map<string, number>;
  /** Nothing older than this is caught up: the page showed it when it was rendered. */
  floor: number;
  reading: boolean;
}

export function createDecisionHub(deps: { sql: Sql; notifier: Notifier; log: Logger; heartbeatMs: number; clock: () => Date }): DecisionHub {
  const feeds = new Map<string, TenantFeed>();
  let closed = false;
  let listening: Promise<{ unlisten(): Promise<void> } | undefined> | undefined;

  function hand(feed: TenantFeed, ids: string[]) {
    const now = deps.clock().getTime();
    const fresh = ids.filter((id) => !feed.sent.has(id));
    if (fresh.length === 0) return;
    for (const id of fresh) feed.sent.set(id, now);
    for (const [id, at] of feed.sent) {
      if (now - at <= 2 * CATCH_UP_MS) break;
      feed.sent.delete(id);
    }
    for (const f of feed.followers) f.push(fresh);
  }

  function onNotify(payload: string) {
    const space = payload.indexOf(' ');
    const feed = feeds.get(payload.slice(0, space));
    if (!feed || space < 0) return;
    hand(feed, payload.slice(space + 1).split(',').filter((id) => ID.test(id)));
  }

  async function catchUp(tenantId: string, feed: TenantFeed) {
    if (feed.reading || closed) return;
    feed.reading = true;
    try {
      const since = new Date(Math.max(feed.floor, deps.clock().getTime() - CATCH_UP_MS));
      const rows = await decisionIdsSince(deps.sql, tenantId, since, CATCH_UP_ROWS);
      hand(feed, rows.reverse().map((r) => r.id));
    } catch (err) {
      deps.log.debug('decision feed catch-up failed; trying again next heartbeat', { tenant_id: tenantId, err });
    } finally {
      feed.reading = false;
    }
  }

  function listen() {
    listening ??= deps.sql
      .listen(DECISION_CHANNEL, onNotify, () => {
        // (Re)connected: whatever was announced while the connection was down is lost; read it.
        for (const [id, feed] of feeds) void catchUp(id, feed);
      })
      .catch((err: unknown) => {
        deps.log.warn('decision feed LISTEN failed; streams fall back to reading on every heartbeat', { err });
        listening = undefined;
        return undefined;
      });
  }

  function closeAll() {
    if (closed) return;
    closed = true;
    for (const [, feed] of feeds) {
      clearInterval(feed.timer);
      for (const f of [...feed.followers]) f.closed();
    }
    feeds.clear();
    void listening?.then((l) => l?.unlisten()).catch(() => undefined);
  }

  return {
    follow(tenantId, follower) {
      if (closed) return closedFollow(follower);
      let feed = feeds.get(tenantId);
      if (!feed) {
        const created: TenantFeed = {
          followers: new Set(),
          sent: new Map(),
          floor: deps.clock().getTime(),
          reading: false,
          timer: setInterval(() => {
            if (!listening) listen();
            void catchUp(tenantId, created);
          }, deps.heartbeatMs),
          unsubscribe: () => {},
        };
        created.timer.unref();
        feeds.set(tenantId, created);
        // The chain's NOTIFY (src/services/notifier.ts) says approvals moved; its close, at shutdown, ends every stream.
        created.unsubscribe = deps.notifier.onTenant(tenantId, (why) => {
          if (why === 'closed') closeAll();
          else for (const f of created.followers) f.approvalsChanged();
        });
        if (closed) return closedFollow(follower);
        feed = created;
      }
      listen();
      return joinTenant(feeds, tenantId, feed, follower);
    },
  };
}
