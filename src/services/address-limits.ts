// Fixed-window counters per client address in Redis, for the requests an
// attacker can make without a credential: sign-ins and API calls with an
// unknown or revoked key. The window starts at an address's first hit.
//
// Fails open: if Redis does not answer within a moment, the request goes on.
// These limits only slow guessing and floods down; every request is still
// authenticated against Postgres, so an outage of Redis must not lock anyone out.
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';

export type AddressBucket = 'signin' | 'bad_key';

export type Verdict = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface AddressLimiter {
  /** Counts one request from `address` against `bucket`. */
  hit(bucket: AddressBucket, address: string | undefined): Promise<Verdict>;
}

const HIT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
`;

/** Past this, a slow Redis counts as down (the limiter fails open). */
const ANSWER_WITHIN_MS = 250;

export function createAddressLimiter(deps: {
  redis: Redis;
  prefix: string;
  /** Requests per window per address; 0 turns the bucket off. */
  limits: Record<AddressBucket, number>;
  windowMs: number;
  log: Logger;
}): AddressLimiter {
  return {
    async hit(bucket, address) {
      const limit = deps.limits[bucket];
      if (!address || limit <= 0) return { ok: true };
      let timer: NodeJS.Timeout | undefined;
      try {
        const r = (await Promise.race([
          deps.redis.eval(HIT, 1, `${deps.prefix}:addr:${bucket}:${address}`, deps.windowMs),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ANSWER_WITHIN_MS} ms`)), ANSWER_WITHIN_MS);
          }),
        ])) as [number, number];
        const [count, ttl] = r.map(Number) as [number, number];
        if (count <= limit) return { ok: true };
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)) };
      } catch (err) {
        deps.log.debug('address rate limit unavailable; allowing the request', { bucket, err });
        return { ok: true };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
