// Durability, proved: the real `holdpoint start` is SIGKILLed while approvals
// are pending, restarted, and every approval still expires on time with every
// webhook delivered exactly once — also when Redis lost everything meanwhile.
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { createProcessFixture, runCli, type ProcessFixture, type Proc } from '../helpers/processes.ts';
import { startReceiver, waitFor } from '../helpers/receiver.ts';

const APPROVALS = 20;

let fx: ProcessFixture;
let recv: Awaited<ReturnType<typeof startReceiver>>;
let sql: Sql;
let env: Record<string, string>;
let base: string;
let redis: ProcessFixture['redis'];
let running: Proc | undefined;

beforeEach(async () => {
  fx = await createProcessFixture({ HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: 'true', HOLDPOINT_RECONCILE_INTERVAL_MS: '1000' });
  ({ env, base, redis } = fx);
  recv = await startReceiver();
  sql = createSql(fx.db.url, { max: 2 });
});

afterEach(async () => {
  await running?.kill('SIGKILL');
  running = undefined;
  await recv.close();
  await sql.end();
  await fx.close();
});

const start = (extra: Record<string, string> = {}) => fx.start(extra);

async function setup() {
  const created = await runCli(['tenant', 'create', 'crash-test', '--json'], env);
  expect(created.code).toBe(0);
  const tenant = JSON.parse(created.stdout) as { api_keys: { agent: string; admin: string } };
  const auth = (k: string) => ({ authorization: `Bearer ${k}`, 'content-type': 'application/json' });
  const put = await fetch(`${base}/v1/policy`, {
    method: 'PUT',
    headers: auth(tenant.api_keys.admin),
    body: JSON.stringify({ defaults: { decision: 'require_approval', timeout_seconds: 60, min_timeout_seconds: 1 } }),
  });
  expect(put.status).toBe(200);
  const ids: string[] = [];
  for (let i = 0; i < APPROVALS; i++) {
    const r = await fetch(`${base}/v1/guard`, {
      method: 'POST',
      headers: auth(tenant.api_keys.agent),
      // Deadlines 2.5 s … 7 s out: some pass while the process is down, some after it is back.
      body: JSON.stringify({ action: 'payment.send', idempotency_key: `crash-${i}`, timeout_seconds: 3 + (i % 5), callback_url: recv.url('/cb') }),
    });
    expect(r.status).toBe(202);
    ids.push(((await r.json()) as { approval: { id: string } }).approval.id);
  }
  await waitFor(() => recv.received.filter((r) => r.json.type === 'approval.requested').length === APPROVALS, { what: 'requested webhooks' });
  return ids;
}

async function assertAllExpiredOnTime(ids: string[]) {
  const rows = await waitFor(
    async () => {
      const r = await sql<{ id: string; status: string; expires_at: Date; decided_at: Date | null }[]>`
        SELECT id, status, expires_at, decided_at FROM approvals ORDER BY expires_at`;
      return r.every((a) => a.status === 'expired') ? r : undefined;
    },
    { timeout: 30_000, interval: 100, what: 'every approval expired' },
  );
  expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
  const lateness = rows.map((r) => r.decided_at!.getTime() - r.expires_at.getTime());
  expect(Math.min(...lateness)).toBeGreaterThanOrEqual(0);
  // "On time" for a deadline that fell while nothing ran means: right after the restart. The
  // lateness includes the rest of the downtime and a boot (tsx compiling on a loaded 2-core box).
  expect(Math.max(...lateness)).toBeLessThan(10_000);

  const expired = await waitFor(() => {
    const got = recv.received.filter((r) => r.json.type === 'approval.expired');
    return got.length >= APPROVALS ? got : undefined;
  }, { timeout: 15_000, what: 'expired webhooks' });
  expect(new Set(expired.map((r) => r.json.data.id))).toEqual(new Set(ids));
  // Let any stray duplicate arrive before counting.
  await new Promise((r) => setTimeout(r, 1_500));
  const perId = new Map<string, number>();
  for (const r of recv.received) perId.set(r.headers['webhook-id']!, (perId.get(r.headers['webhook-id']!) ?? 0) + 1);
  expect([...perId.values()].every((n) => n === 1)).toBe(true);
  expect(perId.size).toBe(APPROVALS * 2);
  const events = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM approval_events WHERE type = 'expired'`;
  expect(events[0]!.n).toBe(APPROVALS);
}

describe('crash and restart', () => {
  it('after SIGKILL and restart, every approval expires on time and every webhook arrives exactly once', async () => {
    running = await start();
    const ids = await setup();
    expect(await running.kill('SIGKILL')).toBe('SIGKILL');
    await new Promise((r) => setTimeout(r, 2_000));
    running = await start();
    await assertAllExpiredOnTime(ids);
  });

  it('with Redis flushed while it was down, the reconciler rebuilds every job from Postgres', async () => {
    running = await start();
    const ids = await setup();
    await running.kill('SIGKILL');
    const r = new Redis(redis.url);
    expect(await r.dbsize()).toBeGreaterThan(0);
    await r.flushall();
    expect(await r.dbsize()).toBe(0);
    r.disconnect();
    await new Promise((res) => setTimeout(res, 2_000));
    running = await start();
    await assertAllExpiredOnTime(ids);
  });

  it('SIGTERM shuts down cleanly with exit code 0', async () => {
    running = await start({ LOG_LEVEL: 'info' });
    expect(await running.kill('SIGTERM')).toBe(0);
    expect(running.output()).toContain('"msg":"stopped"');
  });

  it('SIGTERM answers open long-polls at once with the approval as it is, then exits 0', async () => {
    running = await start();
    const created = await runCli(['tenant', 'create', 'shutdown', '--json'], env);
    const agent = (JSON.parse(created.stdout) as { api_keys: { agent: string } }).api_keys.agent;
    const headers = { authorization: `Bearer ${agent}`, 'content-type': 'application/json' };
    const g = await fetch(`${base}/v1/guard`, { method: 'POST', headers, body: JSON.stringify({ action: 'x', idempotency_key: 'lp' }) });
    expect(g.status).toBe(202);
    const poll = fetch(`${base}/v1/approvals/by-key/lp?wait=60`, { headers }).then(async (r) => ({ status: r.status, body: (await r.json()) as { status: string } }));
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const exit = running.kill('SIGTERM');
    const answered = await poll;
    expect(answered).toEqual({ status: 200, body: expect.objectContaining({ status: 'pending' }) });
    expect(await exit).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('refuses to start, with one clear line, when Postgres is unreachable', async () => {
    const bad = await runCli(['start'], { ...env, DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/holdpoint' });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/cannot reach Postgres at postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/holdpoint/);
    expect(bad.stderr).not.toContain('secret');
    expect(bad.stderr).toContain('docker compose up -d postgres');
  });

  it('refuses to start, with one clear line, when Redis is unreachable', async () => {
    const bad = await runCli(['start'], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  it('two concurrent migrates both succeed and apply each file once', async () => {
    const fresh = await createTestDatabase();
    try {
      // The clone is already migrated; a bare database shows the race.
      const bare = createSql(fresh.url, { max: 1 });
      await bare.unsafe('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
      await bare.end();
      const [a, b] = await Promise.all([runCli(['migrate'], { ...env, DATABASE_URL: fresh.url }), runCli(['migrate'], { ...env, DATABASE_URL: fresh.url })]);
      expect([a.code, b.code]).toEqual([0, 0]);
      expect([a.stdout, b.stdout].filter((s) => s.startsWith('applied'))).toHaveLength(1);
      const check = createSql(fresh.url, { max: 1 });
      const rows = await check<{ name: string }[]>`SELECT name FROM holdpoint_migrations`;
      await check.end();
      expect(rows.map((r) => r.name)).toContain('0001_init.sql');
    } finally {
      await fresh.drop();
    }
  });
});
