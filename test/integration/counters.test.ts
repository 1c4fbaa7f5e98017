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

describe('counter store: counts, cooldowns and fixed reservations (issue 13)', () => {
  it('20 concurrent counts with limit 10: exactly 10 are applied, the rest refused with the count they met', async () => {
    const t = randomUUID();
    const op = { kind: 'count' as const, key: 'rl:day:p:agent:a:d', amount: 1, limit: 10, ttl_ms: 60_000 };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.apply(t, [op], `c${i}`, Date.now())));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(results.find((r) => !r.ok)).toEqual({ ok: false, refused: [{ key: 'rl:day:p:agent:a:d', limit: 10, total: 10 }] });
    expect(await store.read(t, [{ kind: 'count', key: op.key }], Date.now())).toEqual({ [op.key]: 10 });
  });

  it('a count without a limit is never refused; a refused count in a batch writes nothing else', async () => {
    const t = randomUUID();
    const now = Date.now();
    for (let i = 0; i < 3; i++) expect((await store.apply(t, [{ kind: 'count', key: 'c', amount: 1, limit: null, ttl_ms: 60_000 }], `u${i}`, now)).ok).toBe(true);
    const r = await store.apply(t, [{ kind: 'hit', key: 'w', window_ms: 60_000, amount: 1 }, { kind: 'count', key: 'c', amount: 1, limit: 3, ttl_ms: 60_000 }], 'x', now);
    expect(r.ok).toBe(false);
    expect(await store.read(t, [{ kind: 'count', key: 'c' }, { kind: 'window', key: 'w', window_ms: 60_000 }], now)).toEqual({ c: 3, w: 0 });
  });

  it('of 10 concurrent gaps on one key exactly one starts the cooldown; it lapses after its ttl', async () => {
    const t = randomUUID();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.apply(t, [{ kind: 'gap', key: 'rl:gap:agent:a:x', ttl_ms: 200 }], `g${i}`, Date.now())));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toEqual({ ok: false, refused: [{ key: 'rl:gap:agent:a:x', limit: 0, total: 1 }] });
    expect(await store.read(t, [{ kind: 'flag', key: 'rl:gap:agent:a:x' }], Date.now())).toEqual({ 'rl:gap:agent:a:x': 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect((await store.apply(t, [{ kind: 'gap', key: 'rl:gap:agent:a:x', ttl_ms: 200 }], 'later', Date.now())).ok).toBe(true);
  });

  it('a fixed reservation settles at what it holds whatever cost is reported, and at nothing once lapsed; a budget one at the cost', async () => {
    const t = randomUUID();
    const now = Date.now();
    const fixed = (amount: number, ttl = 60_000) => ({ kind: 'reserve' as const, amount, ttl_ms: ttl, buckets: [{ key: 'pur:x:total', limit: 1000, ttl_ms: 60_000 }], fixed: true as const });
    await store.apply(t, [fixed(40), { kind: 'reserve', amount: 2, ttl_ms: 60_000, buckets: [{ key: 'bud:tenant:day:x', limit: 100, ttl_ms: 60_000 }] }], 'p1', now);
    await store.settle(t, 'p1', ['pur:x:total', 'bud:tenant:day:x'], 0.25, now);
    await store.apply(t, [fixed(7, 1)], 'p2', now);
    await store.settle(t, 'p2', ['pur:x:total'], 3, now + 10); // its hold lapsed first
    expect(await store.read(t, [{ kind: 'total', key: 'pur:x:total' }, { kind: 'total', key: 'bud:tenant:day:x' }], now + 10)).toEqual({ 'pur:x:total': 40, 'bud:tenant:day:x': 0.25 });
  });

  it('undo takes back a count, a reservation and the cooldown this id started, but not another id\'s cooldown', async () => {
    const t = randomUUID();
    const now = Date.now();
    const ops = [
      { kind: 'count' as const, key: 'c', amount: 1, limit: 5, ttl_ms: 60_000 },
      { kind: 'reserve' as const, amount: 3, ttl_ms: 60_000, buckets: [{ key: 'del:x:day', limit: 10, ttl_ms: 60_000 }], fixed: true as const },
      { kind: 'gap' as const, key: 'g1', ttl_ms: 60_000 },
    ];
    await store.apply(t, [{ kind: 'count', key: 'c', amount: 1, limit: 5, ttl_ms: 60_000 }, { kind: 'gap', key: 'g2', ttl_ms: 60_000 }], 'other', now);
    expect((await store.apply(t, ops, 'mine', now)).ok).toBe(true);
    await store.undo(t, [...ops, { kind: 'gap', key: 'g2', ttl_ms: 60_000 }], 'mine');
    expect(await store.read(t, [{ kind: 'count', key: 'c' }, { kind: 'total', key: 'del:x:day' }, { kind: 'flag', key: 'g1' }, { kind: 'flag', key: 'g2' }], now)).toEqual({
      c: 1,
      'del:x:day': 0,
      g1: 0,
      g2: 1,
    });
  });
});
