// Child processes of a bench run: the real `holdpoint` CLI, the floor server,
// private redis-servers and the load generator. Every child is tracked by pid
// and killed (only those) when the run ends or is interrupted.
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { ROOT, SCRATCH_DIR } from './config.ts';
import { sleep } from './stats.ts';

const children = new Set<ChildProcess>();

import { freePort, waitForPort } from '../../test/helpers/processes.ts';

export { freePort };

export interface Child {
  proc: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | string>;
  kill(): Promise<number | string>;
}

export function track(proc: ChildProcess, keepOutput = 200_000): Child {
  children.add(proc);
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > keepOutput) out = out.slice(-keepOutput);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | string>((r) =>
    proc.once('exit', (code, sig) => {
      children.delete(proc);
      r(code ?? sig ?? -1);
    }),
  );
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  return {
    proc,
    pid: proc.pid!,
    output: () => out,
    exited,
    async stop(graceMs = 15_000) {
      if (!alive()) return exited;
      proc.kill('SIGTERM');
      const t = setTimeout(() => alive() && proc.kill('SIGKILL'), graceMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
    async kill() {
      if (alive()) proc.kill('SIGKILL');
      return exited;
    },
  };
}

/** Kills every child still running (by its own pid). */
export function killAllChildren(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

/** Runs a TypeScript file under tsx in its own node process. */
export function spawnTs(file: string, args: string[], env: Record<string, string>, nodeArgs: string[] = []): Child {
  return track(spawn(process.execPath, [...nodeArgs, '--import', 'tsx', file, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** The environment a holdpoint process gets: ours only, nothing inherited that config reads. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(HOLDPOINT_|SLACK_|DATABASE_URL$|REDIS_URL$|PORT$|HOST$|LOG_LEVEL$)/.test(k)) continue;
    out[k] = v;
  }
  return { ...out, ...extra };
}

export interface HoldpointOpts {
  dbUrl: string;
  redisUrl: string;
  prefix: string;
  pool: number;
  args?: string[];
  env?: Record<string, string>;
  /** Write a V8 CPU profile (node --cpu-prof) into this directory on exit. */
  cpuProfDir?: string;
  port?: number;
  /** Another checkout's root (ends with /) to run instead of this one (A/B runs). */
  root?: string;
}

export interface Holdpoint extends Child {
  base: string;
  port: number;
  env: Record<string, string>;
  root: string;
}

export function holdpointEnv(o: Omit<HoldpointOpts, 'args' | 'cpuProfDir'> & { port: number }): Record<string, string> {
  return cleanEnv({
    DATABASE_URL: o.dbUrl,
    REDIS_URL: o.redisUrl,
    PORT: String(o.port),
    HOST: '127.0.0.1',
    HOLDPOINT_QUEUE_PREFIX: o.prefix,
    HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: 'true',
    HOLDPOINT_DB_POOL: String(o.pool),
    LOG_LEVEL: 'warn',
    // The same key for every process this bench starts (they share a database).
    HOLDPOINT_SECRET_KEY: BENCH_SECRET_KEY,
    ...o.env,
  });
}

const BENCH_SECRET_KEY = randomBytes(32).toString('base64');

/** Starts `node bin/holdpoint.js start` (the real CLI) and waits for /readyz. */
export async function startHoldpoint(o: HoldpointOpts): Promise<Holdpoint> {
  const port = o.port ?? (await freePort());
  const env = holdpointEnv({ ...o, port });
  const nodeArgs: string[] = [];
  if (o.cpuProfDir) {
    mkdirSync(o.cpuProfDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`);
  }
  const root = o.root ?? ROOT;
  const child = track(spawn(process.execPath, [...nodeArgs, `${root}bin/holdpoint.js`, ...(o.args ?? ['start'])], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const base = `http://127.0.0.1:${port}`;
  await waitReady(`${base}/readyz`, child);
  return { ...child, base, port, env, root };
}

export async function waitReady(url: string, child: Child, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) throw new Error(`process exited before ready:\n${child.output()}`);
    try {
      const r = await fetch(url);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`not ready in ${timeoutMs} ms (${url}):\n${child.output()}`);
    await sleep(50);
  }
}

/** Runs the CLI to completion (e.g. `tenant create`). */
export async function runCli(args: string[], env: Record<string, string>, root = ROOT): Promise<string> {
  const c = track(spawn(process.execPath, [`${root}bin/holdpoint.js`, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const code = await c.exited;
  if (code !== 0) throw new Error(`holdpoint ${args.join(' ')} exited ${code}:\n${c.output()}`);
  return c.output();
}

/** A throwaway redis-server, for scenarios that must own Redis (restarts, exact memory). */
export async function startRedis(): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const port = await freePort();
  mkdirSync(SCRATCH_DIR, { recursive: true });
  const c = track(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', SCRATCH_DIR], { stdio: 'pipe' }));
  await waitForPort(port, 10_000, () => `redis-server did not start:\n${c.output()}`);
  return { url: `redis://127.0.0.1:${port}`, port, stop: async () => void (await c.kill()) };
}

/** VmRSS / VmHWM of a process, in MiB (Linux /proc). */
export function memoryOf(pid: number): { rss_mib: number; hwm_mib: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rss_mib: Math.round((kb('VmRSS') / 1024) * 10) / 10, hwm_mib: Math.round((kb('VmHWM') / 1024) * 10) / 10 };
  } catch {
    return null;
  }
}

/** Samples VmRSS every `everyMs` until stopped; returns the peak seen. */
export function sampleRss(pid: number, everyMs = 200): { stop(): { peak_rss_mib: number; samples: number } } {
  let peak = 0;
  let n = 0;
  const t = setInterval(() => {
    const m = memoryOf(pid);
    if (m) {
      peak = Math.max(peak, m.rss_mib);
      n++;
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      return { peak_rss_mib: peak, samples: n };
    },
  };
}
