// 5. Growth. Two `holdpoint start` processes side by side, each with its own
// database and its own private redis-server: one on an empty schema, one on a
// schema already holding BENCH_GROWTH_ROWS decided approvals (bulk-seeded:
// decision, approval, vote, two chained events, one delivered webhook each;
// see bench/lib/seed.ts), then VACUUM ANALYZE and CHECKPOINT. Scenario 1's
// Holdpoint load then alternates between them (empty, seeded, seeded, empty…).
// Also: Redis bytes per pending approval (used_memory before / after the
// approvals the empty side parked, with their jobs), and Postgres bytes per
// approval (approvals + events + decisions + votes + webhook deliveries,
// tables with indexes and TOAST) for API-created and for seeded rows.
import { compare } from '../lib/compare.ts';
import { QUICK, sizes } from '../lib/config.ts';
import { connect } from '../lib/db.ts';
import { guardBody } from '../lib/holdpoint.ts';
import { startRedis } from '../lib/processes.ts';
import { startReceiver } from '../lib/receiver.ts';
import { redisClient, usedMemory } from '../lib/redis.ts';
import type { Row, ScenarioResult } from '../lib/report.ts';
import type { Sql } from '../../src/db/client.ts';
import { seedDecided } from '../lib/seed.ts';
import { withHoldpoint } from '../lib/sides.ts';
import { cpuRow } from './creation.ts';
import { ratio, round, sleep } from '../lib/stats.ts';

const TABLES = ['approvals', 'approval_events', 'decisions', 'approval_votes', 'webhook_deliveries'];
const TARGET = 0.15;

async function tableBytes(sql: Sql): Promise<{ total: number; by_table: Record<string, number> }> {
  const rows = await sql<{ t: string; bytes: number }[]>`
    SELECT t, pg_total_relation_size(t::regclass)::float8 AS bytes FROM unnest(${TABLES}::text[]) t`;
  const by = Object.fromEntries(rows.map((r) => [r.t, Number(r.bytes)]));
  return { total: rows.reduce((a, r) => a + Number(r.bytes), 0), by_table: by };
}

/** Waits until the queue's delivery jobs have all run (the deliveries table says so). */
async function settle(sql: Sql, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const [r] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending'`;
    if (r!.n === 0) return;
    await sleep(500);
  }
}

export async function growthScenario(): Promise<ScenarioResult> {
  const redisE = await startRedis();
  const redisS = await startRedis();
  const hooks = await startReceiver();
  const webhook = { url: hooks.url, event_types: ['approval.requested'] };
  try {
    const data = await withHoldpoint('growth_empty', { redisUrl: redisE.url, webhook }, (e) =>
      withHoldpoint('growth_seeded', { redisUrl: redisS.url, webhook }, async (s) => {
        const sqlE = connect(e.db.url, 2);
        const sqlS = connect(s.db.url, 2);
        const rE = redisClient(redisE.url);
        try {
          const t0 = performance.now();
          await seedDecided(sqlS, sizes.growthRows, QUICK ? 10_000 : 100_000);
          const seedS = (performance.now() - t0) / 1000;
          for (const t of TABLES) await sqlS.unsafe(`VACUUM ANALYZE ${t}`);
          await sqlS`CHECKPOINT`;
          const seeded = await tableBytes(sqlS);
          console.log(`  seeded ${sizes.growthRows} approvals in ${round(seedS, 1)} s (${round(seeded.total / 2 ** 20, 0)} MiB)`);

          const memBefore = await usedMemory(rE);
          const apiBefore = await tableBytes(sqlE);
          const sides = await compare(
            { url: `${e.hp.base}/v1/guard`, body: guardBody(), headers: { authorization: `Bearer ${e.tenant.keys.agent}` }, pid: e.hp.pid, db: e.db.name },
            { url: `${s.hp.base}/v1/guard`, body: guardBody(), headers: { authorization: `Bearer ${s.tenant.keys.agent}` }, pid: s.hp.pid, db: s.db.name },
          );
          await settle(sqlE);
          await settle(sqlS);
          const memAfter = await usedMemory(rE);
          const [{ n } = { n: 0 }] = await sqlE<{ n: number }[]>`SELECT count(*)::int AS n FROM approvals WHERE status = 'pending'`;
          const [{ jobs } = { jobs: 0 }] = [{ jobs: await rE.zcard(`${e.prefix}:expire-approval:delayed`) }];
          const api = await tableBytes(sqlE);
          return {
            rows_seeded: sizes.growthRows,
            seed_s: round(seedS, 1),
            empty: sides.floor,
            seeded: sides.holdpoint,
            ratio_seeded_to_empty: ratio(sides.holdpoint.per_second, sides.floor.per_second),
            redis: {
              pending_approvals: n,
              delayed_expiry_jobs: jobs,
              used_memory_before: memBefore,
              used_memory_after: memAfter,
              bytes_per_pending_approval: n ? Math.round((memAfter - memBefore) / n) : null,
              note: 'includes each approval’s delayed expiry job and its completed webhook-delivery job (kept ≤ 1 h / 10,000 jobs), counter keys, chain jobs',
            },
            postgres: {
              api_created: { approvals: n, empty_schema_bytes: apiBefore.total, ...api, bytes_per_approval: n ? Math.round((api.total - apiBefore.total) / n) : null },
              seeded: { approvals: sizes.growthRows, ...seeded, bytes_per_approval: Math.round(seeded.total / sizes.growthRows) },
            },
          };
        } finally {
          rE.disconnect();
          await sqlE.end({ timeout: 5 });
          await sqlS.end({ timeout: 5 });
        }
      }),
    );
    const rt = data.ratio_seeded_to_empty;
    const rows: Row[] = [
      {
        scenario: '5 growth',
        metric: `guard req/s: empty (floor col.) vs ${sizes.growthRows.toLocaleString('en-US')} rows`,
        floor: data.empty.per_second,
        holdpoint: data.seeded.per_second,
        ratio: rt,
        target: `within ${TARGET * 100} %`,
        met: rt === null ? null : Math.abs(1 - rt) <= TARGET,
      },
      { scenario: '5 growth', metric: 'p50 / p99 ms (empty vs seeded)', floor: `${data.empty.p50_ms} / ${data.empty.p99_ms}`, holdpoint: `${data.seeded.p50_ms} / ${data.seeded.p99_ms}` },
      { ...cpuRow('5 growth', { floor: data.empty, holdpoint: data.seeded }), metric: 'CPU µs/request app + postgres (empty vs seeded)' },
      { scenario: '5 growth', metric: 'Redis bytes per pending approval', holdpoint: data.redis.bytes_per_pending_approval },
      { scenario: '5 growth', metric: 'Postgres bytes per approval (API / seeded)', holdpoint: `${data.postgres.api_created.bytes_per_approval} / ${data.postgres.seeded.bytes_per_approval}` },
    ];
    return { rows, data };
  } finally {
    await hooks.close();
    await redisE.stop();
    await redisS.stop();
  }
}
