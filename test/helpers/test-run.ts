// A test run's own resources in the shared Postgres and Redis: created by
// globalSetup, named `hpt_<runid>_…`, and removed by its teardown — only its
// own. Leftovers of crashed runs are removed only when clearly ours (the exact
// name pattern) and clearly stale (started more than a day ago), and a stale
// database someone is still connected to is left alone (DROP without FORCE).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createSql } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { ADMIN_DATABASE_URL, REDIS_URL, databaseUrl, type TestRun } from './env.ts';

export const STALE_AFTER_MS = 24 * 3600_000;
// hpt_<base-36 start seconds>_<6 hex>_<anything>
const OURS = /^hpt_([0-9a-z]{6,8})_([0-9a-f]{6})_/;

export function newTestRun(now = Date.now()): TestRun {
  const id = `${Math.floor(now / 1000).toString(36)}_${randomBytes(3).toString('hex')}`;
  const prefix = `hpt_${id}_`;
  return { id, prefix, template: `${prefix}tpl` };
}

/** When the run that named `name` started, or null if the name is not one of ours. */
export function runStartOf(name: string): number | null {
  const m = OURS.exec(name);
  return m ? parseInt(m[1]!, 36) * 1000 : null;
}

export interface RunCleanup {
  databases: string[];
  redisKeys: number;
}

export interface StartedRun {
  run: TestRun;
  /** Leftovers of stale runs removed at start. */
  swept: RunCleanup;
  teardown(): Promise<RunCleanup>;
}

export async function startTestRun(opts: { adminUrl?: string; redisUrl?: string; now?: number } = {}): Promise<StartedRun> {
  const adminUrl = opts.adminUrl ?? ADMIN_DATABASE_URL;
  const redisUrl = opts.redisUrl ?? REDIS_URL;
  const now = opts.now ?? Date.now();
  const run = newTestRun(now);
  const swept = await sweepStale({ adminUrl, redisUrl, now });
  const admin = createSql(adminUrl, { max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE ${run.template}`);
  } finally {
    await admin.end();
  }
  const tpl = createSql(databaseUrl(run.template), { max: 1 });
  try {
    await migrate(tpl);
  } finally {
    await tpl.end();
  }
  return { run, swept, teardown: () => endTestRun(run, { adminUrl, redisUrl }) };
}

/** Drops every database of this run (its files' leftovers, then the template) and deletes every Redis key under its prefix. */
export async function endTestRun(run: TestRun, opts: { adminUrl?: string; redisUrl?: string } = {}): Promise<RunCleanup> {
  const admin = createSql(opts.adminUrl ?? ADMIN_DATABASE_URL, { max: 1 });
  const databases: string[] = [];
  try {
    const rows = await admin<{ datname: string }[]>`
      SELECT datname FROM pg_database WHERE left(datname, ${run.prefix.length}) = ${run.prefix} ORDER BY datname = ${run.template}, datname`;
    for (const { datname } of rows) {
      await admin.unsafe(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      databases.push(datname);
    }
  } finally {
    await admin.end();
  }
  const redisKeys = await deleteKeys(opts.redisUrl ?? REDIS_URL, `${run.prefix}*`, () => true);
  return { databases, redisKeys };
}

async function sweepStale(opts: { adminUrl: string; redisUrl: string; now: number }): Promise<RunCleanup> {
  const stale = (name: string) => {
    const started = runStartOf(name);
    return started !== null && opts.now - started > STALE_AFTER_MS;
  };
  const admin = createSql(opts.adminUrl, { max: 1 });
  const databases: string[] = [];
  try {
    const rows = await admin<{ datname: string }[]>`SELECT datname FROM pg_database WHERE left(datname, 4) = 'hpt_'`;
    for (const { datname } of rows.filter((r) => stale(r.datname))) {
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS "${datname}"`);
        databases.push(datname);
      } catch {
        // In use: not as dead as it looks. Leave it.
      }
    }
  } finally {
    await admin.end();
  }
  const redisKeys = await deleteKeys(opts.redisUrl, 'hpt_*', stale);
  return { databases, redisKeys };
}

/** SCAN (never KEYS, never FLUSH) for `match`, deleting the keys `keep` accepts. */
export async function deleteKeys(redisUrl: string, match: string, accept: (key: string) => boolean): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      const doomed = keys.filter(accept);
      if (doomed.length) deleted += await redis.unlink(...doomed);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** The keys under `match` (tests and leak checks). */
export async function listKeys(redisUrl: string, match: string): Promise<string[]> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const found: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return found;
}
