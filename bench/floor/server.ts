// The floor: what Holdpoint's work costs with its own parts (Hono on
// @hono/node-server, postgres.js, BullMQ on ioredis) and nothing else — no
// auth, no validation, no policy, no rendering. Same real tables (a migrated
// database), same job shapes, same pool size, driven by the same load
// generator at the same concurrency, so Holdpoint / floor is Holdpoint's
// overhead on this machine, in this run.
//
//   POST /create        one transaction: INSERT approval + INSERT its event
//                       (pipelined), then the two BullMQ adds (expiry delayed
//                       to the deadline, webhook delivery)
//   POST /check         INSERT one decision row
//   POST /decide/:id    one transaction: guarded UPDATE to approved + event
//                       (the schema's trigger NOTIFYs), then a delivery job
//   GET  /wait/:id      long-poll woken by LISTEN/NOTIFY (the schema's trigger)
//   worker              (FLOOR_HOOK_URL set) BullMQ worker → HTTP POST
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Queue, Worker } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import postgres from 'postgres';

const env = process.env;
const sql = postgres(env.FLOOR_DATABASE_URL!, { max: Number(env.FLOOR_POOL ?? 10), onnotice: () => {}, connection: { application_name: 'holdpoint-floor' } });
const prefix = env.FLOOR_PREFIX!;
const tenant = env.FLOOR_TENANT!;
const timeoutS = Number(env.FLOOR_TIMEOUT_S ?? 3600);
const hookUrl = env.FLOOR_HOOK_URL;

// As Holdpoint: a producer connection that fails fast, a worker connection that blocks.
const producer = new Redis(env.FLOOR_REDIS_URL!, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
const keep = { removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 7 * 86_400 } };
const expireQ = new Queue('expire-approval', { connection: producer, prefix, defaultJobOptions: { ...keep, attempts: 20, backoff: { type: 'exponential', delay: 1_000 } } });
const deliverQ = new Queue('deliver-webhook', { connection: producer, prefix, defaultJobOptions: { ...keep, attempts: 22 } });
for (const q of [expireQ, deliverQ]) q.on('error', () => undefined);

let worker: Worker | undefined;
if (hookUrl) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const post = (body: string, id: string) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(hookUrl, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'webhook-id': id } }, (res) => {
        res.resume();
        res.on('end', () => ((res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  const wconn = new Redis(env.FLOOR_REDIS_URL!, { maxRetriesPerRequest: null });
  worker = new Worker(
    'deliver-webhook',
    async (job) => {
      const d = job.data as { approval_id: string; event_id: string; type: string };
      await post(JSON.stringify({ type: d.type, id: d.event_id, created_at: new Date().toISOString(), data: { id: d.approval_id } }), d.event_id);
    },
    { connection: wconn, prefix, concurrency: 32, lockDuration: 10_000, stalledInterval: 5_000 },
  );
  worker.on('error', () => undefined);
}

// Long-poll waiters, woken by the schema's NOTIFY on every status change.
const waiters = new Map<string, Set<() => void>>();
await sql.listen('holdpoint_approval', (id) => {
  const set = waiters.get(id);
  if (!set) return;
  waiters.delete(id);
  for (const fn of set) fn();
});

const app = new Hono();
app.get('/healthz', (c) => c.json({ ok: true }));

app.post('/create', async (c) => {
  const b = await c.req.json<{ idempotency_key: string; action: string; agent_id: string; params: Record<string, unknown> }>();
  const id = randomUUID();
  const eventId = randomUUID();
  const now = new Date();
  const expires = new Date(now.getTime() + timeoutS * 1000);
  await sql.begin((tx) => [
    tx`INSERT INTO approvals (id, tenant_id, idempotency_key, request_hash, action, agent_id, params, context, reasons, status,
         required_approvals, timeout_seconds, on_timeout, expires_at, routing, created_at, updated_at)
       VALUES (${id}, ${tenant}, ${b.idempotency_key}, '-', ${b.action}, ${b.agent_id}, ${sql.json(b.params as never)}, '{}', '[]', 'pending',
         1, ${timeoutS}, 'reject', ${expires}, '{}', ${now}, ${now})`,
    tx`INSERT INTO approval_events (id, tenant_id, approval_id, type, actor, channel, data, created_at)
       VALUES (${eventId}, ${tenant}, ${id}, 'requested', ${b.agent_id}, 'api', '{}', ${now})`,
  ]);
  await Promise.all([
    expireQ.add('expire', { approval_id: id }, { jobId: `expire__${id}`, delay: expires.getTime() - Date.now() }),
    deliverQ.add('deliver', { approval_id: id, event_id: eventId, type: 'approval.requested' }, { jobId: `deliver__${eventId}__callback` }),
  ]);
  return c.json({ status: 'pending', approval: { id, status: 'pending', expires_at: expires.toISOString() } }, 202);
});

app.post('/check', async (c) => {
  const b = await c.req.json<{ action: string; agent_id: string }>();
  const id = randomUUID();
  await sql`INSERT INTO decisions (id, tenant_id, kind, action, agent_id, decision, reasons, created_at)
            VALUES (${id}, ${tenant}, 'check', ${b.action}, ${b.agent_id}, 'allow', '[]', ${new Date()})`;
  return c.json({ decision: 'allow', reasons: [], decision_id: id }, 200);
});

app.post('/decide/:id', async (c) => {
  const id = c.req.param('id');
  const eventId = randomUUID();
  const now = new Date();
  const [row] = await sql.begin((tx) => [
    tx`UPDATE approvals SET status = 'approved', decided_at = ${now}, decided_by = 'bench', updated_at = ${now}
       WHERE id = ${id} AND status = 'pending' RETURNING id`,
    tx`INSERT INTO approval_events (id, tenant_id, approval_id, type, actor, channel, data, created_at)
       VALUES (${eventId}, ${tenant}, ${id}, 'approved', 'bench', 'api', '{}', ${now})`,
  ]);
  if (!(row as unknown[]).length) return c.json({ error: { code: 'already_decided' } }, 409);
  await deliverQ.add('deliver', { approval_id: id, event_id: eventId, type: 'approval.approved' }, { jobId: `deliver__${eventId}__callback` });
  return c.json({ id, status: 'approved' }, 200);
});

app.get('/wait/:id', async (c) => {
  const id = c.req.param('id');
  const ms = Number(c.req.query('wait') ?? 30) * 1000;
  let wake!: () => void;
  const woken = new Promise<void>((r) => (wake = r));
  let set = waiters.get(id);
  if (!set) waiters.set(id, (set = new Set()));
  set.add(wake);
  let [row] = await sql<{ status: string }[]>`SELECT status FROM approvals WHERE id = ${id}`;
  if (row?.status === 'pending') {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([woken, new Promise<void>((r) => (t = setTimeout(r, ms)))]);
    clearTimeout(t);
    [row] = await sql<{ status: string }[]>`SELECT status FROM approvals WHERE id = ${id}`;
  }
  waiters.get(id)?.delete(wake);
  return c.json({ id, status: row?.status ?? null }, 200);
});

const server = serve({ fetch: app.fetch, port: Number(env.FLOOR_PORT ?? 0), hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`ready ${info.port}\n`);
});

process.once('SIGTERM', async () => {
  server.close();
  await worker?.close();
  await Promise.allSettled([expireQ.close(), deliverQ.close()]);
  producer.disconnect();
  await sql.end({ timeout: 2 });
  process.exit(0);
});
