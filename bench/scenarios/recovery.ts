// 6. Recovery. BENCH_RECOVERY approvals are parked through the API with a
// deadline BENCH_RECOVERY_TIMEOUT seconds out, on a private redis-server (the
// jobs stay in it); then every Holdpoint process is SIGKILLed, the deadlines
// pass while nothing runs, and `holdpoint start` is started again. Measured
// from the restart: until every approval is expired in Postgres and every
// approval.expired webhook has reached the receiver (a tenant endpoint
// subscribed to approval.expired only).
import { sizes } from '../lib/config.ts';
import { connect } from '../lib/db.ts';
import { guardBody } from '../lib/holdpoint.ts';
import { runLoad } from '../lib/load.ts';
import { startHoldpoint, startRedis, type Holdpoint } from '../lib/processes.ts';
import { startReceiver } from '../lib/receiver.ts';
import type { Row, ScenarioResult } from '../lib/report.ts';
import { withHoldpoint } from '../lib/sides.ts';
import { round, sleep } from '../lib/stats.ts';

const TARGET_S = 10;

export async function recoveryScenario(): Promise<ScenarioResult> {
  const n = sizes.recovery;
  const redis = await startRedis();
  const hooks = await startReceiver();
  try {
    const data = await withHoldpoint('recovery', { redisUrl: redis.url, webhook: { url: hooks.url, event_types: ['approval.expired'] } }, async (s) => {
      const sql = connect(s.db.url, 2);
      let again: Holdpoint | undefined;
      try {
        const t0 = performance.now();
        const load = await runLoad({
          url: `${s.hp.base}/v1/guard`,
          body: guardBody({ timeout_seconds: sizes.recoveryTimeoutS }),
          headers: { authorization: `Bearer ${s.tenant.keys.agent}` },
          connections: sizes.concurrency,
          amount: n,
        });
        const createS = (performance.now() - t0) / 1000;
        await s.hp.kill();
        const [st] = await sql<{ pending: number; expired: number; last: Date }[]>`
          SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending, count(*) FILTER (WHERE status = 'expired')::int AS expired, max(expires_at) AS last
          FROM approvals`;
        console.log(`  parked ${st!.pending + st!.expired} via the API in ${round(createS, 1)} s (${load.per_second} req/s); SIGKILLed; ${st!.expired} had already expired`);
        const wait = st!.last.getTime() + 1000 - Date.now();
        if (wait > 0) await sleep(wait);

        const pendingAtKill = st!.pending;
        const r0 = performance.now();
        again = await startHoldpoint({ dbUrl: s.db.url, redisUrl: s.redisUrl, prefix: s.prefix, pool: sizes.dbPool, port: s.hp.port });
        const readyS = (performance.now() - r0) / 1000;
        let expiredS: number | null = null;
        let deliveredS: number | null = null;
        const limit = r0 + 180_000;
        const timeline: { t_s: number; pending: number; webhooks: number }[] = [];
        while (performance.now() < limit && (expiredS === null || deliveredS === null)) {
          const [c] = await sql<{ pending: number }[]>`SELECT count(*)::int AS pending FROM approvals WHERE status = 'pending'`;
          const now = performance.now();
          if (expiredS === null && c!.pending === 0) expiredS = (now - r0) / 1000;
          if (deliveredS === null && hooks.count('approval.expired') >= pendingAtKill + st!.expired) deliveredS = (now - r0) / 1000;
          if (timeline.length === 0 || now - r0 - timeline[timeline.length - 1]!.t_s * 1000 >= 500) timeline.push({ t_s: round((now - r0) / 1000, 2), pending: c!.pending, webhooks: hooks.count('approval.expired') });
          await sleep(100);
        }
        return {
          approvals: pendingAtKill + st!.expired,
          created_via_api_s: round(createS, 1),
          create_load: load,
          expired_before_kill: st!.expired,
          pending_at_kill: pendingAtKill,
          restart_to_ready_s: round(readyS, 2),
          restart_to_all_expired_s: expiredS === null ? null : round(expiredS, 2),
          restart_to_all_webhooks_s: deliveredS === null ? null : round(deliveredS, 2),
          webhooks_received: hooks.count('approval.expired'),
          timeline,
          webhook_requests_total: hooks.total(),
        };
      } finally {
        await again?.stop(20_000);
        await sql.end({ timeout: 5 });
      }
    });
    const done = data.restart_to_all_webhooks_s;
    const rows: Row[] = [
      { scenario: '6 recovery', metric: `${data.pending_at_kill} overdue after SIGKILL: restart → all expired s`, holdpoint: data.restart_to_all_expired_s },
      { scenario: '6 recovery', metric: 'restart → all expiry webhooks delivered s', holdpoint: done ?? `${data.webhooks_received} of ${data.approvals} in 180 s`, target: `≤ ${TARGET_S}`, met: done !== null && done <= TARGET_S },
    ];
    return { rows, data };
  } finally {
    await hooks.close();
    await redis.stop();
  }
}
