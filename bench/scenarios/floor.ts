// The raw floor of the machine itself, measured in this run: a postgres.js
// SELECT 1, an ioredis PING, an HTTP GET /healthz (bare Hono, and Holdpoint's),
// an 8 KiB write + fdatasync on the disk Postgres writes its WAL to.
import { closeSync, fdatasyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import { ADMIN_DB, QUICK, SCRATCH_DIR, SHARED_REDIS, sizes } from '../lib/config.ts';
import { connect } from '../lib/db.ts';
import { request } from '../lib/http.ts';
import { runLoad } from '../lib/load.ts';
import { redisClient, redisVersion } from '../lib/redis.ts';
import type { ScenarioResult } from '../lib/report.ts';
import { withFloor, withHoldpoint } from '../lib/sides.ts';
import { round, summarize } from '../lib/stats.ts';

async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Requests per second with `inFlight` calls outstanding for `ms`. */
async function rate(inFlight: number, ms: number, fn: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await fn();
        n++;
      }
    }),
  );
  return round(n / ((performance.now() - t0) / 1000), 0);
}

export async function machineInfo() {
  const sql = connect(ADMIN_DB, 1);
  const redis = redisClient(SHARED_REDIS);
  try {
    const [v] = await sql<{ server_version: string }[]>`SHOW server_version`;
    const settings = await sql<{ name: string; setting: string; unit: string | null }[]>`
      SELECT name, setting, unit FROM pg_settings
      WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'max_connections', 'work_mem', 'full_page_writes', 'commit_delay')`;
    return {
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model ?? 'unknown',
      memory_gib: round(os.totalmem() / 2 ** 30, 1),
      kernel: `${os.type()} ${os.release()}`,
      node: process.version,
      postgres: v!.server_version,
      postgres_settings: Object.fromEntries(settings.map((s) => [s.name, s.unit ? `${s.setting} (${s.unit})` : s.setting])),
      redis: await redisVersion(redis),
      loadavg_at_start: os.loadavg().map((x) => round(x, 2)),
    };
  } finally {
    redis.disconnect();
    await sql.end({ timeout: 5 });
  }
}

export async function floorScenario(): Promise<ScenarioResult> {
  const n = sizes.floorSamples;
  const loadS = QUICK ? 1 : Math.max(2, Math.round(sizes.durationS / 2));

  const sql = connect(ADMIN_DB, sizes.dbPool);
  let select1, select1Rate;
  try {
    await timed(200, () => sql`SELECT 1`);
    select1 = summarize(await timed(n, () => sql`SELECT 1`));
    select1Rate = await rate(sizes.concurrency, loadS * 1000, () => sql`SELECT 1`);
  } finally {
    await sql.end({ timeout: 5 });
  }

  const redis = redisClient(SHARED_REDIS);
  let ping, pingRate;
  try {
    await timed(200, () => redis.ping());
    ping = summarize(await timed(n, () => redis.ping()));
    pingRate = await rate(sizes.concurrency, loadS * 1000, () => redis.ping());
  } finally {
    redis.disconnect();
  }

  const bare = await withFloor('healthz', {}, async (f) => {
    await timed(200, () => request('GET', `${f.base}/healthz`));
    const seq = summarize(await timed(n, () => request('GET', `${f.base}/healthz`)));
    const load = await runLoad({ url: `${f.base}/healthz`, connections: sizes.concurrency, duration: loadS });
    return { sequential: seq, load };
  });
  const hp = await withHoldpoint('healthz', {}, async ({ hp }) => {
    await timed(200, () => request('GET', `${hp.base}/healthz`));
    const seq = summarize(await timed(n, () => request('GET', `${hp.base}/healthz`)));
    const load = await runLoad({ url: `${hp.base}/healthz`, connections: sizes.concurrency, duration: loadS });
    return { sequential: seq, load };
  });

  mkdirSync(SCRATCH_DIR, { recursive: true });
  const file = `${SCRATCH_DIR}fsync-${process.pid}.bin`;
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(8192, 7);
  let fsync;
  try {
    const xs: number[] = [];
    for (let i = 0; i < Math.min(n, 500); i++) {
      const t0 = performance.now();
      writeSync(fd, block, 0, block.length, (i % 64) * 8192);
      fdatasyncSync(fd);
      xs.push(performance.now() - t0);
    }
    fsync = summarize(xs);
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }

  const c = sizes.concurrency;
  return {
    rows: [
      { scenario: '0 floor', metric: 'postgres.js SELECT 1, sequential p50 / p99 ms', holdpoint: null, floor: `${select1.p50_ms} / ${select1.p99_ms}` },
      { scenario: '0 floor', metric: `postgres.js SELECT 1 /s, ${c} in flight, pool ${sizes.dbPool}`, holdpoint: null, floor: select1Rate },
      { scenario: '0 floor', metric: 'ioredis PING, sequential p50 / p99 ms', holdpoint: null, floor: `${ping.p50_ms} / ${ping.p99_ms}` },
      { scenario: '0 floor', metric: `ioredis PING /s, ${c} in flight`, holdpoint: null, floor: pingRate },
      { scenario: '0 floor', metric: 'GET /healthz sequential p50 / p99 ms', floor: `${bare.sequential.p50_ms} / ${bare.sequential.p99_ms}`, holdpoint: `${hp.sequential.p50_ms} / ${hp.sequential.p99_ms}` },
      { scenario: '0 floor', metric: `GET /healthz req/s at ${c} conns`, floor: bare.load.per_second, holdpoint: hp.load.per_second, ratio: round(hp.load.per_second / bare.load.per_second, 3) },
      { scenario: '0 floor', metric: '8 KiB write + fdatasync p50 / p99 ms', holdpoint: null, floor: `${fsync.p50_ms} / ${fsync.p99_ms}` },
    ],
    data: {
      select1: { sequential: select1, per_second_in_flight: select1Rate, in_flight: c, pool: sizes.dbPool },
      redis_ping: { sequential: ping, per_second_in_flight: pingRate, in_flight: c },
      http_healthz: { bare_hono: bare, holdpoint: hp },
      fsync_8k: fsync,
    },
  };
}
