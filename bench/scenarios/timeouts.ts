// 4. Timeout precision at scale. N pending approvals (BENCH_TIMEOUTS) are
// parked with the service's own statement (insertParkedApproval, the rows a
// guard writes), their audit events linked by the service's chainer
// (chainAll), their deadlines then set evenly over BENCH_TIMEOUT_SPREAD
// seconds starting a little ahead, and their expiry jobs added in bulk exactly
// as the service adds them (same queue, job id, options; delay to the
// deadline). A running `holdpoint start` (started before, so its boot
// reconcile saw nothing) then has to expire them all on time.
// Lateness = the `expired` event's created_at − expires_at. Missed = still
// pending BENCH_TIMEOUT_GRACE seconds after the last deadline.
// No webhook endpoint: this measures the expiry path alone.
import { Redis } from 'ioredis';
import { chainAll } from '../../src/db/events.ts';
import { createQueues, jobIds } from '../../src/queue/queues.ts';
import { QUICK, SCRATCH_DIR, sizes } from '../lib/config.ts';
import { connect } from '../lib/db.ts';
import type { Row, ScenarioResult } from '../lib/report.ts';
import { parkPending } from '../lib/seed.ts';
import { withHoldpoint } from '../lib/sides.ts';
import { monoMicros, round, sleep, summarize } from '../lib/stats.ts';
import { processCpuMs } from '../lib/cpu.ts';
import { analyzeProfile, formatSummary } from '../lib/cpuprofile.ts';
import { readdirSync } from 'node:fs';

export async function timeoutsScenario(): Promise<ScenarioResult> {
  // BENCH_CPU_PROFILE=1: profile the Holdpoint process over the deadline window (node --cpu-prof).
  const profDir = process.env.BENCH_CPU_PROFILE === '1' ? `${SCRATCH_DIR}profiles/timeouts-${Date.now()}/` : undefined;
  let window: { startUs: number; endUs: number } | undefined;
  const n = sizes.timeouts;
  const spreadMs = sizes.timeoutSpreadS * 1000;
  const graceMs = sizes.timeoutGraceS * 1000;
  const data = await withHoldpoint('timeouts', profDir ? { cpuProfDir: profDir } : {}, async (s) => {
    const sql = connect(s.db.url, 16);
    const redis = new Redis(s.redisUrl, { maxRetriesPerRequest: null });
    const queues = createQueues(redis, s.prefix, { maxAttempts: 22 });
    try {
      const t0 = performance.now();
      await parkPending(sql, s.tenant.tenant_id, n, { concurrency: 16, keyPrefix: 'timeout', expiresAt: new Date(Date.now() + 86_400_000), onProgress: (d) => process.stdout.write(`  parked ${d}\r`) });
      const parkS = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      const chained = await chainAll(sql, s.tenant.tenant_id);
      const chainS = (performance.now() - t1) / 1000;

      // Deadlines: evenly over the spread, starting far enough ahead that every job is added first.
      const leadMs = (QUICK ? 2_000 : 5_000) + Math.ceil(n / 8);
      const [{ first } = { first: new Date() }] = await sql<{ first: Date }[]>`
        WITH r AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM approvals WHERE tenant_id = ${s.tenant.tenant_id} AND status = 'pending')
        UPDATE approvals a SET expires_at = now() + ${leadMs} * interval '1 millisecond' + (r.i * ${spreadMs / n}::float8) * interval '1 millisecond'
        FROM r WHERE a.id = r.id
        RETURNING (now() + ${leadMs} * interval '1 millisecond') AS first`;
      const rows = await sql<{ id: string; expires_at: Date }[]>`SELECT id, expires_at FROM approvals WHERE tenant_id = ${s.tenant.tenant_id} AND status = 'pending'`;
      const t2 = performance.now();
      for (let i = 0; i < rows.length; i += 1000) {
        const now = Date.now();
        await queues.expire.addBulk(
          rows.slice(i, i + 1000).map((r) => ({ name: 'expire', data: { approval_id: r.id }, opts: { jobId: jobIds.expire(r.id), delay: Math.max(0, r.expires_at.getTime() - now) } })),
        );
      }
      const addS = (performance.now() - t2) / 1000;
      const firstAt = first.getTime();
      const lastAt = firstAt + spreadMs;
      const addsDoneBeforeFirstS = round((firstAt - Date.now()) / 1000, 1);
      console.log(`  parked ${n} in ${round(parkS, 1)} s, chained ${chained} events in ${round(chainS, 1)} s, added jobs in ${round(addS, 1)} s; first deadline in ${addsDoneBeforeFirstS} s`);

      // Wait for the window to pass, watching.
      const cpu0 = processCpuMs(s.hp.pid);
      await sleep(Math.max(0, firstAt - Date.now()));
      const startUs = monoMicros();
      let pending = n;
      const progress: { t_s: number; pending: number }[] = [];
      while (Date.now() < lastAt + graceMs) {
        await sleep(1000);
        const [c] = await sql<{ pending: number }[]>`SELECT count(*)::int AS pending FROM approvals WHERE tenant_id = ${s.tenant.tenant_id} AND status = 'pending'`;
        pending = c!.pending;
        progress.push({ t_s: round((Date.now() - firstAt) / 1000, 1), pending });
        if (Date.now() > lastAt && pending === 0) break;
        process.stdout.write(`  t=${round((Date.now() - firstAt) / 1000, 0)}s pending ${pending}    \r`);
      }
      window = { startUs, endUs: monoMicros() };
      // One cut-off for both counts: Holdpoint keeps expiring while we read.
      const cutoff = new Date();
      const cpuMs = processCpuMs(s.hp.pid) - cpu0;
      const late = await sql<{ late_ms: number }[]>`
        SELECT extract(epoch FROM (e.created_at - a.expires_at)) * 1000 AS late_ms
        FROM approvals a JOIN approval_events e ON e.approval_id = a.id AND e.type = 'expired'
        WHERE a.tenant_id = ${s.tenant.tenant_id} AND e.created_at <= ${cutoff}`;
      const lateness = late.map((r) => Number(r.late_ms));
      const [last] = await sql<{ at: Date | null }[]>`SELECT max(e.created_at) AS at FROM approval_events e WHERE e.tenant_id = ${s.tenant.tenant_id} AND e.type = 'expired'`;
      return {
        approvals: n,
        spread_s: sizes.timeoutSpreadS,
        setup: { park_s: round(parkS, 1), chain_s: round(chainS, 1), add_jobs_s: round(addS, 1), first_deadline_after_adds_s: addsDoneBeforeFirstS },
        expired: lateness.length,
        missed: n - lateness.length,
        lateness: summarize(lateness),
        within_1s: round(lateness.filter((x) => x <= 1000).length / (lateness.length || 1), 4),
        early: lateness.filter((x) => x < 0).length,
        last_expired_after_last_deadline_s: last?.at ? round((last.at.getTime() - lastAt) / 1000, 2) : null,
        expiries_per_second_needed: round(n / sizes.timeoutSpreadS, 0),
        holdpoint_cpu_us_per_expiry: round((cpuMs * 1000) / (lateness.length || 1), 0),
        progress: progress.filter((_, i) => i % 5 === 0),
      };
    } finally {
      await queues.close();
      redis.disconnect();
      await sql.end({ timeout: 5 });
    }
  });
  if (profDir && window) {
    const file = readdirSync(profDir).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
    if (file) console.log(formatSummary(analyzeProfile(`${profDir}${file}`, window, 30), 25));
  }
  const l = data.lateness;
  const rows: Row[] = [
    { scenario: '4 timeouts', metric: `${n} deadlines over ${sizes.timeoutSpreadS} s: missed`, holdpoint: data.missed, target: '0', met: data.missed === 0 },
    { scenario: '4 timeouts', metric: 'lateness p50 / p99 / max ms', holdpoint: `${round(l.p50_ms, 0)} / ${round(l.p99_ms, 0)} / ${round(l.max_ms, 0)}`, target: 'p99 ≤ 1000', met: data.missed === 0 && l.p99_ms <= 1000 },
  ];
  return { rows, data };
}
