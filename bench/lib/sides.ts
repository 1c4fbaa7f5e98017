// The two sides of every comparison, each on a fresh database and a private
// Redis prefix, torn down (process stopped, database dropped, keys deleted)
// however the scenario ends.
import { RUN_ID, SHARED_REDIS, sizes } from './config.ts';
import { dropDatabase, freshDatabase } from './db.ts';
import { startFloor, type Floor } from './floor.ts';
import { createTenant, type Tenant } from './holdpoint.ts';
import { startHoldpoint, type Holdpoint } from './processes.ts';
import { deletePrefix } from './redis.ts';

/** BENCH_HOLDPOINT_ROOT=/other/checkout/ runs every scenario against another checkout's Holdpoint. */
const HOLDPOINT_ROOT = process.env.BENCH_HOLDPOINT_ROOT ? process.env.BENCH_HOLDPOINT_ROOT.replace(/\/?$/, '/') : undefined;

let seq = 0;
const prefixFor = (label: string) => `${RUN_ID}_${label}_${++seq}`;

export interface SideOpts {
  /** Redis URL (default: the shared one, under a private prefix). */
  redisUrl?: string;
  /** Keep the database (the caller drops it). */
  keepDb?: boolean;
}

export async function withFloor<T>(label: string, o: SideOpts & { hookUrl?: string; timeoutS?: number; cpuProfDir?: string }, fn: (f: Floor, db: { name: string; url: string }) => Promise<T>): Promise<T> {
  const db = await freshDatabase(`${label}_floor`);
  const redisUrl = o.redisUrl ?? SHARED_REDIS;
  const prefix = prefixFor(`${label}_floor`);
  let floor: Floor | undefined;
  try {
    floor = await startFloor({ dbUrl: db.url, redisUrl, prefix, pool: sizes.dbPool, ...(o.hookUrl ? { hookUrl: o.hookUrl } : {}), ...(o.timeoutS ? { timeoutS: o.timeoutS } : {}), ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}) });
    return await fn(floor, db);
  } finally {
    await floor?.stop(5_000);
    await deletePrefix(redisUrl, prefix).catch(() => undefined);
    if (!o.keepDb) await dropDatabase(db.name);
  }
}

export interface HoldpointSide {
  hp: Holdpoint;
  tenant: Tenant;
  db: { name: string; url: string };
  prefix: string;
  redisUrl: string;
}

export async function withHoldpoint<T>(
  label: string,
  o: SideOpts & {
    args?: string[];
    env?: Record<string, string>;
    cpuProfDir?: string;
    webhook?: { url: string; event_types: string[] };
    timeoutSeconds?: number;
    /** How Holdpoint reaches its database (e.g. through a counting proxy). */
    dbUrlFor?: (url: string) => string;
    /** Run another checkout's Holdpoint (A/B runs). */
    root?: string;
  },
  fn: (s: HoldpointSide) => Promise<T>,
): Promise<T> {
  const db = await freshDatabase(`${label}_hp`);
  const redisUrl = o.redisUrl ?? SHARED_REDIS;
  const prefix = prefixFor(`${label}_hp`);
  let hp: Holdpoint | undefined;
  try {
    hp = await startHoldpoint({
      dbUrl: o.dbUrlFor ? o.dbUrlFor(db.url) : db.url,
      redisUrl,
      prefix,
      pool: sizes.dbPool,
      ...(o.args ? { args: o.args } : {}),
      ...(o.env ? { env: o.env } : {}),
      ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}),
      ...(o.root ?? HOLDPOINT_ROOT ? { root: o.root ?? HOLDPOINT_ROOT } : {}),
    });
    const tenant = await createTenant(hp, { ...(o.webhook ? { webhook: o.webhook } : {}), ...(o.timeoutSeconds ? { timeoutSeconds: o.timeoutSeconds } : {}) });
    return await fn({ hp, tenant, db, prefix, redisUrl });
  } finally {
    await hp?.stop(20_000);
    await deletePrefix(redisUrl, prefix).catch(() => undefined);
    if (!o.keepDb) await dropDatabase(db.name);
  }
}
