// Wakes long-polls when an approval's status changes. Postgres NOTIFYs on
// every status change (trigger in 0001_init.sql); one LISTEN connection per
// process fans them out to waiters. After a reconnect every waiter is woken to
// re-read, because NOTIFYs sent while the connection was down are lost.
//
// The same connection hears `holdpoint_chain` (payload: a tenant id), sent by
// the chainer when it links new audit events; live feeds (the inbox's SSE
// stream) subscribe per tenant and read from their last chain seq. They are
// woken after a reconnect too, and on close, so open streams end.
import type { Sql } from '../db/client.ts';
import { CHAIN_CHANNEL } from '../db/events.ts';
import type { Logger } from '../log.ts';

export const APPROVAL_CHANNEL = 'holdpoint_approval';

export interface Notifier {
  /** Resolves when `id` changes, after `ms`, or on close — whichever is first. */
  wait(id: string, ms: number): { promise: Promise<'changed' | 'timeout' | 'closed'>; cancel(): void };
  /** Calls `fn('changed')` whenever the tenant's chain grows (or may have), `fn('closed')` once on close. */
  onTenant(tenantId: string, fn: (why: 'changed' | 'closed') => void): () => void;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createNotifier(sql: Sql, log: Logger): Notifier {
  const waiters = new Map<string, Set<(why: 'changed' | 'closed') => void>>();
  const tenants = new Map<string, Set<(why: 'changed' | 'closed') => void>>();
  const unlisten: (() => Promise<void>)[] = [];
  let closed = false;

  const wake = (id: string, why: 'changed' | 'closed') => {
    const set = waiters.get(id);
    if (!set) return;
    waiters.delete(id);
    for (const fn of set) fn(why);
  };
  const wakeAll = (why: 'changed' | 'closed') => {
    for (const id of [...waiters.keys()]) wake(id, why);
  };
  const tell = (tenantId: string, why: 'changed' | 'closed') => {
    for (const fn of [...(tenants.get(tenantId) ?? [])]) fn(why);
  };
  const tellAll = (why: 'changed' | 'closed') => {
    for (const id of [...tenants.keys()]) tell(id, why);
  };

  return {
    async start() {
      const sub = await sql.listen(
        APPROVAL_CHANNEL,
        (payload) => wake(payload, 'changed'),
        () => wakeAll('changed'),
      );
      unlisten.push(sub.unlisten);
      const chain = await sql.listen(
        CHAIN_CHANNEL,
        (payload) => tell(payload, 'changed'),
        () => tellAll('changed'),
      );
      unlisten.push(chain.unlisten);
    },
    onTenant(tenantId, fn) {
      if (closed) {
        fn('closed');
        return () => {};
      }
      let set = tenants.get(tenantId);
      if (!set) tenants.set(tenantId, (set = new Set()));
      set.add(fn);
      return () => {
        const s = tenants.get(tenantId);
        s?.delete(fn);
        if (s?.size === 0) tenants.delete(tenantId);
      };
    },
    wait(id, ms) {
      let done!: (why: 'changed' | 'timeout' | 'closed') => void;
      const promise = new Promise<'changed' | 'timeout' | 'closed'>((resolve) => (done = resolve));
      if (closed) {
        done('closed');
        return { promise, cancel() {} };
      }
      const fn = (why: 'changed' | 'closed') => {
        clearTimeout(timer);
        done(why);
      };
      const timer = setTimeout(() => {
        waiters.get(id)?.delete(fn);
        done('timeout');
      }, ms);
      let set = waiters.get(id);
      if (!set) waiters.set(id, (set = new Set()));
      set.add(fn);
      return {
        promise,
        cancel() {
          clearTimeout(timer);
          waiters.get(id)?.delete(fn);
        },
      };
    },
    async close() {
      closed = true;
      wakeAll('closed');
      tellAll('closed');
      for (const u of unlisten.splice(0)) {
        try {
          await u();
        } catch (err) {
          log.debug('unlisten failed', { err });
        }
      }
    },
  };
}
