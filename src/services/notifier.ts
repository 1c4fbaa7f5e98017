// Wakes long-polls when an approval's status changes. Postgres NOTIFYs on
// every status change (trigger in 0001_init.sql); one LISTEN connection per
// process fans them out to waiters. After a reconnect every waiter is woken to
// re-read, because NOTIFYs sent while the connection was down are lost.
import type { Sql } from '../db/client.ts';
import type { Logger } from '../log.ts';

export const APPROVAL_CHANNEL = 'holdpoint_approval';

export interface Notifier {
  /** Resolves when `id` changes, after `ms`, or on close — whichever is first. */
  wait(id: string, ms: number): { promise: Promise<'changed' | 'timeout' | 'closed'>; cancel(): void };
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createNotifier(sql: Sql, log: Logger): Notifier {
  const waiters = new Map<string, Set<(why: 'changed' | 'closed') => void>>();
  let unlisten: (() => Promise<void>) | undefined;
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

  return {
    async start() {
      const sub = await sql.listen(
        APPROVAL_CHANNEL,
        (payload) => wake(payload, 'changed'),
        () => wakeAll('changed'),
      );
      unlisten = sub.unlisten;
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
      try {
        await unlisten?.();
      } catch (err) {
        log.debug('unlisten failed', { err });
      }
    },
  };
}
