// What the embedded services ask of the host: is a process alive, is a port
// free, who is a system user, and one directory at a time.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open, readFile, readdir, readlink, unlink } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { EmbeddedError } from './errors.ts';

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Whether a process with this pid runs (EPERM: it does, and belongs to someone
 * else). A zombie does not: a daemon's parent is init, and an init that reaps
 * late (some container inits) leaves a stopped server answering kill(pid, 0).
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** Linux: the state letter in /proc/<pid>/stat (after the command name in parentheses). Elsewhere: false. */
export function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

/**
 * Linux: the live processes whose working directory is `dir` (Postgres
 * backends work in their data directory). Elsewhere, or where /proc cannot be
 * read: null — the caller cannot tell.
 */
export async function processesWorkingIn(dir: string): Promise<number[] | null> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return null;
  }
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    const cwd = await readlink(`/proc/${e}/cwd`).catch(() => null);
    if (cwd === dir && pidAlive(pid)) out.push(pid);
  }
  return out;
}

/**
 * The command name of a live process (Linux: /proc/<pid>/comm; elsewhere
 * `ps -o comm=`), or '' when it cannot be told — which callers must treat as
 * "might be the server", never as "is not".
 */
export async function processName(pid: number): Promise<string> {
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => null);
  if (comm !== null) return comm.trim();
  return new Promise((resolve) => {
    execFile('ps', ['-p', String(pid), '-o', 'comm='], (err, stdout) => resolve(err ? '' : stdout.trim()));
  });
}

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

/** Whether something accepts TCP connections on host:port within `timeoutMs`. */
export async function answers(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
}

/** A system user's ids (`id -u`, `id -g`), or null when there is no such user. */
export async function systemUser(name: string): Promise<SystemUser | null> {
  const id = (flag: string) =>
    new Promise<number | null>((resolve) => execFile('id', [flag, name], (err, out) => resolve(err ? null : Number.parseInt(out, 10))));
  const [uid, gid] = await Promise.all([id('-u'), id('-g')]);
  return uid === null || gid === null || Number.isNaN(uid) || Number.isNaN(gid) ? null : { name, uid, gid };
}

/** Whether `user` may enter `dir` (it and every parent searchable): asked of a process running as that user. */
export async function userCanEnter(user: SystemUser, dir: string): Promise<boolean> {
  const probe = `process.chdir(${JSON.stringify(dir)})`;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['-e', probe], { uid: user.uid, gid: user.gid, stdio: 'ignore', cwd: os.tmpdir() });
    p.once('error', () => resolve(false));
    p.once('exit', (code) => resolve(code === 0));
  });
}

/**
 * One process at a time in `dir` (two `holdpoint` commands started together
 * must not both run initdb). The lock file holds the owner's pid; a lock whose
 * owner is gone is taken over.
 */
export async function withDirLock<T>(dir: string, what: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const lock = `${dir}/.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(lock, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10);
      if (!pidAlive(holder) || holder === process.pid) {
        await unlink(lock).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) throw new EmbeddedError(`${what}: ${lock} is held by process ${holder}, which has not let go in ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}

/** Runs a program to its end; rejects with its output when it exits non-zero. */
export async function run(file: string, args: string[], opts: { user?: SystemUser | null; cwd?: string; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, {
      cwd: opts.cwd ?? os.tmpdir(),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.stdin.end(opts.input ?? '');
    p.once('error', reject);
    p.once('exit', (code, sig) => (code === 0 ? resolve(out) : reject(Object.assign(new Error(out.trim() || `${file} exited with ${code ?? sig}`), { exitCode: code, output: out }))));
  });
}
