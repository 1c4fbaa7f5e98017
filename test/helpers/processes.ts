// Real processes for crash tests: the holdpoint CLI and a private redis-server.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { TEST_SECRET_KEY } from './env.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = `${ROOT}bin/holdpoint.js`;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface Proc {
  proc: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

function track(proc: ChildProcess): Proc {
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((r) => proc.once('exit', (code, sig) => r(code ?? sig ?? -1)));
  return {
    proc,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Runs the CLI to completion; returns its exit code and output. */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, HOLDPOINT_SECRET_KEY: TEST_SECRET_KEY, ...env }, cwd: ROOT });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | string>((r) => p.once('exit', (c, s) => r(c ?? s ?? -1)));
  return { code, stdout, stderr };
}

export function spawnHoldpoint(args: string[], env: Record<string, string>): Proc {
  return track(spawn(process.execPath, [BIN, ...args], { env: { ...process.env, HOLDPOINT_SECRET_KEY: TEST_SECRET_KEY, ...env }, cwd: ROOT }));
}

export async function waitReady(baseUrl: string, p: Proc, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.proc.exitCode !== null) throw new Error(`holdpoint exited early:\n${p.output()}`);
    try {
      const r = await fetch(`${baseUrl}/readyz`);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`holdpoint not ready in ${timeoutMs} ms:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves once something accepts connections on 127.0.0.1:`port`; throws `why()` after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, why: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A throwaway redis-server, so a test may FLUSHALL or stop it without touching anyone else's. */
export async function startRedis(fixedPort?: number): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const port = fixedPort ?? (await freePort());
  const p = track(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'pipe' }));
  await waitForPort(port, 10_000, () => `redis-server did not start:\n${p.output()}`);
  return { url: `redis://127.0.0.1:${port}`, port, stop: async () => void (await p.kill('SIGKILL')) };
}

/**
 * What every crash test needs: its own database, its own redis-server (so it may
 * FLUSHALL or stop it), a free port, the environment for `holdpoint`, and a
 * start() that waits until the process is ready.
 */
export async function createProcessFixture(extraEnv: Record<string, string> = {}) {
  const { createTestDatabase } = await import('./db.ts');
  const db = await createTestDatabase();
  const redis = await startRedis();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    HOLDPOINT_QUEUE_PREFIX: 'e2e',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  return {
    db,
    redis,
    env,
    base,
    async start(extra: Record<string, string> = {}): Promise<Proc> {
      const p = spawnHoldpoint(['start'], { ...env, ...extra });
      await waitReady(base, p);
      return p;
    },
    async close(): Promise<void> {
      await redis.stop();
      await db.drop();
    },
  };
}

export type ProcessFixture = Awaited<ReturnType<typeof createProcessFixture>>;
