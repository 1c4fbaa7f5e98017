// The embedded Postgres: a real Postgres cluster in a directory of the user's
// (default ./.holdpoint/pg), started when a `holdpoint` command needs it and no
// DATABASE_URL is set. Layout of that directory:
//
//   data/          the cluster (PGDATA); owned by HOLDPOINT_PG_RUN_AS when run as root
//   postgres.log   the server's log (pg_ctl -l)
//   password       the superuser's password (0600), made at initdb
//   owner          which holdpoint process stops it (src/embedded/services.ts)
//
// The postmaster runs in its own session (pg_ctl start), never as a child
// writing into a pipe: a Ctrl-C at the terminal reaches Holdpoint, which drains
// and then stops Postgres; a SIGKILLed Holdpoint leaves it running, and the next
// start finds it and takes it over.
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, open, readFile, readdir, realpath, rm, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { findBinaries, type PgBinaries } from './binaries.ts';
import { EmbeddedError } from './errors.ts';
import { freePort, isRoot, isZombie, pidAlive, processName, processesWorkingIn, run, systemUser, userCanEnter, withDirLock, type SystemUser } from './host.ts';
import { lastLines, logTail, readOrMakePassword } from './service-files.ts';

export interface EmbeddedPgOptions {
  /** The directory (relative to the working directory, or absolute). */
  dir: string;
  /** 0: a free port at each start. */
  port: number;
  /** When run as root: the system user Postgres runs as. */
  runAs: string;
  /** The superuser initdb creates (and the URL names). */
  user?: string;
  /** The database the URL names (created by `holdpoint migrate`, not here). */
  database?: string;
  /**
   * scram-sha-256 (default): the URL carries the password kept in the directory.
   * trust: no password (the test suite's throwaway cluster, like the shared test server).
   */
  auth?: 'scram-sha-256' | 'trust';
  /** Server settings (-c name=value) for this start, e.g. the test suite's fsync=off. */
  settings?: Record<string, string>;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface EmbeddedPg {
  /** postgres://user:password@127.0.0.1:port/database */
  url: string;
  port: number;
  pid: number;
  dir: string;
  dataDir: string;
  logFile: string;
  /** The binaries' package version (18.4.0-…: Postgres 18.4). */
  version: string;
  /** This call ran initdb. */
  initialised: boolean;
  /** This call started the server (false: it was running already). */
  started: boolean;
}

export interface PgFiles {
  dir: string;
  dataDir: string;
  logFile: string;
  passwordFile: string;
  ownerFile: string;
}

export function pgFiles(dir: string): PgFiles {
  const abs = path.resolve(dir);
  return {
    dir: abs,
    dataDir: path.join(abs, 'data'),
    logFile: path.join(abs, 'postgres.log'),
    passwordFile: path.join(abs, 'password'),
    ownerFile: path.join(abs, 'owner'),
  };
}

export interface PostmasterPid {
  pid: number;
  dataDir: string;
  port: number;
  /** starting, stopping, ready, standby (empty on servers that have not written it yet). */
  status: string;
}

/** postmaster.pid: pid, data directory, start time, port, socket dir, listen address, shmem key, status. */
export function parsePostmasterPid(text: string): PostmasterPid | null {
  const lines = text.split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return { pid, dataDir: lines[1] ?? '', port: Number.isInteger(port) ? port : 0, status: (lines[7] ?? '').trim() };
}

export async function readPostmasterPid(dataDir: string): Promise<PostmasterPid | null> {
  const text = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
  return text === null ? null : parsePostmasterPid(text);
}

export function pgUrl(o: { user: string; password: string; port: number; database: string }): string {
  const secret = o.password ? `:${encodeURIComponent(o.password)}` : '';
  return `postgres://${encodeURIComponent(o.user)}${secret}@127.0.0.1:${o.port}/${encodeURIComponent(o.database)}`;
}

/** Whether the server on `port` answers with these credentials and serves `dataDir` (not some other cluster on a reused port). */
async function serves(url: string, dataDir: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, idle_timeout: 1, onnotice: () => undefined, connection: { application_name: 'holdpoint-embedded-probe' } });
  try {
    const [row] = await sql<{ d: string }[]>`SELECT current_setting('data_directory') AS d`;
    return row !== undefined && (await realpath(row.d).catch(() => row.d)) === (await realpath(dataDir).catch(() => dataDir));
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => undefined);
  }
}

async function runAsUser(name: string): Promise<SystemUser | null> {
  if (!isRoot()) return null;
  const user = await systemUser(name);
  if (!user) {
    throw new EmbeddedError(
      `Postgres refuses to run as root, and there is no system user "${name}" to run the embedded one as: create one (\`useradd --system --user-group ${name}\`), set HOLDPOINT_PG_RUN_AS to an existing unprivileged user, run Holdpoint as a normal user, or set DATABASE_URL.`,
    );
  }
  return user;
}

async function initdb(b: PgBinaries, f: PgFiles, user: SystemUser | null, superuser: string, password: string, auth: string, sync: boolean): Promise<void> {
  await mkdir(f.dataDir, { recursive: true, mode: 0o700 });
  if (user) await chown(f.dataDir, user.uid, user.gid);
  // initdb reads the password from a file it can open: in the temp dir, 0600, owned by the user it runs as.
  const pwfile = path.join(os.tmpdir(), `holdpoint-pg-${randomBytes(8).toString('hex')}`);
  const fh = await open(pwfile, 'wx', 0o600);
  try {
    await fh.writeFile(`${password}\n`);
    await fh.close();
    if (user) await chown(pwfile, user.uid, user.gid);
    await run(b.initdb, ['-D', f.dataDir, '-U', superuser, ...(password ? [`--pwfile=${pwfile}`] : []), `--auth=${auth}`, '-E', 'UTF8', '--locale=C', '--no-instructions', ...(sync ? [] : ['--no-sync'])], { user });
  } catch (err) {
    // Leave no half-made cluster: the next start begins again from nothing.
    await rm(f.dataDir, { recursive: true, force: true }).catch(() => undefined);
    throw new EmbeddedError(`initdb of the embedded Postgres in ${f.dataDir} failed: ${lastLines((err as { output?: string }).output ?? (err as Error).message)}`);
  } finally {
    await unlink(pwfile).catch(() => undefined);
  }
  // Loopback TCP only, no Unix socket (its default directory, /tmp or /var/run/postgresql, may
  // hold another server's socket): nothing but this machine reaches it, and only with the password.
  await writeFile(
    path.join(f.dataDir, 'postgresql.conf'),
    `${await readFile(path.join(f.dataDir, 'postgresql.conf'), 'utf8')}\n# holdpoint (embedded)\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n`,
  );
}

/**
 * The embedded cluster in `opts.dir`, running: made on first use (initdb), then
 * started, or found already running — left by a Holdpoint that was killed, or
 * started by another `holdpoint` command. A stale postmaster.pid (its server
 * was killed, its pid perhaps reused by another program) does not stop it.
 */
export async function ensurePostgres(opts: EmbeddedPgOptions): Promise<EmbeddedPg> {
  const log = opts.log ?? (() => undefined);
  const superuser = opts.user ?? 'holdpoint';
  const database = opts.database ?? 'holdpoint';
  const f = pgFiles(opts.dir);
  const b = await findBinaries();
  const user = await runAsUser(opts.runAs);
  await mkdir(f.dir, { recursive: true, mode: user ? 0o711 : 0o700 });
  if (user) {
    // Postgres enters its data directory: that user must be able to pass through this one
    // (0711: pass, not list; the password file stays 0600) and through every parent — which
    // includes ./.holdpoint, made 0700 by the secret key's code, and made passable here.
    await chmod(f.dir, 0o711);
    const parent = path.dirname(f.dir);
    if (path.basename(parent) === '.holdpoint') {
      const st = await stat(parent);
      if (st.uid === 0 && !(st.mode & 0o001)) await chmod(parent, (st.mode & 0o777) | 0o011);
    }
    if (!(await userCanEnter(user, f.dir))) {
      throw new EmbeddedError(
        `the embedded Postgres runs as "${user.name}" (Postgres refuses root), which cannot reach ${f.dir} (a parent directory is closed to it): set HOLDPOINT_PG_DIR to a directory it can reach, run Holdpoint as a normal user, or set DATABASE_URL.`,
      );
    }
  }
  return withDirLock(f.dir, 'the embedded Postgres', async () => {
    const password = opts.auth === 'trust' ? '' : await readOrMakePassword(f.passwordFile);
    const url = (port: number) => pgUrl({ user: superuser, password, port, database });
    let initialised = false;
    const hasCluster = await stat(path.join(f.dataDir, 'PG_VERSION')).then(
      () => true,
      () => false,
    );
    if (!hasCluster) {
      const leftovers = await readdir(f.dataDir).catch(() => [] as string[]);
      if (leftovers.length > 0) throw new EmbeddedError(`${f.dataDir} holds files but no Postgres cluster (no PG_VERSION): move it away, or set HOLDPOINT_PG_DIR elsewhere.`);
      const t0 = Date.now();
      // A cluster that will run with fsync off (the test suite's) need not be synced at birth either.
      await initdb(b, f, user, superuser, password, opts.auth ?? 'scram-sha-256', opts.settings?.fsync !== 'off');
      initialised = true;
      log('embedded Postgres: created a new cluster', { data: f.dataDir, ms: Date.now() - t0 });
    }

    // The probe uses the maintenance database: the URL's may not exist yet (migrate creates it).
    const running = await findRunning(f, (port) => pgUrl({ user: superuser, password, port, database: 'postgres' }));
    if (running) return { url: url(running.port), port: running.port, pid: running.pid, ...f, version: b.version, initialised, started: false };

    const logFh = await open(f.logFile, 'a', 0o600);
    await logFh.close();
    if (user) await chown(f.logFile, user.uid, user.gid);
    for (let attempt = 0; ; attempt++) {
      const port = opts.port || (await freePort());
      const settings = Object.entries(opts.settings ?? {}).map(([k, v]) => `-c ${k}=${v}`);
      try {
        await run(b.pgCtl, ['start', '-D', f.dataDir, '-l', f.logFile, '-w', '-t', '120', '-s', '-o', [`-p ${port}`, ...settings].join(' ')], { user });
      } catch (err) {
        // Another program took the free port between the probe and the start: try another.
        if (!opts.port && attempt < 2 && /could not bind|Address already in use/i.test(await logTail(f.logFile))) continue;
        throw new EmbeddedError(`the embedded Postgres in ${f.dataDir} did not start: ${(await logTail(f.logFile)) || lastLines((err as Error).message)} (log: ${f.logFile})`);
      }
      const pm = await readPostmasterPid(f.dataDir);
      return { url: url(port), port, pid: pm?.pid ?? 0, ...f, version: b.version, initialised, started: true };
    }
  });
}

/**
 * A server already running on this cluster, or null when none is (a stale
 * postmaster.pid is cleared on the way: its pid is gone, or belongs to a
 * program that is not Postgres).
 */
async function findRunning(f: PgFiles, url: (port: number) => string): Promise<{ pid: number; port: number } | null> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const pm = await readPostmasterPid(f.dataDir);
    if (!pm) return null;
    if (!pidAlive(pm.pid)) {
      // The postmaster was killed. Postgres clears its own stale lock when the
      // pid is gone — but not when it is a zombie that a late-reaping init has
      // not collected: kill(pid, 0) still succeeds, and Postgres refuses ("lock
      // file already exists"). Then the lock is cleared here, once no orphaned
      // backend still works in the directory (they exit when the postmaster dies).
      if (isZombie(pm.pid)) await clearZombieLock(f);
      return null;
    }
    if (pm.port && (await serves(url(pm.port), f.dataDir))) return { pid: pm.pid, port: pm.port };
    const name = await processName(pm.pid);
    if (name !== '' && !/postgres|postmaster/.test(name)) {
      // The pid was reused by another program after the postmaster died (a reboot, a container
      // restart). Postgres would refuse ("lock file already exists"); the lock is stale.
      await unlink(path.join(f.dataDir, 'postmaster.pid')).catch(() => undefined);
      return null;
    }
    // A postmaster that is starting up, recovering, or shutting down: wait for it to settle.
    if (Date.now() > deadline) {
      throw new EmbeddedError(`a Postgres (pid ${pm.pid}) holds ${f.dataDir} but does not answer on port ${pm.port}: stop it (kill ${pm.pid}) and start again (log: ${f.logFile})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function clearZombieLock(f: PgFiles): Promise<void> {
  const dir = await realpath(f.dataDir);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const orphans = await processesWorkingIn(dir);
    if (orphans === null) return; // cannot tell: leave the lock to Postgres, which checks its shared memory
    if (orphans.length === 0) break;
    if (Date.now() > deadline) {
      throw new EmbeddedError(`processes of a killed Postgres still work in ${f.dataDir} (pids ${orphans.join(', ')}): stop them and start again (log: ${f.logFile})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await unlink(path.join(f.dataDir, 'postmaster.pid')).catch(() => undefined);
}

/** Stops the cluster's server (fast shutdown: open sessions are ended, nothing committed is lost). */
export async function stopPostgres(opts: Pick<EmbeddedPgOptions, 'dir' | 'runAs'>): Promise<boolean> {
  const f = pgFiles(opts.dir);
  const pm = await readPostmasterPid(f.dataDir);
  if (!pm || !pidAlive(pm.pid)) return false;
  const b = await findBinaries();
  const user = await runAsUser(opts.runAs);
  await run(b.pgCtl, ['stop', '-D', f.dataDir, '-m', 'fast', '-w', '-t', '60', '-s'], { user });
  return true;
}

/** What `holdpoint status` shows: is there a cluster, and is a server running on it. */
export async function inspectPostgres(dir: string): Promise<{ files: PgFiles; initialised: boolean; running: PostmasterPid | null }> {
  const f = pgFiles(dir);
  const initialised = await stat(path.join(f.dataDir, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  const pm = await readPostmasterPid(f.dataDir);
  return { files: f, initialised, running: pm && pidAlive(pm.pid) ? pm : null };
}
