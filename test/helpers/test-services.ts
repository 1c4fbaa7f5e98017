// Where `npm test` finds Postgres and Redis, decided once per run in globalSetup:
//
//  1. TEST_DATABASE_URL / TEST_REDIS_URL when set;
//  2. else the machine's, when something answers on 127.0.0.1:5432 / :6379;
//  3. else, as `holdpoint start` does with nothing configured, an embedded
//     Postgres (src/embedded/postgres.ts; trust auth, fsync off: a throwaway
//     cluster in a temp dir) and a private redis-server, started for this run
//     and stopped (their temp dirs removed) by its teardown.
//
// HOLDPOINT_TEST_EMBEDDED=1 skips step 2 (CI runs a few files that way so the
// embedded path stays true). The chosen addresses are put in TEST_DATABASE_URL /
// TEST_REDIS_URL, which the test workers (forked after globalSetup) inherit and
// test/helpers/env.ts reads.
import { rmSync } from 'node:fs';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { answers, isRoot } from '../../src/embedded/host.ts';
import { ensurePostgres, stopPostgres } from '../../src/embedded/postgres.ts';
import { ensureRedis, stopRedis } from '../../src/embedded/redis.ts';

export const DEFAULT_ADMIN_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface TestServices {
  adminUrl: string;
  redisUrl: string;
  /** What was decided, for the one line globalSetup prints. */
  postgres: 'configured' | 'machine' | 'embedded';
  redis: 'configured' | 'machine' | 'embedded';
  stop(): Promise<void>;
}

const PG_RUN_AS = 'postgres';

export async function startTestServices(env: Record<string, string | undefined> = process.env): Promise<TestServices> {
  const forced = env.HOLDPOINT_TEST_EMBEDDED === '1' || env.HOLDPOINT_TEST_EMBEDDED === 'true';
  const stops: (() => Promise<void>)[] = [];
  // A run interrupted before its teardown (Ctrl-C) still exits: stop the servers and remove
  // their temp dirs then, synchronously (an exit handler cannot wait).
  const doomed: { pid: number; signal: NodeJS.Signals; dir: string }[] = [];
  const onExit = () => {
    for (const d of doomed) {
      try {
        process.kill(d.pid, d.signal);
      } catch {
        // already gone
      }
      rmSync(d.dir, { recursive: true, force: true });
    }
  };
  process.once('exit', onExit);
  const stop = async () => {
    process.off('exit', onExit);
    while (stops.length) await stops.pop()!().catch((err: unknown) => process.stderr.write(`test services: ${String(err)}\n`));
  };
  try {
    let adminUrl = env.TEST_DATABASE_URL;
    let pgMode: TestServices['postgres'] = 'configured';
    if (!adminUrl) {
      if (!forced && (await answers(5432))) {
        adminUrl = DEFAULT_ADMIN_DATABASE_URL;
        pgMode = 'machine';
      } else {
        const t0 = Date.now();
        const root = await mkdtemp(path.join(os.tmpdir(), 'holdpoint-test-pg-'));
        // Run as root, Postgres runs as another user, which must pass through the temp dir.
        if (isRoot()) await chmod(root, 0o711);
        stops.push(() => rm(root, { recursive: true, force: true }));
        const dir = path.join(root, 'pg');
        const pg = await ensurePostgres({
          dir,
          port: 0,
          runAs: PG_RUN_AS,
          user: 'postgres',
          database: 'postgres',
          auth: 'trust',
          // A throwaway cluster: durability off, room for every file's pools at once.
          settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '400' },
        });
        stops.push(async () => void (await stopPostgres({ dir, runAs: PG_RUN_AS })));
        doomed.push({ pid: pg.pid, signal: 'SIGQUIT', dir: root });
        adminUrl = pg.url;
        pgMode = 'embedded';
        process.stderr.write(`test services: embedded Postgres ${pg.version.split('-')[0]} at ${pg.url} (${pg.dataDir}; ready in ${Date.now() - t0} ms)\n`);
      }
      env.TEST_DATABASE_URL = adminUrl;
    }

    let redisUrl = env.TEST_REDIS_URL;
    let redisMode: TestServices['redis'] = 'configured';
    if (!redisUrl) {
      if (!forced && (await answers(6379))) {
        redisUrl = DEFAULT_REDIS_URL;
        redisMode = 'machine';
      } else {
        const dir = await mkdtemp(path.join(os.tmpdir(), 'holdpoint-test-redis-'));
        stops.push(() => rm(dir, { recursive: true, force: true }));
        const redis = await ensureRedis({ dir, port: 0, settings: { appendonly: 'no' } });
        stops.push(async () => void (await stopRedis(dir)));
        doomed.push({ pid: redis.pid, signal: 'SIGTERM', dir });
        redisUrl = redis.url;
        redisMode = 'embedded';
        process.stderr.write(`test services: private redis-server ${redis.version} at 127.0.0.1:${redis.port} (${dir})\n`);
      }
      env.TEST_REDIS_URL = redisUrl;
    }
    return { adminUrl, redisUrl, postgres: pgMode, redis: redisMode, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
