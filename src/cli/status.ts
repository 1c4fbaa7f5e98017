// `holdpoint status`: which Postgres and Redis this directory's Holdpoint uses —
// configured (external) or embedded — where they are, and whether they answer.
// It starts nothing.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { maskUrl, type Settings } from '../config.ts';
import { pidAlive } from '../embedded/host.ts';
import { inspectPostgres, pgUrl } from '../embedded/postgres.ts';
import { inspectRedis, redisUrl } from '../embedded/redis.ts';
import { readOwner } from '../embedded/services.ts';
import { createSql } from '../db/client.ts';
import { createProducerConnection, pingRedis } from '../queue/connection.ts';
import { print } from './common.ts';

export interface ServiceStatus {
  service: 'postgres' | 'redis';
  mode: 'external' | 'embedded';
  /** The address, password masked; null for an embedded service that is not running. */
  url: string | null;
  answers: boolean;
  /** Embedded only. */
  dir?: string;
  data_dir?: string;
  log_file?: string;
  initialised?: boolean;
  running?: boolean;
  pid?: number | null;
  /** The `holdpoint` process that will stop it, and whether that process still runs. */
  owner?: { pid: number; role: string; alive: boolean } | null;
}

async function postgresAnswers(url: string): Promise<boolean> {
  const sql = createSql(url, { max: 1 });
  try {
    await Promise.race([sql`SELECT 1`, new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 3_000).unref())]);
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => undefined);
  }
}

async function redisAnswers(url: string): Promise<boolean> {
  const r = createProducerConnection(url, { lazyConnect: true, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await pingRedis(r, 3_000);
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

const password = (file: string) => readFile(file, 'utf8').then((s) => s.trim(), () => '');

async function owner(file: string): Promise<ServiceStatus['owner']> {
  const o = await readOwner(file);
  return o ? { ...o, alive: pidAlive(o.pid) } : null;
}

export async function serviceStatus(settings: Settings): Promise<ServiceStatus[]> {
  const out: ServiceStatus[] = [];
  if (settings.DATABASE_URL) {
    out.push({ service: 'postgres', mode: 'external', url: maskUrl(settings.DATABASE_URL), answers: await postgresAnswers(settings.DATABASE_URL) });
  } else {
    const pg = await inspectPostgres(settings.HOLDPOINT_PG_DIR);
    const url = pg.running?.port ? pgUrl({ user: 'holdpoint', password: await password(pg.files.passwordFile), port: pg.running.port, database: 'holdpoint' }) : null;
    out.push({
      service: 'postgres',
      mode: 'embedded',
      url: url && maskUrl(url),
      answers: url ? await postgresAnswers(url) : false,
      dir: pg.files.dir,
      data_dir: pg.files.dataDir,
      log_file: pg.files.logFile,
      initialised: pg.initialised,
      running: pg.running !== null,
      pid: pg.running?.pid ?? null,
      owner: await owner(pg.files.ownerFile),
    });
  }
  if (settings.REDIS_URL) {
    out.push({ service: 'redis', mode: 'external', url: maskUrl(settings.REDIS_URL), answers: await redisAnswers(settings.REDIS_URL) });
  } else {
    const r = await inspectRedis(settings.HOLDPOINT_REDIS_DIR);
    const url = r.running?.port ? redisUrl(await password(r.files.passwordFile), r.running.port) : null;
    out.push({
      service: 'redis',
      mode: 'embedded',
      url: url && maskUrl(url),
      answers: url ? await redisAnswers(url) : false,
      dir: r.files.dir,
      data_dir: r.files.dir,
      log_file: r.files.logFile,
      running: r.running !== null,
      pid: r.running?.pid ?? null,
      owner: await owner(r.files.ownerFile),
    });
  }
  return out;
}

function describe(s: ServiceStatus): string {
  const name = s.service === 'postgres' ? 'Postgres' : 'Redis';
  if (s.mode === 'external') {
    const from = s.service === 'postgres' ? 'DATABASE_URL' : 'REDIS_URL';
    return `${name}: external (${from}) ${s.url} — ${s.answers ? 'answers' : 'does not answer'}`;
  }
  const what = s.service === 'postgres' ? 'embedded Postgres' : 'private redis-server';
  const state = s.running
    ? `running (pid ${s.pid}) at ${s.url} — ${s.answers ? 'answers' : 'does not answer'}${s.owner ? `; stopped by holdpoint pid ${s.owner.pid}${s.owner.alive ? '' : ' (gone: the next `holdpoint start` takes it over)'}` : ''}`
    : s.service === 'postgres' && !s.initialised
      ? 'not created yet (`holdpoint migrate` or `npm start` creates it)'
      : 'not running (`holdpoint start` starts it)';
  return `${name}: ${what}, ${state}\n  data: ${s.data_dir}\n  log:  ${s.log_file}`;
}

export async function statusCommand(args: string[], settings: Settings): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true });
  const services = await serviceStatus(settings);
  print(!!values.json, { services }, services.map(describe).join('\n'));
  return 0;
}
