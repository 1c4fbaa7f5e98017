// Concurrency slots for webhook attempts, shared by every worker process
// through Redis, so one slow receiver (or one tenant with many) can hold only
// its share of the delivery workers however many jobs it has queued.
//
// A slot is a member of a sorted set scored by when it lapses (Redis' own
// clock, so worker clocks do not matter). Its holder renews it every third of
// `ttlMs` while the attempt runs; taking one first drops lapsed members, so a
// worker killed mid-attempt leaks its slot for at most `ttlMs` — less than the
// job's own lock, so the retry of that job never waits on its own dead slot.
// There are two sets per attempt — the tenant's and the tenant's receiver
// (scheme://host:port of the URL) — and the slot is taken in both or neither.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[1])
  redis.call('PEXPIRE', key, ttl)
end
return 0
`;

const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + ttl, ARGV[1])
  redis.call('PEXPIRE', key, ttl)
end
return 0
`;

export interface SlotLimits {
  perTenant: number;
  perTarget: number;
  /** How long a slot outlives a holder that stopped renewing it (a killed worker). */
  ttlMs: number;
}

export type Taken = { ok: true; release(): Promise<void> } | { ok: false; full: 'tenant' | 'target' };

export interface DeliverySlots {
  take(tenantId: string, url: string): Promise<Taken>;
}

/** The receiver a URL points at: what one slow server is, whatever its paths. */
export function receiverOf(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

export function createDeliverySlots(redis: Redis, prefix: string, limits: SlotLimits): DeliverySlots {
  const keys = (tenantId: string, url: string) => [`${prefix}:whslot:{${tenantId}}:tenant`, `${prefix}:whslot:{${tenantId}}:target:${receiverOf(url)}`];
  return {
    async take(tenantId, url) {
      const k = keys(tenantId, url);
      const member = randomUUID();
      const r = Number(await redis.eval(TAKE, 2, k[0]!, k[1]!, member, limits.ttlMs, limits.perTenant, limits.perTarget));
      if (r === 1) return { ok: false, full: 'tenant' };
      if (r === 2) return { ok: false, full: 'target' };
      // A failed renewal is not fatal: the slot lapses and the cap is briefly one over.
      const renew = setInterval(() => {
        redis.eval(RENEW, 2, k[0]!, k[1]!, member, limits.ttlMs).catch(() => undefined);
      }, Math.max(50, Math.floor(limits.ttlMs / 3)));
      renew.unref();
      return {
        ok: true,
        async release() {
          clearInterval(renew);
          await redis.multi().zrem(k[0]!, member).zrem(k[1]!, member).exec();
        },
      };
    },
  };
}
