// The guard counters against the real Redis: windows roll over, flags lapse,
// and budget reservations are atomic under concurrency.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createCounterStore } from '../../src/services/counters.ts';
import { REDIS_URL, currentRun } from '../helpers/env.ts';
import { deleteKeys } from '../helpers/test-run.ts';

const redis = new Redis(REDIS_URL);
const prefix = `${currentRun().prefix}ctr_${process.pid}`;
const store = createCounterStore(redis, prefix);
afterAll(async () => {
  redis.disconnect();
  await deleteKeys(REDIS_URL, `${prefix}:*`, () => true);
});

describe('counter store', () => {
  it('counts hits in a sliding window, which rolls over', async () => {
    const t = randomUUID();
    const q = [{ kind: 'window' as const, key: 'rl:agent:a', window_ms: 1_000 }];
    for (let i = 0; i < 3; i++) await store.apply(t, [{ kind: 'hit', key: 'rl:agent:a', window_ms: 1_000, amount: 1 }], `r${i}`, 10_000 + i);
    expect(await store.read(t, q, 10_100)).toEqual({ 'rl:agent:a': 3 });
    expect(await store.read(t, q, 11_001)).toEqual({ 'rl:agent:a': 1 });
    expect(await store.read(t, q, 12_500)).toEqual({ 'rl:agent:a': 0 });
  });

  it('a flag is up for its ttl, then gone', async () => {
    const t = randomUUID();
    await store.apply(t, [{ kind: 'flag', key: 'rl:cool:a', ttl_ms: 150 }], 'r', Date.now());
    expect(await store.read(t, [{ kind: 'flag', key: 'rl:cool:a' }], Date.now())).toEqual({ 'rl:cool:a': 1 });
    await new Promise((r) => setTimeout(r, 250));
    expect(await store.read(t, [{ kind: 'flag', key: 'rl:cool:a' }], Date.now())).toEqual({ 'rl:cool:a': 0 });
  });

  it('50 concurrent reservations never hold more than the limit', async () => {
    const t = randomUUID();
    const now = Date.now();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.apply(t, [{ kind: 'reserve', amount: 1, ttl_ms: 60_000, buckets: [{ key: 'bud:agent:a:day:x', limit: 10, ttl_ms: 60_000 }, { key: 'bud:tenant:day:x', limit: 12, ttl_ms: 60_000 }] }], `res${i}`, now),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    const refused = results.find((r) => !r.ok) as { ok: false; refused: { key: string; limit: number; total: number }[] };
    expect(refused.refused).toEqual([{ key: 'bud:agent:a:day:x', limit: 10, total: 10 }]);
    expect(await store.read(t, [{ kind: 'total', key: 'bud:agent:a:day:x' }, { kind: 'total', key: 'bud:tenant:day:x' }], now)).toEqual({
      'bud:agent:a:day:x': 10,
      'bud:tenant:day:x': 10,
    });
  });

  it('settling turns a reservation into spend once; releasing frees it; expired reservations stop counting', async () => {
    const t = randomUUID();
    const b = ['bud:agent:a:month:m'];
    const op = (amount: number) => ({ kind: 'reserve' as const, amount, ttl_ms: 1_000, buckets: [{ key: b[0]!, limit: 100, ttl_ms: 60_000 }] });
    const now = Date.now();
    await store.apply(t, [op(5)], 'keep', now);
    await store.apply(t, [op(7)], 'drop', now);
    await store.apply(t, [op(11)], 'lapse', now);
    await store.settle(t, 'keep', b, 4.5, now);
    await store.settle(t, 'keep', b, 4.5, now); // a repeated report adds nothing
    await store.release(t, 'drop', b);
    const read = (at: number) => store.read(t, [{ kind: 'total', key: b[0]! }], at);
    expect(await read(now + 10)).toEqual({ [b[0]!]: 4.5 + 11 });
    expect(await read(now + 1_001)).toEqual({ [b[0]!]: 4.5 });
  });
});
