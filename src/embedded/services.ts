// Which Postgres and Redis a `holdpoint` command uses: the configured ones
// (DATABASE_URL, REDIS_URL: how production runs), or, for what is unset, the
// embedded Postgres and the private Redis, started here and stopped by whoever
// owns them.
//
// Ownership, in each service's `owner` file (pid and role): `holdpoint start`
// owns what it started, and takes over what it finds running when its owner is
// gone (a Holdpoint that was SIGKILLed) or is only a short command; it stops
// what it owns when it stops. A short command (migrate, tenant create, …) uses
// what runs, and stops only what it started itself, unless a `start` has taken
// it over meanwhile. A second `start` in the same directory while the first
// runs is a guest: it uses the services and leaves them running.
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { maskUrl, type Config, type Settings } from '../config.ts';
import { EmbeddedError } from './errors.ts';
import { pidAlive } from './host.ts';
import { ensurePostgres, pgFiles, stopPostgres, type EmbeddedPg } from './postgres.ts';
import { ensureRedis, redisFiles, stopRedis, type EmbeddedRedis } from './redis.ts';

export type Role = 'server' | 'command';

export interface Owner {
  pid: number;
  role: Role;
}

export async function readOwner(file: string): Promise<Owner | null> {
  try {
    const o = JSON.parse(await readFile(file, 'utf8')) as Partial<Owner>;
    return typeof o.pid === 'number' && (o.role === 'server' || o.role === 'command') ? { pid: o.pid, role: o.role } : null;
  } catch {
    return null;
  }
}

/**
 * Whether this process should own a service it found running (`started`:
 * it started it itself). Pure: the owner file and whether its pid lives are passed in.
 */
export function takesOwnership(me: Owner, started: boolean, current: Owner | null, currentAlive: boolean): boolean {
  if (started) return true;
  if (me.role !== 'server') return false;
  if (!current || !currentAlive || current.pid === me.pid) return true;
  return current.role === 'command';
}

export interface ServiceLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

export interface Provided {
  config: Config;
  postgres: EmbeddedPg | null;
  redis: EmbeddedRedis | null;
  /** Stops what this process owns (in reverse order of start). Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Fills in DATABASE_URL and REDIS_URL from the embedded services where they are
 * unset. A command that does not use one (`need`) never starts it: its URL is
 * left as configured, or a placeholder it never connects to.
 */
export async function provideServices(settings: Settings, opts: { role: Role; need: { postgres: boolean; redis: boolean }; log: ServiceLog }): Promise<Provided> {
  const me: Owner = { pid: process.pid, role: opts.role };
  const stops: (() => Promise<void>)[] = [];
  const release = async () => {
    while (stops.length) await stops.pop()!();
  };
  // A server says what it uses at info; a short command only when it had to start something.
  const say = (loud: boolean, msg: string, fields: Record<string, unknown>) => (loud || opts.role === 'server' ? opts.log.info(msg, fields) : opts.log.debug(msg, fields));
  try {
    let pg: EmbeddedPg | null = null;
    let databaseUrl = settings.DATABASE_URL;
    if (databaseUrl) {
      if (opts.role === 'server') opts.log.info('Postgres: external (DATABASE_URL)', { url: maskUrl(databaseUrl) });
    } else if (opts.need.postgres) {
      if (settings.NODE_ENV === 'production') {
        throw new EmbeddedError('NODE_ENV=production needs DATABASE_URL: the embedded Postgres is for trying Holdpoint on one machine, not for production.');
      }
      pg = await ensurePostgres({ dir: settings.HOLDPOINT_PG_DIR, port: settings.HOLDPOINT_PG_PORT, runAs: settings.HOLDPOINT_PG_RUN_AS, log: (m, f) => opts.log.info(m, f) });
      databaseUrl = pg.url;
      const owned = await claim(pgFiles(pg.dir).ownerFile, me, pg.started);
      if (owned.owner) {
        stops.push(() =>
          stopOwned(pgFiles(pg!.dir).ownerFile, me, async () => {
            await stopPostgres({ dir: pg!.dir, runAs: settings.HOLDPOINT_PG_RUN_AS });
            say(pg!.started, 'Postgres: embedded server stopped', { data: pg!.dataDir });
          }),
        );
      }
      say(pg.started, `Postgres: embedded ${pg.version.split('-')[0]} at ${maskUrl(pg.url)}, data in ${pg.dataDir} (set DATABASE_URL to use your own server)`, {
        started: pg.started,
        owner: owned.owner,
        pid: pg.pid,
        ...(owned.adopted ? { adopted_from_pid: owned.adopted } : {}),
      });
    }

    let redis: EmbeddedRedis | null = null;
    let redisUrl = settings.REDIS_URL;
    if (redisUrl) {
      if (opts.role === 'server') opts.log.info('Redis: external (REDIS_URL)', { url: maskUrl(redisUrl) });
    } else if (opts.need.redis) {
      if (settings.NODE_ENV === 'production') {
        throw new EmbeddedError('NODE_ENV=production needs REDIS_URL: the private Redis is for trying Holdpoint on one machine, not for production.');
      }
      redis = await ensureRedis({ dir: settings.HOLDPOINT_REDIS_DIR, port: settings.HOLDPOINT_REDIS_PORT });
      redisUrl = redis.url;
      const owned = await claim(redisFiles(redis.dir).ownerFile, me, redis.started);
      if (owned.owner) {
        stops.push(() =>
          stopOwned(redisFiles(redis!.dir).ownerFile, me, async () => {
            await stopRedis(redis!.dir);
            say(redis!.started, 'Redis: private server stopped', { data: redis!.dir });
          }),
        );
      }
      say(redis.started, `Redis: private redis-server ${redis.version} at ${maskUrl(redis.url)}, data in ${redis.dir} (set REDIS_URL to use your own server)`, {
        started: redis.started,
        owner: owned.owner,
        pid: redis.pid,
        ...(owned.adopted ? { adopted_from_pid: owned.adopted } : {}),
      });
    }
    // A command that needs neither never connects to these addresses.
    const config: Config = { ...settings, DATABASE_URL: databaseUrl ?? 'postgres://127.0.0.1:0/unused', REDIS_URL: redisUrl ?? 'redis://127.0.0.1:0/0' };
    return { config, postgres: pg, redis, release };
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
}

/** Decides and records ownership; `adopted`: the dead owner's pid when this took over a running service. */
async function claim(file: string, me: Owner, started: boolean): Promise<{ owner: boolean; adopted: number | null }> {
  const current = await readOwner(file);
  const alive = current !== null && pidAlive(current.pid);
  if (!takesOwnership(me, started, current, alive)) return { owner: false, adopted: null };
  await writeFile(file, `${JSON.stringify(me)}\n`);
  return { owner: true, adopted: !started && current && current.pid !== me.pid && !alive ? current.pid : null };
}

/** Stops the service unless someone (a `holdpoint start`) took it over since. */
async function stopOwned(file: string, me: Owner, stop: () => Promise<unknown>): Promise<void> {
  const current = await readOwner(file);
  if (current && current.pid !== me.pid) return;
  await stop();
  await unlink(file).catch(() => undefined);
}
