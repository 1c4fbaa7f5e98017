// Nothing to install first (issue 16): with no DATABASE_URL and no REDIS_URL,
// the real `holdpoint` CLI, run in an empty working directory, creates and
// starts an embedded Postgres and a private redis-server with their data in
// ./.holdpoint, keeps everything across a SIGKILL, and takes over the servers
// a killed Holdpoint left running — or starts them again over a stale
// postmaster.pid / redis.pid. With the URLs set, nothing embedded starts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive } from '../../src/embedded/host.ts';
import { readPostmasterPid } from '../../src/embedded/postgres.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { REDIS_URL, TEST_SECRET_KEY, currentRun } from '../helpers/env.ts';
import { ROOT, freePort, waitReady, type Proc } from '../helpers/processes.ts';
import { startReceiver, waitFor } from '../helpers/receiver.ts';

const BIN = path.join(ROOT, 'bin/holdpoint.js');
const SLOW = 180_000;

/** The environment of a new user's shell: none of the services' variables, none of the suite's. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(DATABASE_URL|REDIS_URL|TEST_DATABASE_URL|TEST_REDIS_URL|HOLDPOINT_.*|PORT|HOST)$/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, HOLDPOINT_SECRET_KEY: TEST_SECRET_KEY, ...extra };
}

async function cli(cwd: string, args: string[], env: Record<string, string>) {
  const p = spawn(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(env) });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | string>((r) => p.once('exit', (c, s) => r(c ?? s ?? -1)));
  return { code, stdout, stderr };
}

function startIn(cwd: string, env: Record<string, string>): Proc {
  const proc = spawn(process.execPath, [BIN, 'start'], { cwd, env: cleanEnv(env) });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
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

async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `holdpoint-${name}-`));
  // Run as root, the embedded Postgres runs as another user, which must pass through it.
  await chmod(dir, 0o755);
  return dir;
}

const logLines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string });

async function waitGone(pid: number, timeoutMs = 30_000) {
  await waitFor(() => !pidAlive(pid), { timeout: timeoutMs, what: `process ${pid} to exit` });
}

describe('with no DATABASE_URL and no REDIS_URL (embedded)', () => {
  let dir: string;
  let env: Record<string, string>;
  let base: string;
  let running: Proc | undefined;
  let recv: Awaited<ReturnType<typeof startReceiver>>;
  let keys: { agent: string; admin: string; tenant: string; alice: string };
  let approvalId: string;
  const pgData = () => path.join(dir, '.holdpoint/pg/data');
  const redisPidFile = () => path.join(dir, '.holdpoint/redis/redis.pid');

  const start = async () => {
    running = startIn(dir, env);
    await waitReady(base, running, 120_000);
    return running;
  };

  beforeAll(async () => {
    dir = await tempDir('embedded');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = { PORT: String(port), HOST: '127.0.0.1', HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: 'true', LOG_LEVEL: 'info' };
    recv = await startReceiver();
  }, SLOW);

  afterAll(async () => {
    await running?.kill('SIGTERM');
    await recv?.close();
    // Stop whatever a failed test left running, then remove the directory.
    const pm = await readPostmasterPid(pgData());
    if (pm && pidAlive(pm.pid)) process.kill(pm.pid, 'SIGQUIT');
    const redisPid = Number.parseInt(await readFile(redisPidFile(), 'utf8').catch(() => ''), 10);
    if (pidAlive(redisPid)) process.kill(redisPid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }, SLOW);

  it('holdpoint status, before anything ran, says both are embedded and not created yet, and starts nothing', async () => {
    const r = await cli(dir, ['status'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Postgres: embedded Postgres, not created yet');
    expect(r.stdout).toContain('Redis: private redis-server, not running');
    expect(r.stdout).toContain(`data: ${path.join(await realDir(dir), '.holdpoint/pg/data')}`);
    expect(existsSync(path.join(dir, '.holdpoint/pg/data'))).toBe(false);
  }, SLOW);

  it("npm start's path (migrate, then start) makes the cluster and the Redis in ./.holdpoint and says they are embedded", async () => {
    const migrated = await cli(dir, ['migrate'], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toContain('created database holdpoint');
    expect(migrated.stdout).toMatch(/applied 0001_init\.sql/);
    // migrate started the cluster for itself and stopped it again.
    expect(await readPostmasterPid(pgData())).toBeNull();

    const p = await start();
    const lines = logLines(p.output());
    expect(lines.find((l) => l.msg.startsWith('Postgres: embedded 18'))?.msg).toMatch(/at postgres:\/\/holdpoint:\*\*\*@127\.0\.0\.1:\d+\/holdpoint, data in .*\.holdpoint\/pg\/data \(set DATABASE_URL to use your own server\)/);
    expect(lines.find((l) => l.msg.startsWith('Redis: private redis-server'))?.msg).toMatch(/\(set REDIS_URL to use your own server\)/);
    expect(existsSync(path.join(pgData(), 'PG_VERSION'))).toBe(true);
    expect(existsSync(path.join(dir, '.holdpoint/redis/redis.conf'))).toBe(true);
    // The passwords are in files, never in a log line.
    const pgPassword = (await readFile(path.join(dir, '.holdpoint/pg/password'), 'utf8')).trim();
    expect(p.output()).not.toContain(pgPassword);
  }, SLOW);

  it('holdpoint status, while it runs, shows both running with their addresses and data directories', async () => {
    const r = await cli(dir, ['status', '--json'], env);
    expect(r.code).toBe(0);
    const { services } = JSON.parse(r.stdout) as { services: Record<string, unknown>[] };
    const pm = await readPostmasterPid(pgData());
    expect(services).toEqual([
      expect.objectContaining({ service: 'postgres', mode: 'embedded', running: true, answers: true, pid: pm!.pid, url: `postgres://holdpoint:***@127.0.0.1:${pm!.port}/holdpoint`, data_dir: path.join(await realDir(dir), '.holdpoint/pg/data'), owner: { pid: running!.proc.pid, role: 'server', alive: true } }),
      expect.objectContaining({ service: 'redis', mode: 'embedded', running: true, answers: true, url: expect.stringMatching(/^redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0$/), data_dir: path.join(await realDir(dir), '.holdpoint/redis') }),
    ]);
  }, SLOW);

  it('a guard → approve → webhook round trip works on the embedded services', async () => {
    const created = await cli(dir, ['tenant', 'create', 'embedded', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const tenant = JSON.parse(created.stdout) as { tenant_id: string; api_keys: { agent: string; admin: string } };
    const alice = await cli(dir, ['approver', 'add', 'alice', '--tenant', tenant.tenant_id, '--json'], env);
    expect(alice.code, alice.stderr).toBe(0);
    keys = { agent: tenant.api_keys.agent, admin: tenant.api_keys.admin, tenant: tenant.tenant_id, alice: (JSON.parse(alice.stdout) as { api_key: string }).api_key };
    // A short command used the running server: it neither started nor stopped anything.
    expect(pidAlive((await readPostmasterPid(pgData()))!.pid)).toBe(true);

    const auth = (k: string) => ({ authorization: `Bearer ${k}`, 'content-type': 'application/json' });
    const put = await fetch(`${base}/v1/policy`, { method: 'PUT', headers: auth(keys.admin), body: JSON.stringify({ defaults: { decision: 'require_approval' } }) });
    expect(put.status).toBe(200);
    const g = await fetch(`${base}/v1/guard`, {
      method: 'POST',
      headers: auth(keys.agent),
      body: JSON.stringify({ action: 'payment.send', params: { amount: 5000 }, idempotency_key: 'embedded-1', callback_url: recv.url('/cb') }),
    });
    expect(g.status).toBe(202);
    approvalId = ((await g.json()) as { approval: { id: string } }).approval.id;
    const d = await fetch(`${base}/v1/approvals/${approvalId}/decision`, { method: 'POST', headers: auth(keys.alice), body: JSON.stringify({ decision: 'approve', reason: 'checked' }) });
    expect(d.status).toBe(200);
    const approved = await waitFor(() => recv.received.find((r) => r.json.type === 'approval.approved'), { timeout: 30_000, what: 'the approved webhook' });
    expect(approved.json.data).toEqual(expect.objectContaining({ id: approvalId, status: 'approved' }));
  }, SLOW);

  it('after a SIGKILL, a restart takes over the servers it left running and finds the tenant, the approval and its events', async () => {
    const pgBefore = (await readPostmasterPid(pgData()))!;
    const redisBefore = Number.parseInt(await readFile(redisPidFile(), 'utf8'), 10);
    const killedPid = running!.proc.pid!;
    expect(await running!.kill('SIGKILL')).toBe('SIGKILL');
    // The servers outlive a SIGKILLed Holdpoint (nothing can stop them then)...
    expect(pidAlive(pgBefore.pid)).toBe(true);
    expect(pidAlive(redisBefore)).toBe(true);
    const status = await cli(dir, ['status'], env);
    expect(status.stdout).toContain(`stopped by holdpoint pid ${killedPid} (gone: the next \`holdpoint start\` takes it over)`);

    // ...and the next start takes them over instead of failing on their pid files and ports.
    const p = await start();
    const lines = logLines(p.output());
    expect(lines.find((l) => l.msg.startsWith('Postgres: embedded'))).toEqual(expect.objectContaining({ started: false, owner: true, pid: pgBefore.pid, adopted_from_pid: killedPid }));
    expect(lines.find((l) => l.msg.startsWith('Redis: private'))).toEqual(expect.objectContaining({ started: false, owner: true, pid: redisBefore, adopted_from_pid: killedPid }));
    await expectDataKept();
  }, SLOW);

  it('after the servers were killed too, a restart starts them again over the stale postmaster.pid and redis.pid, data intact', async () => {
    const pm = (await readPostmasterPid(pgData()))!;
    const redisPid = Number.parseInt(await readFile(redisPidFile(), 'utf8'), 10);
    await running!.kill('SIGKILL');
    process.kill(pm.pid, 'SIGKILL');
    process.kill(redisPid, 'SIGKILL');
    await waitGone(pm.pid);
    await waitGone(redisPid);
    // A SIGKILLed postmaster leaves its lock file behind, naming a dead pid.
    expect((await readPostmasterPid(pgData()))?.pid).toBe(pm.pid);

    const p = await start();
    const lines = logLines(p.output());
    expect(lines.find((l) => l.msg.startsWith('Postgres: embedded'))).toEqual(expect.objectContaining({ started: true, owner: true }));
    expect(lines.find((l) => l.msg.startsWith('Redis: private'))).toEqual(expect.objectContaining({ started: true, owner: true }));
    await expectDataKept();
  }, SLOW);

  it('a postmaster.pid naming a live process that is not Postgres (a reused pid) is cleared, not obeyed', async () => {
    const pm = (await readPostmasterPid(pgData()))!;
    await running!.kill('SIGKILL');
    process.kill(pm.pid, 'SIGKILL');
    await waitGone(pm.pid);
    const impostor = spawn('sleep', ['120'], { stdio: 'ignore' });
    try {
      const lock = path.join(pgData(), 'postmaster.pid');
      const lines = (await readFile(lock, 'utf8')).split('\n');
      lines[0] = String(impostor.pid);
      await writeFile(lock, lines.join('\n'));
      const p = await start();
      expect(logLines(p.output()).find((l) => l.msg.startsWith('Postgres: embedded'))).toEqual(expect.objectContaining({ started: true }));
      expect((await readPostmasterPid(pgData()))!.pid).not.toBe(impostor.pid);
      await expectDataKept();
    } finally {
      impostor.kill('SIGKILL');
    }
  }, SLOW);

  it('SIGTERM stops Holdpoint, then the Postgres and Redis it owns, and exits 0', async () => {
    const pm = (await readPostmasterPid(pgData()))!;
    const redisPid = Number.parseInt(await readFile(redisPidFile(), 'utf8'), 10);
    expect(await running!.kill('SIGTERM')).toBe(0);
    running = undefined;
    expect(pidAlive(pm.pid)).toBe(false);
    expect(pidAlive(redisPid)).toBe(false);
    expect(await readPostmasterPid(pgData())).toBeNull();
    const status = await cli(dir, ['status'], env);
    expect(status.stdout).toContain('Postgres: embedded Postgres, not running');
    expect(status.stdout).toContain('Redis: private redis-server, not running');
  }, SLOW);

  async function expectDataKept() {
    const h = { authorization: `Bearer ${keys.agent}` };
    const a = await fetch(`${base}/v1/approvals/${approvalId}`, { headers: h });
    expect(a.status).toBe(200);
    expect(await a.json()).toEqual(expect.objectContaining({ id: approvalId, status: 'approved', decided_by: 'alice' }));
    const ev = await fetch(`${base}/v1/approvals/${approvalId}/events`, { headers: h });
    const events = (await ev.json()) as { events: { type: string }[]; chain: { intact: boolean } };
    expect(events.events.map((e) => e.type)).toEqual(expect.arrayContaining(['requested', 'approved']));
    expect(events.chain.intact).toBe(true);
    const list = await cli(dir, ['tenant', 'list', '--json'], env);
    expect(list.stdout).toContain(keys.tenant);
  }
});

describe('with DATABASE_URL and REDIS_URL set (external)', () => {
  it('uses them: no embedded server starts, no ./.holdpoint/pg or ./.holdpoint/redis, and status says external', async () => {
    const dir = await tempDir('external');
    const db = await createTestDatabase();
    const port = await freePort();
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      // Under this run's prefix, so its teardown removes the keys (test/helpers/test-run.ts).
      HOLDPOINT_QUEUE_PREFIX: `${currentRun().prefix}external`,
    };
    let p: Proc | undefined;
    try {
      p = startIn(dir, env);
      await waitReady(`http://127.0.0.1:${port}`, p, 120_000);
      const lines = logLines(p.output());
      expect(lines.find((l) => l.msg === 'Postgres: external (DATABASE_URL)')).toBeDefined();
      expect(lines.find((l) => l.msg === 'Redis: external (REDIS_URL)')).toBeDefined();
      expect(lines.some((l) => /embedded|private/.test(l.msg))).toBe(false);
      expect(existsSync(path.join(dir, '.holdpoint/pg'))).toBe(false);
      expect(existsSync(path.join(dir, '.holdpoint/redis'))).toBe(false);

      const status = await cli(dir, ['status'], env);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(`Postgres: external (DATABASE_URL) ${db.url.replace(/\/\/([^:@/]+):[^@]+@/, '//$1:***@')} — answers`);
      expect(status.stdout).toMatch(/Redis: external \(REDIS_URL\) redis:\/\/.* — answers/);
      expect(existsSync(path.join(dir, '.holdpoint/pg'))).toBe(false);
      expect(await p.kill('SIGTERM')).toBe(0);
    } finally {
      await p?.kill('SIGKILL');
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    }
  }, SLOW);

  it('NODE_ENV=production without DATABASE_URL refuses, in one line, to start an embedded Postgres', async () => {
    const dir = await tempDir('production');
    try {
      const r = await cli(dir, ['migrate'], { NODE_ENV: 'production' });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe('holdpoint: NODE_ENV=production needs DATABASE_URL: the embedded Postgres is for trying Holdpoint on one machine, not for production.');
      expect(existsSync(path.join(dir, '.holdpoint/pg'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, SLOW);
});

async function realDir(dir: string): Promise<string> {
  const { realpath } = await import('node:fs/promises');
  return realpath(dir);
}
