// Redis holds only work to do: while it is down, guards and decisions still
// commit to Postgres and answer at once; when it is back (empty), the
// reconciler rebuilds the jobs. Postgres down is a clean 503.
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { createRuntime } from '../../src/runtime.ts';
import { TEST_SECRET_KEY } from '../helpers/env.ts';
import { createHarness } from '../helpers/harness.ts';
import { startRedis } from '../helpers/processes.ts';
import { startReceiver, waitFor } from '../helpers/receiver.ts';

describe('Redis down', () => {
  it('guard and decide still commit and answer; the webhooks go out once Redis is back', async () => {
    let redis = await startRedis();
    const h = await createHarness({ workers: true, env: { REDIS_URL: redis.url } });
    const recv = await startReceiver();
    try {
      const t = await h.tenant();
      await h.setPolicy(t, { defaults: { decision: 'require_approval' } });
      await redis.stop();
      await waitFor(() => h.rt.redis.status !== 'ready', { what: 'producer to notice Redis is gone' });

      const started = Date.now();
      const g = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', idempotency_key: 'down-1', callback_url: recv.url('/cb') });
      expect(g.status).toBe(202);
      const d = await h.call('POST', `/v1/approvals/${g.body.approval.id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
      expect(d.body.status).toBe('approved');
      expect(Date.now() - started).toBeLessThan(3_000);
      const ready = await h.call('GET', '/readyz', null);
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ postgres: 'ok', redis: 'unavailable' });

      redis = await startRedis(redis.port); // back, and empty
      await waitFor(() => h.rt.redis.status === 'ready', { timeout: 15_000, what: 'producer to reconnect' });
      await h.workers!.reconcileNow({ rebuildAll: true });
      const got = await waitFor(() => {
        const types = recv.received.map((r) => r.json.type).sort();
        return types.length === 2 ? types : undefined;
      }, { timeout: 15_000, what: 'both webhooks' });
      expect(got).toEqual(['approval.approved', 'approval.requested']);
    } finally {
      await recv.close();
      await h.close();
      await redis.stop();
    }
  });
});

describe('Postgres down', () => {
  const rt = createRuntime(
    loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', REDIS_URL: 'redis://127.0.0.1:6379', LOG_LEVEL: 'silent', HOLDPOINT_SECRET_KEY: TEST_SECRET_KEY }),
    silentLogger,
  );
  const app = createApp(rt);
  afterAll(() => rt.close());

  it('answers 503 dependency_unavailable, not 500', async () => {
    const res = await app.request('/v1/guard', {
      method: 'POST',
      headers: { authorization: 'Bearer hp_agent_00000000000000000000000000000000', 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'x', idempotency_key: 'k' }),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('dependency_unavailable');
  });

  it('readyz says which dependency is down', async () => {
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, postgres: 'unavailable' });
  });
});
