// Slack's signature proves who sent a request and that it is under 5 minutes
// old, not that it is the first time we see it: a captured request can be
// sent again inside the window. Each verified signature is remembered in Redis
// (SET NX EX) for as long as its timestamp would still pass, so the same bytes
// are acted on once.
//
// Redis unreachable: fail open — the request is handled and a warning logged.
// What a replay could do is what the original did: a decision is idempotent
// (the same person's same vote again changes nothing; a decided approval
// refuses every later click), and the signature still has to be Slack's.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import { DEFAULT_TOLERANCE_SECONDS } from './verify.ts';

export type ReplayVerdict = 'first' | 'replayed' | 'unchecked';

export interface ReplayGuard {
  /** Claims a verified request's signature: 'first' once, 'replayed' after; 'unchecked' when Redis cannot say. */
  claim(signature: string): Promise<ReplayVerdict>;
  /** Lets the same request through again (it failed on our side before it did anything). Best effort. */
  forget(signature: string): Promise<void>;
}

export function createReplayGuard(redis: Pick<Redis, 'set' | 'del' | 'status'>, prefix: string, log: Logger, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS): ReplayGuard {
  const key = (signature: string) => `${prefix}:slack:seen:${createHash('sha256').update(signature).digest('hex')}`;
  // A timestamp passes while it is within the tolerance on either side of our
  // clock, so a signature stays replayable for up to twice the tolerance.
  const ttl = 2 * toleranceSeconds;
  return {
    async claim(signature) {
      if (redis.status !== 'ready') {
        log.warn('slack replay check skipped: redis is not connected (failing open; decisions are idempotent)');
        return 'unchecked';
      }
      try {
        const set = await redis.set(key(signature), '1', 'EX', ttl, 'NX');
        return set === 'OK' ? 'first' : 'replayed';
      } catch (err) {
        log.warn('slack replay check failed (failing open; decisions are idempotent)', { err });
        return 'unchecked';
      }
    },
    async forget(signature) {
      await redis.del(key(signature)).catch(() => undefined);
    },
  };
}
