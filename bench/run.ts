// npm run bench — starts the real `holdpoint start` in its own process against a
// fresh database and a private Redis prefix, drives it over HTTP from this
// process, and prints what it measured. Numbers are printed, never asserted.
//
//   BENCH_REQUESTS=3000 BENCH_CONCURRENCY=50 npm run bench
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { Redis } from 'ioredis';
import { createSql } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const ADMIN_DB = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 200);
const PORT = 18_931;
const BASE = `http://127.0.0.1:${PORT}`;
const PREFIX = `bench_${process.pid}`;

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function request(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      `${BASE}${path}`,
      { method, agent, headers: { authorization: `Bearer ${key}`, ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ms = (x: number) => Math.round(x * 100) / 100;

async function load(n: number, c: number, one: (i: number) => Promise<number>) {
  const lat: number[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        const status = await one(i);
        if (status >= 300 || status < 200) failures++;
        lat.push(performance.now() - t0);
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  return { requests: n, concurrency: c, per_second: Math.round(n / secs), p50_ms: ms(pct(lat, 50)), p99_ms: ms(pct(lat, 99)), failures };
}

async function main() {
  const dbName = `holdpoint_bench_${process.pid}`;
  const admin = createSql(ADMIN_DB, { max: 1 });
  await admin.unsafe(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const dbUrl = new URL(ADMIN_DB);
  dbUrl.pathname = `/${dbName}`;
  const sql = createSql(dbUrl.toString(), { max: 2 });
  await migrate(sql);

  // A webhook receiver in this process, timestamping each arrival.
  const arrivals = new Map<string, number>();
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const j = JSON.parse(body) as { type: string; data: { id: string } };
      arrivals.set(`${j.type}:${j.data.id}`, performance.now());
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;

  const env = {
    ...process.env,
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL,
    PORT: String(PORT),
    HOST: '127.0.0.1',
    HOLDPOINT_QUEUE_PREFIX: PREFIX,
    HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: 'true',
    HOLDPOINT_DB_POOL: '20',
    LOG_LEVEL: 'warn',
  };
  const server = spawn(process.execPath, [`${ROOT}bin/holdpoint.js`, 'start'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const cleanup = async () => {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    receiver.close();
    agent.destroy();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${PREFIX}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await sql.end();
    const a = createSql(ADMIN_DB, { max: 1 });
    await a.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await a.end();
  };

  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${BASE}/readyz`)).ok) break;
      } catch {
        /* not up yet */
      }
      if (i > 200) throw new Error('holdpoint did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    const tenant = await new Promise<{ api_keys: Record<string, string> }>((resolve, reject) => {
      const p = spawn(process.execPath, [`${ROOT}bin/holdpoint.js`, 'tenant', 'create', 'bench', '--json'], { env });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`tenant create exited ${code}`))));
    });
    const { agent: agentKey, approver, admin: adminKey } = tenant.api_keys as { agent: string; approver: string; admin: string };
    const rules = Array.from({ length: 49 }, (_, i) => ({
      name: `rule-${i}`,
      match: { action: `svc${i}.*`, when: { 'params.amount': { gt: 1000 + i } } },
      decision: i % 7 === 0 ? 'deny' : 'require_approval',
    }));
    rules.push({ name: 'approve-payments', match: { action: 'payment.*' } as never, decision: 'require_approval' });
    const put = await request('PUT', '/v1/policy', adminKey, { defaults: { decision: 'allow', timeout_seconds: 3600 }, rules });
    if (put.status !== 200) throw new Error(`policy: ${JSON.stringify(put.json)}`);

    // Warm up the process (JIT, pools).
    await load(300, CONCURRENCY, async (i) => (await request('POST', '/v1/check', agentKey, { action: 'read.thing', params: { i } })).status);

    const creation = await load(REQUESTS, CONCURRENCY, async (i) =>
      (await request('POST', '/v1/guard', agentKey, { action: 'payment.send', agent_id: 'bench', params: { amount: i }, idempotency_key: `c-${i}` })).status,
    );
    const check = await load(REQUESTS, CONCURRENCY, async (i) =>
      (await request('POST', '/v1/check', agentKey, { action: 'read.thing', agent_id: 'bench', params: { amount: i } })).status,
    );

    // Decision → outcome, one at a time so queues are idle: the latency a user feels.
    const webhook: number[] = [];
    const longpoll: number[] = [];
    for (let i = 0; i < ROUND_TRIPS; i++) {
      const key = `rt-${i}`;
      const g = await request('POST', '/v1/guard', agentKey, { action: 'payment.send', agent_id: 'bench', params: { amount: i }, idempotency_key: key, callback_url: hookUrl });
      const id = g.json.approval.id as string;
      const poll = request('GET', `/v1/approvals/by-key/${key}?wait=30`, agentKey).then(() => performance.now());
      await new Promise((r) => setTimeout(r, 5));
      const t0 = performance.now();
      await request('POST', `/v1/approvals/${id}/decision`, approver, { decision: 'approve', approver: 'bench-human' });
      const polled = await poll;
      longpoll.push(polled - t0);
      for (let w = 0; !arrivals.has(`approval.approved:${id}`) && w < 2000; w++) await new Promise((r) => setTimeout(r, 1));
      webhook.push((arrivals.get(`approval.approved:${id}`) ?? NaN) - t0);
    }

    const results = {
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
      approval_creation: creation,
      check_allow_path_50_rules: check,
      decision_to_webhook: { samples: webhook.length, p50_ms: ms(pct(webhook, 50)), p99_ms: ms(pct(webhook, 99)) },
      decision_to_long_poll: { samples: longpoll.length, p50_ms: ms(pct(longpoll, 50)), p99_ms: ms(pct(longpoll, 99)) },
      at: new Date().toISOString(),
    };
    console.log(`\nHoldpoint bench — ${results.machine.cpus} cpus, ${results.machine.memory_gb} GiB, node ${results.machine.node}\n`);
    console.table({
      'POST /v1/guard (new approval)': { 'req/s': creation.per_second, 'p50 ms': creation.p50_ms, 'p99 ms': creation.p99_ms, failures: creation.failures },
      'POST /v1/check (allow, 50 rules)': { 'req/s': check.per_second, 'p50 ms': check.p50_ms, 'p99 ms': check.p99_ms, failures: check.failures },
      'decision → webhook received': { 'req/s': '', 'p50 ms': results.decision_to_webhook.p50_ms, 'p99 ms': results.decision_to_webhook.p99_ms, failures: '' },
      'decision → long-poll returns': { 'req/s': '', 'p50 ms': results.decision_to_long_poll.p50_ms, 'p99 ms': results.decision_to_long_poll.p99_ms, failures: '' },
    });
    writeFileSync(new URL('results/latest.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
