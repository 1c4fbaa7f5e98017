// The chaos run's own Postgres cluster and redis-server, in one temp dir, on
// free loopback ports, so it can kill and restart them without disturbing the
// shared services on 5432 / 6379 (which it never touches).
//
// Postgres refuses to run as root: when we are root, every Postgres binary runs
// as the `postgres` OS user (runuser), and the temp dir is handed to it.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/helpers/processes.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pgBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  if (versions.length === 0) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)');
  versions.sort((a, b) => Number(b) - Number(a));
  return path.join(root, versions[0]!, 'bin');
}

/** Runs a command to completion; rejects with its output on a non-zero exit. */
function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.end();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface ChaosPostgres {
  url: string;
  port: number;
  /** `pg_ctl -m fast restart`: a clean shutdown (clients see 57P01) and a start. */
  restartFast(): Promise<void>;
  /** SIGKILL the postmaster, stay down `downMs`, then start again (crash recovery replays the WAL). */
  killAndStart(downMs?: number): Promise<void>;
  /** Stops the cluster (immediate) and deletes its files. Safe to call twice. */
  destroy(): Promise<void>;
  /** For the exit handler: the same, synchronously, best effort. */
  destroySync(): void;
  logTail(lines?: number): string;
}

export async function startPostgres(root: string): Promise<ChaosPostgres> {
  const bin = pgBinDir();
  const asRoot = process.getuid?.() === 0;
  const dir = path.join(root, 'pg');
  mkdirSync(dir);
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(root, uid, gid);
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  const port = await freePort();
  // runuser -u postgres -- <binary> ...: the binaries refuse root.
  const pg = (tool: string, args: string[], timeoutMs?: number) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args], timeoutMs) : run(path.join(bin, tool), args, timeoutMs);

  await pg('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const opts = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=on',
    '-c synchronous_commit=on',
    '-c shared_buffers=32MB',
    '-c max_connections=200',
    '-c logging_collector=off',
  ].join(' ');
  const start = async () => {
    // After a SIGKILL the old backends may hold the shared memory for a moment
    // ("pre-existing shared memory block is still in use"): try again.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await pg('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '30', '-o', opts, 'start']);
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
  };
  const postmasterPid = (): number | undefined => {
    try {
      const pid = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  await start();

  let destroyed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/holdpoint`,
    port,
    async restartFast() {
      await pg('pg_ctl', ['-D', data, '-l', logFile, '-m', 'fast', '-w', '-t', '30', '-o', opts, 'restart']);
    },
    async killAndStart(downMs = 0) {
      const pid = postmasterPid();
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        // Wait for it to be gone (and its backends, which exit on postmaster death).
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          try {
            process.kill(pid, 0);
            await sleep(20);
          } catch {
            break;
          }
        }
      }
      await sleep(downMs);
      await start();
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '20', 'stop']).catch(() => undefined);
      const pid = postmasterPid();
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    },
    destroySync() {
      if (destroyed) return;
      destroyed = true;
      const pid = postmasterPid();
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    },
    logTail(lines = 40) {
      try {
        return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '(no postgres log)';
      }
    },
  };
}

export interface ChaosRedis {
  url: string;
  port: number;
  /** SIGKILL the server, stay down `downMs`, start it again on the same port (its append-only file survives). */
  killAndStart(downMs?: number): Promise<void>;
  destroy(): Promise<void>;
  destroySync(): void;
}

/**
 * Like startRedis in test/helpers/processes.ts, but configured as production
 * should be (appendonly yes, everysec, noeviction), so a restart keeps what was
 * fsynced and loses at most the last second; FLUSHALL is the fault that loses
 * everything.
 */
export async function startRedisServer(root: string): Promise<ChaosRedis> {
  const dir = path.join(root, 'redis');
  mkdirSync(dir);
  const port = await freePort();
  let proc: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      proc = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const p = proc;
      p.stdout?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
      p.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
      for (;;) {
        if (await portOpen(port)) {
          // Listening is not loaded: wait until it answers PING with PONG (not LOADING).
          if (await pingPong(port)) return;
        }
        if (p.exitCode !== null || p.signalCode !== null) break; // e.g. port still in TIME_WAIT: spawn again
        if (Date.now() > deadline) throw new Error(`redis-server did not start on ${port}:\n${log}`);
        await sleep(20);
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not start on ${port}:\n${log}`);
      await sleep(100);
    }
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  };
  await start();
  let destroyed = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async killAndStart(downMs = 0) {
      await kill();
      await sleep(downMs);
      await start();
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await kill();
    },
    destroySync() {
      if (destroyed) return;
      destroyed = true;
      proc?.kill('SIGKILL');
    },
  };
}

function pingPong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    let got = '';
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
    s.once('error', () => done(false));
    s.setTimeout(1_000, () => done(false));
  });
}

/** A fresh temp dir for one run (Postgres data, Redis AOF, logs). */
export function makeRunDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'holdpoint-chaos-'));
  chmodSync(dir, 0o755);
  return dir;
}

export function removeRunDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
