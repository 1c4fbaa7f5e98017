// The private Redis: a `redis-server` from PATH, started when a `holdpoint`
// command needs Redis and no REDIS_URL is set. Nothing is downloaded or built:
// without a redis-server, one line says how to get one. Its directory (default
// ./.holdpoint/redis) holds:
//
//   redis.conf       written at each start: loopback, the port, the password, append-only
//   appendonlydir/   the data (appendonly yes, fsync every second, no RDB snapshots)
//   redis.log, redis.pid
//   password         (0600)
//   owner            which holdpoint process stops it (src/embedded/services.ts)
//
// It daemonizes (its own session: a Ctrl-C reaches Holdpoint, which drains and
// then shuts it down). A SIGKILLed Holdpoint leaves it running; the next start
// finds it by its pid file and port, checks it serves this directory, and takes
// it over; a pid file whose process is gone or is another program is stale.
import { mkdir, readFile, realpath, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { EmbeddedError } from './errors.ts';
import { freePort, pidAlive, processName, run, withDirLock } from './host.ts';
import { logTail, readOrMakePassword } from './service-files.ts';

export interface EmbeddedRedisOptions {
  dir: string;
  /** 0: a free port at each start. */
  port: number;
  /** Server settings for this start (the test suite turns the append-only file off). */
  settings?: Record<string, string>;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface EmbeddedRedis {
  /** redis://:password@127.0.0.1:port/0 */
  url: string;
  port: number;
  pid: number;
  dir: string;
  logFile: string;
  version: string;
  started: boolean;
}

export interface RedisFiles {
  dir: string;
  conf: string;
  logFile: string;
  pidFile: string;
  passwordFile: string;
  ownerFile: string;
}

export function redisFiles(dir: string): RedisFiles {
  const abs = path.resolve(dir);
  return {
    dir: abs,
    conf: path.join(abs, 'redis.conf'),
    logFile: path.join(abs, 'redis.log'),
    pidFile: path.join(abs, 'redis.pid'),
    passwordFile: path.join(abs, 'password'),
    ownerFile: path.join(abs, 'owner'),
  };
}

export const NO_REDIS_SERVER =
  'no REDIS_URL is set and there is no redis-server on PATH to start a private one: install Redis (apt-get install redis-server, brew install redis, dnf install redis), or run one with `docker compose up -d redis` and set REDIS_URL=redis://127.0.0.1:6379.';

export function redisUrl(password: string, port: number): string {
  return `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}/0`;
}

/** The configuration file: the caller's settings last, so they win. */
export function redisConf(f: RedisFiles, port: number, password: string, settings: Record<string, string> = {}): string {
  const base: Record<string, string> = {
    bind: '127.0.0.1',
    port: String(port),
    'protected-mode': 'yes',
    requirepass: password,
    dir: f.dir,
    daemonize: 'yes',
    pidfile: f.pidFile,
    logfile: f.logFile,
    appendonly: 'yes',
    appendfsync: 'everysec',
    save: '""',
    // BullMQ needs every key kept: never evict (docs/configuration.md).
    'maxmemory-policy': 'noeviction',
  };
  return `# written by holdpoint at each start of its private Redis; edits are lost\n${Object.entries({ ...base, ...settings })
    .map(([k, v]) => `${k} ${v}`)
    .join('\n')}\n`;
}

async function version(): Promise<string> {
  try {
    const out = await run('redis-server', ['--version']);
    return /v=([\d.]+)/.exec(out)?.[1] ?? 'unknown';
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') throw new EmbeddedError(NO_REDIS_SERVER);
    throw new EmbeddedError(`redis-server --version failed: ${(err as Error).message}`);
  }
}

/** PINGs with the password and asks where it keeps its data: true only for a server of this directory. */
async function serves(url: string, dir: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2_000, enableOfflineQueue: false });
  r.on('error', () => undefined);
  try {
    await r.connect();
    const got = (await r.config('GET', 'dir')) as string[];
    return (await realpath(got[1] ?? '').catch(() => got[1])) === (await realpath(dir).catch(() => dir));
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export async function readRedisState(f: RedisFiles): Promise<{ pid: number | null; port: number | null }> {
  const pid = Number.parseInt(await readFile(f.pidFile, 'utf8').catch(() => ''), 10);
  const port = Number.parseInt(/^port (\d+)$/m.exec(await readFile(f.conf, 'utf8').catch(() => ''))?.[1] ?? '', 10);
  return { pid: Number.isInteger(pid) && pid > 0 ? pid : null, port: Number.isInteger(port) ? port : null };
}

export async function ensureRedis(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const f = redisFiles(opts.dir);
  const v = await version();
  await mkdir(f.dir, { recursive: true, mode: 0o700 });
  return withDirLock(f.dir, 'the private Redis', async () => {
    const password = await readOrMakePassword(f.passwordFile);
    const state = await readRedisState(f);
    if (state.pid !== null && pidAlive(state.pid)) {
      if (state.port !== null && (await serves(redisUrl(password, state.port), f.dir))) {
        return { url: redisUrl(password, state.port), port: state.port, pid: state.pid, dir: f.dir, logFile: f.logFile, version: v, started: false };
      }
      const name = await processName(state.pid);
      if (name === '' || /redis/.test(name)) {
        throw new EmbeddedError(`${name || 'a process'} (pid ${state.pid}) is named by ${f.pidFile} but does not answer as this directory's Redis on port ${state.port}: stop it (kill ${state.pid}), or remove the pid file if it is not Redis, and start again (log: ${f.logFile})`);
      }
    }
    // No pid file, or a stale one (the server was killed; its pid is gone or another program's).
    await unlink(f.pidFile).catch(() => undefined);
    for (let attempt = 0; ; attempt++) {
      const port = opts.port || (await freePort());
      await writeFile(f.conf, redisConf(f, port, password, opts.settings), { mode: 0o600 });
      try {
        await run('redis-server', [f.conf], { cwd: f.dir });
        const started = await waitServing(redisUrl(password, port), f, 15_000);
        if (started) {
          const pid = (await readRedisState(f)).pid ?? 0;
          opts.log?.('private Redis started', { port, dir: f.dir });
          return { url: redisUrl(password, port), port, pid, dir: f.dir, logFile: f.logFile, version: v, started: true };
        }
      } catch (err) {
        if (err instanceof EmbeddedError) throw err;
      }
      const tail = await logTail(f.logFile);
      if (!opts.port && attempt < 2 && /Address already in use/i.test(tail)) continue;
      throw new EmbeddedError(`the private redis-server in ${f.dir} did not start: ${tail || 'no log'} (log: ${f.logFile})`);
    }
  });
}

async function waitServing(url: string, f: RedisFiles, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await serves(url, f.dir)) return true;
    const { pid } = await readRedisState(f);
    // The daemon writes its pid file once it runs; a pid that is gone means it exited (a bad port, a full disk…).
    if (pid !== null && !pidAlive(pid)) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** SHUTDOWN: the append-only file is flushed; returns false when nothing was running. */
export async function stopRedis(dir: string): Promise<boolean> {
  const f = redisFiles(dir);
  const state = await readRedisState(f);
  if (state.pid === null || !pidAlive(state.pid) || state.port === null) return false;
  const password = await readFile(f.passwordFile, 'utf8').then((s) => s.trim(), () => '');
  const r = new Redis(redisUrl(password, state.port), { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.shutdown().catch(() => undefined); // the connection closes as it goes
  } catch {
    process.kill(state.pid, 'SIGTERM'); // redis-server saves and exits on SIGTERM too
  } finally {
    r.disconnect();
  }
  const deadline = Date.now() + 15_000;
  while (pidAlive(state.pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  return true;
}

export async function inspectRedis(dir: string): Promise<{ files: RedisFiles; running: { pid: number; port: number | null } | null }> {
  const f = redisFiles(dir);
  const state = await readRedisState(f);
  return { files: f, running: state.pid !== null && pidAlive(state.pid) ? { pid: state.pid, port: state.port } : null };
}
