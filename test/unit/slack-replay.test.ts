// The Slack replay guard: a signature is acted on once inside its window; with
// Redis unreachable it fails open (decisions are idempotent) and says so.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { createReplayGuard } from '../../src/slack/replay.ts';

function fakeRedis(status = 'ready') {
  const store = new Map<string, number>();
  return {
    status,
    store,
    async set(k: string, _v: string, _ex: 'EX', ttl: number, _nx: 'NX') {
      if (store.has(k)) return null;
      store.set(k, ttl);
      return 'OK';
    },
    async del(k: string) {
      return store.delete(k) ? 1 : 0;
    },
  };
}

describe('slack replay guard', () => {
  it('says first once, then replayed, and keeps the key for twice the 300 s tolerance', async () => {
    const redis = fakeRedis();
    const g = createReplayGuard(redis as never, 'p', createLogger('silent'));
    expect(await g.claim('v0=abc')).toBe('first');
    expect(await g.claim('v0=abc')).toBe('replayed');
    expect(await g.claim('v0=def')).toBe('first');
    expect([...redis.store.values()]).toEqual([600, 600]);
    expect([...redis.store.keys()][0]).toMatch(/^p:slack:seen:[0-9a-f]{64}$/);
    await g.forget('v0=abc');
    expect(await g.claim('v0=abc')).toBe('first');
  });

  it('fails open with a warning when Redis is not connected or the command fails', async () => {
    const lines: string[] = [];
    const log = createLogger('warn', {}, (l) => lines.push(l));
    expect(await createReplayGuard(fakeRedis('reconnecting') as never, 'p', log).claim('v0=a')).toBe('unchecked');
    const broken = { ...fakeRedis(), set: async () => Promise.reject(new Error('Connection is closed.')) };
    expect(await createReplayGuard(broken as never, 'p', log).claim('v0=a')).toBe('unchecked');
    expect(lines.filter((l) => l.includes('failing open'))).toHaveLength(2);
  });
});
