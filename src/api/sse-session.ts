// The life of one Server-Sent Events stream, shared by the live feed
// (src/api/stream.ts: /v1/stream and the inbox's /ui/stream) and the
// dashboard's feed (src/ui/dashboard-stream.ts). What they have in common:
//  * a keep-alive comment every heartbeat, and on each heartbeat a re-check of
//    the credential that opened the stream (a failed one ends it
//    `unauthorized`; a check that throws is tried again next heartbeat);
//  * a maximum lifetime, jittered over its last tenth so streams opened
//    together do not all reconnect together;
//  * a queue of messages for a slow reader, capped at MAX_QUEUED (beyond it the
//    stream ends `behind` and the client reconnects);
//  * a final `end` event with the reason, unless the client went away;
//  * releasing the caller's open-stream slot exactly once, however it ends.
// What each stream opens with and how it writes a message is the caller's.
import type { Context } from 'hono';
import { streamSSE, type SSEMessage, type SSEStreamingApi } from 'hono/streaming';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';

/** Messages waiting for a client that reads slowly; beyond this its stream ends and it reconnects. */
export const MAX_QUEUED = 500;
/** How long a client asked to reconnect waits first (the SSE `retry` field). */
export const RECONNECT_MS = 2_000;

export type EndReason = 'lifetime' | 'behind' | 'shutdown' | 'unauthorized';

/** What a stream's opener and its subscription see of the stream. */
export interface SseSession<M> {
  readonly stream: SSEStreamingApi;
  /** Messages waiting to be written, oldest first; the opener may put a replay at its front. */
  readonly queue: M[];
  /** Why the stream is ending, once it is. */
  readonly ending: EndReason | null;
  end(why: EndReason): void;
  /** Queues a message unless the stream is ending; too many waiting ends it `behind`. */
  push(m: M): void;
  /** Lets the writer see the queue again (after changing it other than by push). */
  wake(): void;
  /** The subscription feeding the queue; stopped when the stream ends. */
  hold(sub: { stop(): void }): void;
}

export interface SseSessionDeps {
  log: Logger;
  config: Pick<Config, 'HOLDPOINT_STREAM_HEARTBEAT_MS' | 'HOLDPOINT_STREAM_MAX_LIFETIME_MS'>;
}

export interface SseSessionOptions<M> {
  /** Names the stream in log lines ('live feed', 'dashboard feed'). */
  name: string;
  tenantId: string;
  /** Whether the credential that opened the stream is still good; asked on every heartbeat. */
  stillValid: () => Promise<boolean>;
  /** Gives back the stream's slot (takeOpenSlot); called once when the stream ends. */
  release: () => void;
  /** Writes the opening messages and subscribes (handing the subscription to `hold`). */
  open: (s: SseSession<M>) => Promise<void>;
  /** Writes one queued message. */
  write: (m: M, stream: SSEStreamingApi) => Promise<void>;
  /** The closing `end` event for a reason. */
  endMessage: (reason: EndReason) => SSEMessage;
}

export function sseSession<M>(c: Context, deps: SseSessionDeps, o: SseSessionOptions<M>) {
  const heartbeatMs = deps.config.HOLDPOINT_STREAM_HEARTBEAT_MS;
  // Spread over the last tenth, so streams opened together do not all reconnect together.
  const lifetimeMs = Math.round(deps.config.HOLDPOINT_STREAM_MAX_LIFETIME_MS * (0.9 + Math.random() * 0.1));
  return streamSSE(
    c,
    async (stream) => {
      let aborted = false;
      let ending: EndReason | null = null;
      const queue: M[] = [];
      let wake: () => void = () => {};
      const woken = () => new Promise<void>((r) => (wake = r));
      const end = (why: EndReason) => {
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
      const session: SseSession<M> = {
        stream,
        queue,
        get ending() {
          return ending;
        },
        end,
        push(m) {
          if (ending) return;
          queue.push(m);
          if (queue.length > MAX_QUEUED) end('behind');
          wake();
        },
        wake: () => wake(),
        hold: (sub) => (following = sub),
      };
      let checking = false;
      const heartbeat = setInterval(() => {
        stream.write(': keep-alive\n\n').catch(() => {});
        if (checking || ending) return;
        checking = true;
        o.stillValid()
          .then((ok) => {
            if (!ok) end('unauthorized');
          })
          .catch((err: unknown) => deps.log.debug(`${o.name} credential check failed; trying again next heartbeat`, { err }))
          .finally(() => (checking = false));
      }, heartbeatMs);
      const lifetime = setTimeout(() => end('lifetime'), lifetimeMs);
      try {
        await o.open(session);
        for (;;) {
          while (queue.length > 0 && !aborted) await o.write(queue.shift()!, stream);
          if (aborted || ending) break;
          await woken();
        }
        if (ending && !aborted) await stream.writeSSE(o.endMessage(ending));
      } catch (err) {
        if (!aborted) deps.log.warn(`${o.name} ended by an error`, { tenant_id: o.tenantId, err });
      } finally {
        clearInterval(heartbeat);
        clearTimeout(lifetime);
        following?.stop();
        o.release();
      }
    },
    async (err, stream) => {
      deps.log.warn(`${o.name} failed`, { tenant_id: o.tenantId, err });
      await stream.close();
    },
  );
}
