// The counters behind the stateful guards (budgets, rate limits, purchase and
// deletion counts), kept in Redis.
// The pure engine says what to read (CounterQuery) and what to change
// (CounterOp); this applies them in Lua, so each read is one round trip and each
// apply is atomic: a budget reservation that would pass its limit is refused
// while another call holds the rest, which is what stops 50 concurrent calls
// from overspending. All of a tenant's keys share a hash tag (Redis Cluster).
//
// Layout under <prefix>:ctr:{<tenant>}:
//   w:<key>   ZSET of hits (score = ms), trimmed to its window
//   f:<key>   a flag with a TTL (cooldowns: "1" for a burst's, the reservation id for a `gap`)
//   b:<key>   HASH: "committed" (settled spend), "r:<reservation>" → "<amount>:<expires ms>",
//             and "fixed" = 1 on a bucket that settles at what it held (purchase and deletion counts and totals)
//   c:<key>   a plain count with a TTL (calls per day, per session)
//   s:<id>    marks a reservation settled, so a repeated settle adds nothing
import type { Redis } from 'ioredis';
import type { CounterOp, CounterQuery, CounterValues } from '../policy/guards/types.ts';

export interface CounterStore {
  read(tenantId: string, queries: readonly CounterQuery[], now: number): Promise<CounterValues>;
  /**
   * Applies ops atomically; `refused` lists what would have overrun — a
   * reservation's bucket, a count (with its limit and what it holds), a gap
   * whose cooldown is alive (limit 0, total 1) — and then nothing is applied.
   */
  apply(tenantId: string, ops: readonly CounterOp[], reservationId: string, now: number): Promise<{ ok: true } | { ok: false; refused: { key: string; limit: number; total: number }[] }>;
  /** Turns a reservation into spend (`cost`, or the amount reserved when absent). Idempotent. */
  settle(tenantId: string, reservationId: string, buckets: readonly string[], cost: number | null, now: number): Promise<void>;
  /** Drops a reservation: the action did not happen. */
  release(tenantId: string, reservationId: string, buckets: readonly string[]): Promise<void>;
  /**
   * Takes back what `apply` wrote for this reservation id — its window hits,
   * counts, reservations and the cooldowns it started (`gap`) — when the
   * request failed after evaluation, so a failed call neither counts nor
   * spends. A burst's flag stays: it may be shared.
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
  elseif kind == 'count' then
    out[i] = redis.call('GET', k) or '0'
  else
    out[i] = tostring(total(k, now))
  end
end
return out
`;

// ARGV: now, reservation id, n (number of records), then per record a fixed 5-slot record:
//   hit:     'hit', window_ms, amount, -, -                      KEYS[i] = w:<key>
//   flag:    'flag', ttl_ms, -, -, -                             KEYS[i] = f:<key>
//   bucket:  'res' | 'resf', amount, limit, res_ttl_ms, bucket_ttl_ms   KEYS[i] = b:<key>  ('resf': settles at the amount held)
//   count:   'cnt', amount, limit ('' = none), ttl_ms, -         KEYS[i] = c:<key>
//   gap:     'gap', ttl_ms, -, -, -                              KEYS[i] = f:<key>
// Limits are checked first — a reservation or count that would overrun, or a
// gap whose cooldown is alive — and if any is refused nothing is written. The
// answer is then, per refusal: the record's index, its limit, what it holds.
const APPLY = `${TOTAL}
local now = tonumber(ARGV[1])
local rid = ARGV[2]
local n = tonumber(ARGV[3])
local refused = {}
for i = 1, n do
  local base = 3 + (i - 1) * 5
  local kind = ARGV[base + 1]
  if kind == 'res' or kind == 'resf' then
    local t = total(KEYS[i], now)
    local amount, limit = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
    if t + amount > limit + 1e-9 then
      table.insert(refused, tostring(i)); table.insert(refused, tostring(limit)); table.insert(refused, tostring(t))
    end
  elseif kind == 'cnt' and ARGV[base + 3] ~= '' then
    local c = tonumber(redis.call('GET', KEYS[i]) or '0')
    local amount, limit = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
    if c + amount > limit then
      table.insert(refused, tostring(i)); table.insert(refused, tostring(limit)); table.insert(refused, tostring(c))
    end
  elseif kind == 'gap' and redis.call('EXISTS', KEYS[i]) == 1 then
    table.insert(refused, tostring(i)); table.insert(refused, '0'); table.insert(refused, '1')
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
  elseif kind == 'gap' then
    redis.call('SET', k, rid, 'PX', tonumber(ARGV[base + 2]))
  elseif kind == 'cnt' then
    redis.call('INCRBY', k, tonumber(ARGV[base + 2]))
    redis.call('PEXPIRE', k, tonumber(ARGV[base + 4]))
  else
    redis.call('HSET', k, 'r:' .. rid, ARGV[base + 2] .. ':' .. tostring(now + tonumber(ARGV[base + 4])))
    if kind == 'resf' then redis.call('HSET', k, 'fixed', '1') end
    redis.call('PEXPIRE', k, tonumber(ARGV[base + 5]))
  end
end
return {}
`;

// KEYS: s:<rid>, then the buckets. ARGV: rid, cost ('' = what was reserved), marker ttl, now.
// A fixed bucket (field "fixed") settles at what was held whatever the cost —
// it counts purchases or their amounts, not spend — and at nothing once the
// hold has lapsed (its period is over).
const SETTLE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', tonumber(ARGV[3])) == false then return 0 end
for i = 2, #KEYS do
  local held = redis.call('HGET', KEYS[i], 'r:' .. ARGV[1])
  redis.call('HDEL', KEYS[i], 'r:' .. ARGV[1])
  local add = ARGV[2]
  if redis.call('HGET', KEYS[i], 'fixed') == '1' then
    add = '0'
    if held then
      local amount, expires = string.match(held, '^([^:]+):([^:]+)$')
      if tonumber(expires) > tonumber(ARGV[4]) then add = amount end
    end
  elseif add == '' then
    add = held and string.match(held, '^([^:]+):') or '0'
  end
  redis.call('HINCRBYFLOAT', KEYS[i], 'committed', add)
end
return 1
`;

const RELEASE = `
for i = 1, #KEYS do redis.call('HDEL', KEYS[i], 'r:' .. ARGV[1]) end
return 1
`;

// KEYS: per op a key. ARGV: rid, then per key: kind ('hit' | 'res' | 'cnt' | 'gap'), amount.
// A hit was stored as the members rid:1..amount, a reservation as the field
// r:<rid>, a count as an increment, a gap as a key holding rid (another
// request's cooldown is left alone).
const UNDO = `
local rid = ARGV[1]
for i = 1, #KEYS do
  local kind, amount = ARGV[2 * i], tonumber(ARGV[2 * i + 1])
  if kind == 'hit' then
    for j = 1, amount do redis.call('ZREM', KEYS[i], rid .. ':' .. j) end
  elseif kind == 'cnt' then
    if redis.call('DECRBY', KEYS[i], amount) <= 0 then redis.call('DEL', KEYS[i]) end
  elseif kind == 'gap' then
    if redis.call('GET', KEYS[i]) == rid then redis.call('DEL', KEYS[i]) end
  else
    redis.call('HDEL', KEYS[i], 'r:' .. rid)
  end
end
return 1
`;

const SETTLED_MARKER_MS = 40 * 86_400_000;

export function createCounterStore(redis: Redis, prefix: string): CounterStore {
  type Space = 'w' | 'f' | 'b' | 's' | 'c';
  const k = (tenant: string, kind: Space, key: string) => `${prefix}:ctr:{${tenant}}:${kind}:${key}`;
  const SPACE: Record<CounterQuery['kind'], Space> = { window: 'w', flag: 'f', total: 'b', count: 'c' };
  const full = (tenant: string, q: CounterQuery) => k(tenant, SPACE[q.kind], q.key);

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
      // The tenant-relative key of each record, to name a refusal.
      const names: string[] = [];
      const argv: string[] = [String(now), reservationId, '0'];
      const push = (space: Space, key: string, ...slots: string[]) => {
        keys.push(k(tenantId, space, key));
        names.push(key);
        argv.push(...slots);
      };
      for (const op of ops) {
        if (op.kind === 'hit') push('w', op.key, 'hit', String(op.window_ms), String(op.amount), '0', '0');
        else if (op.kind === 'flag') push('f', op.key, 'flag', String(op.ttl_ms), '0', '0', '0');
        else if (op.kind === 'gap') push('f', op.key, 'gap', String(op.ttl_ms), '0', '0', '0');
        else if (op.kind === 'count') push('c', op.key, 'cnt', String(op.amount), op.limit === null ? '' : String(op.limit), String(op.ttl_ms), '0');
        else {
          for (const b of op.buckets) push('b', b.key, op.fixed ? 'resf' : 'res', String(op.amount), String(b.limit), String(op.ttl_ms), String(b.ttl_ms));
        }
      }
      if (keys.length === 0) return { ok: true };
      argv[2] = String(keys.length);
      const out = (await redis.eval(APPLY, keys.length, ...keys, ...argv)) as string[];
      if (out.length === 0) return { ok: true };
      const refused: { key: string; limit: number; total: number }[] = [];
      for (let i = 0; i < out.length; i += 3) {
        refused.push({ key: names[Number(out[i]) - 1]!, limit: Number(out[i + 1]), total: Number(out[i + 2]) });
      }
      return { ok: false, refused };
    },

    async settle(tenantId, reservationId, buckets, cost, now) {
      const keys = [k(tenantId, 's', reservationId), ...buckets.map((b) => k(tenantId, 'b', b))];
      await redis.eval(SETTLE, keys.length, ...keys, reservationId, cost === null ? '' : String(cost), String(SETTLED_MARKER_MS), String(now));
    },

    async undo(tenantId, ops, reservationId) {
      const keys: string[] = [];
      const argv: string[] = [reservationId];
      for (const op of ops) {
        if (op.kind === 'hit') {
          keys.push(k(tenantId, 'w', op.key));
          argv.push('hit', String(op.amount));
        } else if (op.kind === 'count') {
          keys.push(k(tenantId, 'c', op.key));
          argv.push('cnt', String(op.amount));
        } else if (op.kind === 'gap') {
          keys.push(k(tenantId, 'f', op.key));
          argv.push('gap', '0');
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
