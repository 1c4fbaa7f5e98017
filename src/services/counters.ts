// The counters behind the stateful guards (budgets, rate limits), kept in Redis.
// The pure engine says what to read (CounterQuery) and what to change
// (CounterOp); this applies them in Lua, so each read is one round trip and each
// apply is atomic: a budget reservation that would pass its limit is refused
// while another call holds the rest, which is what stops 50 concurrent calls
// from overspending. All of a tenant's keys share a hash tag (Redis Cluster).
//
// Layout under <prefix>:ctr:{<tenant>}:
//   w:<key>   ZSET of hits (score = ms), trimmed to its window
//   f:<key>   a flag with a TTL (cooldowns)
//   b:<key>   HASH: "committed" (settled spend) and "r:<reservation>" → "<amount>:<expires ms>"
//   s:<id>    marks a reservation settled, so a repeated settle adds nothing
import type { Redis } from 'ioredis';
import type { CounterOp, CounterQuery, CounterValues } from '../policy/guards/types.ts';

export interface CounterStore {
  read(tenantId: string, queries: readonly CounterQuery[], now: number): Promise<CounterValues>;
  /** Applies ops atomically; `refused` lists the buckets a reservation would have overrun (then nothing is applied). */
  apply(tenantId: string, ops: readonly CounterOp[], reservationId: string, now: number): Promise<{ ok: true } | { ok: false; refused: { key: string; limit: number; total: number }[] }>;
  /** Turns a reservation into spend (`cost`, or the amount reserved when absent). Idempotent. */
  settle(tenantId: string, reservationId: string, buckets: readonly string[], cost: number | null, now: number): Promise<void>;
  /** Drops a reservation: the action did not happen. */
  release(tenantId: string, reservationId: string, buckets: readonly string[]): Promise<void>;
  /**
   * Takes back what `apply` wrote for this reservation id — its window hits and
   * its reservations — when the request failed after evaluation, so a failed
   * call neither counts nor spends. Flags (cooldowns) stay: they may be shared.
   */
  undo(tenantId: string, ops: readonly CounterOp[], reservationId: string): Promise<void>;
}

// A bucket's total: committed spend plus reservations that have not expired
// (expired ones are removed on the way).
const TOTAL = `
local function total(bkey, now)
  local t = tonumber(redis.call('HGET', bkey, 'committed') or '0')
  local all = redis.call('HGETALL', bkey)
  for i = 1, #all, 2 do
    local f = all[i]
    if string.sub(f, 1, 2) == 'r:' then
      local amount, expires = string.match(all[i + 1], '^([^:]+):([^:]+)$')
      if tonumber(expires) <= now then redis.call('HDEL', bkey, f) else t = t + tonumber(amount) end
    end
  end
  return t
end
`;

// ARGV: now, then per query: kind, window_ms. KEYS: the full keys, in order.
const READ = `${TOTAL}
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local kind = ARGV[2 * i]
  local k = KEYS[i]
  if kind == 'window' then
    redis.call('ZREMRANGEBYSCORE', k, '-inf', now - tonumber(ARGV[2 * i + 1]))
    out[i] = tostring(redis.call('ZCARD', k))
  elseif kind == 'flag' then
    out[i] = tostring(redis.call('EXISTS', k))
  else
    out[i] = tostring(total(k, now))
  end
end
return out
`;

// ARGV: now, reservation id, n (number of ops), then per op a fixed 5-slot record:
//   hit:     'hit', window_ms, amount, -, -            KEYS[i] = w:<key>
//   flag:    'flag', ttl_ms, -, -, -                   KEYS[i] = f:<key>
//   bucket:  'res', amount, limit, res_ttl_ms, bucket_ttl_ms   KEYS[i] = b:<key>
// Reservations are checked first; if any would overrun, nothing is written.
const APPLY = `${TOTAL}
local now = tonumber(ARGV[1])
local rid = ARGV[2]
local n = tonumber(ARGV[3])
local refused = {}
for i = 1, n do
  local base = 3 + (i - 1) * 5
  if ARGV[base + 1] == 'res' then
    local t = total(KEYS[i], now)
    local amount, limit = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
    if t + amount > limit + 1e-9 then
      table.insert(refused, KEYS[i]); table.insert(refused, tostring(limit)); table.insert(refused, tostring(t))
    end
  end
end
if #refused > 0 then return refused end
for i = 1, n do
  local base = 3 + (i - 1) * 5
  local kind = ARGV[base + 1]
  local k = KEYS[i]
  if kind == 'hit' then
    local window, amount = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
    for j = 1, amount do redis.call('ZADD', k, now, rid .. ':' .. j) end
    redis.call('PEXPIRE', k, window)
  elseif kind == 'flag' then
    redis.call('SET', k, '1', 'PX', tonumber(ARGV[base + 2]))
  else
    redis.call('HSET', k, 'r:' .. rid, ARGV[base + 2] .. ':' .. tostring(now + tonumber(ARGV[base + 4])))
    redis.call('PEXPIRE', k, tonumber(ARGV[base + 5]))
  end
end
return {}
`;

// KEYS: s:<rid>, then the buckets. ARGV: rid, cost ('' = what was reserved), marker ttl.
const SETTLE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', tonumber(ARGV[3])) == false then return 0 end
for i = 2, #KEYS do
  local held = redis.call('HGET', KEYS[i], 'r:' .. ARGV[1])
  redis.call('HDEL', KEYS[i], 'r:' .. ARGV[1])
  local add = ARGV[2]
  if add == '' then add = held and string.match(held, '^([^:]+):') or '0' end
  redis.call('HINCRBYFLOAT', KEYS[i], 'committed', add)
end
return 1
`;

const RELEASE = `
for i = 1, #KEYS do redis.call('HDEL', KEYS[i], 'r:' .. ARGV[1]) end
return 1
`;

// KEYS: per op a window or bucket key. ARGV: rid, then per key: kind ('hit' | 'res'), amount.
// A hit was stored as the members rid:1..amount, a reservation as the field r:<rid>.
const UNDO = `
local rid = ARGV[1]
for i = 1, #KEYS do
  local kind, amount = ARGV[2 * i], tonumber(ARGV[2 * i + 1])
  if kind == 'hit' then
    for j = 1, amount do redis.call('ZREM', KEYS[i], rid .. ':' .. j) end
  else
    redis.call('HDEL', KEYS[i], 'r:' .. rid)
  end
end
return 1
`;

const SETTLED_MARKER_MS = 40 * 86_400_000;

export function createCounterStore(redis: Redis, prefix: string): CounterStore {
  const k = (tenant: string, kind: 'w' | 'f' | 'b' | 's', key: string) => `${prefix}:ctr:{${tenant}}:${kind}:${key}`;
  const full = (tenant: string, q: CounterQuery) => k(tenant, q.kind === 'window' ? 'w' : q.kind === 'flag' ? 'f' : 'b', q.key);

  return {
    async read(tenantId, queries, now) {
      if (queries.length === 0) return {};
      const keys = queries.map((q) => full(tenantId, q));
      const argv = [String(now), ...queries.flatMap((q) => [q.kind, q.kind === 'window' ? String(q.window_ms) : '0'])];
      const out = (await redis.eval(READ, keys.length, ...keys, ...argv)) as string[];
      const values: Record<string, number> = {};
      queries.forEach((q, i) => {
        values[q.key] = Number(out[i] ?? 0);
      });
      return values;
    },

    async apply(tenantId, ops, reservationId, now) {
      const keys: string[] = [];
      const argv: string[] = [String(now), reservationId, '0'];
      for (const op of ops) {
        if (op.kind === 'hit') {
          keys.push(k(tenantId, 'w', op.key));
          argv.push('hit', String(op.window_ms), String(op.amount), '0', '0');
        } else if (op.kind === 'flag') {
          keys.push(k(tenantId, 'f', op.key));
          argv.push('flag', String(op.ttl_ms), '0', '0', '0');
        } else {
          for (const b of op.buckets) {
            keys.push(k(tenantId, 'b', b.key));
            argv.push('res', String(op.amount), String(b.limit), String(op.ttl_ms), String(b.ttl_ms));
          }
        }
      }
      if (keys.length === 0) return { ok: true };
      argv[2] = String(keys.length);
      const out = (await redis.eval(APPLY, keys.length, ...keys, ...argv)) as string[];
      if (out.length === 0) return { ok: true };
      const refused: { key: string; limit: number; total: number }[] = [];
      const strip = `${prefix}:ctr:{${tenantId}}:b:`;
      for (let i = 0; i < out.length; i += 3) {
        refused.push({ key: out[i]!.slice(strip.length), limit: Number(out[i + 1]), total: Number(out[i + 2]) });
      }
      return { ok: false, refused };
    },

    async settle(tenantId, reservationId, buckets, cost) {
      const keys = [k(tenantId, 's', reservationId), ...buckets.map((b) => k(tenantId, 'b', b))];
      await redis.eval(SETTLE, keys.length, ...keys, reservationId, cost === null ? '' : String(cost), String(SETTLED_MARKER_MS));
    },

    async undo(tenantId, ops, reservationId) {
      const keys: string[] = [];
      const argv: string[] = [reservationId];
      for (const op of ops) {
        if (op.kind === 'hit') {
          keys.push(k(tenantId, 'w', op.key));
          argv.push('hit', String(op.amount));
        } else if (op.kind === 'reserve') {
          for (const b of op.buckets) {
            keys.push(k(tenantId, 'b', b.key));
            argv.push('res', '0');
          }
        }
      }
      if (keys.length === 0) return;
      await redis.eval(UNDO, keys.length, ...keys, ...argv);
    },

    async release(tenantId, reservationId, buckets) {
      if (buckets.length === 0) return;
      const keys = buckets.map((b) => k(tenantId, 'b', b));
      await redis.eval(RELEASE, keys.length, ...keys, reservationId);
    },
  };
}
