// The real app and workers, wired as in production, on a per-file database and
// a per-file BullMQ prefix under the run's prefix (every queue obliterated and
// every key under it deleted afterwards).
import { randomBytes } from 'node:crypto';
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from '../../src/api/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { ROLES, insertKey } from '../../src/db/keys.ts';
import { insertTenant } from '../../src/db/tenants.ts';
import { silentLogger } from '../../src/log.ts';
import { createWorkerConnection } from '../../src/queue/connection.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { startWorkers, type Workers } from '../../workers/main.ts';
import { createTestDatabase } from './db.ts';
import { REDIS_URL, TEST_SECRET_KEY, currentRun, type TestRun } from './env.ts';
import { deleteKeys } from './test-run.ts';

export interface TenantKeys {
  tenant_id: string;
  webhook_secret: string;
  agent: string;
  approver: string;
  admin: string;
}

/** `clock`: the runtime's clock (default the real one), for tests that need a given time of day. */
export async function createHarness(opts: { workers?: boolean; env?: Record<string, string>; run?: TestRun; clock?: () => Date } = {}) {
  const run = opts.run ?? currentRun();
  const db = await createTestDatabase(run);
  const prefix = `${run.prefix}${randomBytes(4).toString('hex')}`;
  const config: Config = loadConfig({
    DATABASE_URL: db.url,
    REDIS_URL,
    HOLDPOINT_QUEUE_PREFIX: prefix,
    HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: 'true',
    HOLDPOINT_WEBHOOK_RETRY_BASE_MS: '50',
    HOLDPOINT_DB_POOL: '20',
    LOG_LEVEL: 'silent',
    HOLDPOINT_SECRET_KEY: TEST_SECRET_KEY,
    ...opts.env,
  });
  const rt: Runtime = createRuntime(config, silentLogger, opts.clock);
  await rt.notifier.start();
  const app = createApp(rt);
  let workers: Workers | undefined;
  const workerConn = opts.workers ? createWorkerConnection(config.REDIS_URL) : undefined;
  if (workerConn) workers = await startWorkers({ ...rt, connection: workerConn });

  async function tenant(name = 'acme'): Promise<TenantKeys> {
    return rt.sql.begin(async (tx) => {
      const t = await insertTenant(tx, rt.secrets, name);
      const keys: Record<string, string> = {};
      for (const role of ROLES) keys[role] = (await insertKey(tx, { tenant_id: t.id, role })).key;
      return { tenant_id: t.id, webhook_secret: t.webhook_secret, agent: keys.agent!, approver: keys.approver!, admin: keys.admin! };
    });
  }

  /** app.request with a bearer key and a JSON body; returns status and parsed JSON. */
  async function call(method: string, path: string, key: string | null, body?: unknown, headers: Record<string, string> = {}) {
    const res = await app.request(path, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: res.status, body: json };
  }

  // Approver keys bound to a person (POST /v1/approvers), one per tenant and name.
  const people = new Map<string, Promise<string>>();
  /** The key of approver `name` in tenant `t`, adding the person on first use. */
  function as(t: TenantKeys, name: string, extra: Record<string, unknown> = {}): Promise<string> {
    const k = `${t.tenant_id}/${name}`;
    let key = people.get(k);
    if (!key) {
      key = call('POST', '/v1/approvers', t.admin, { name, ...extra }).then((r) => {
        if (r.status !== 201) throw new Error(`adding approver ${name} failed: ${JSON.stringify(r.body)}`);
        return r.body.api_key as string;
      });
      people.set(k, key);
    }
    return key;
  }

  async function setPolicy(t: TenantKeys, policy: unknown) {
    const r = await call('PUT', '/v1/policy', t.admin, policy);
    if (r.status !== 200) throw new Error(`setPolicy failed: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  let server: ServerType | undefined;
  /** Serves the app on a free loopback port (once; closed by close()) and returns its base URL. */
  async function listen(): Promise<string> {
    return new Promise<string>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(`http://127.0.0.1:${info.port}`));
    });
  }

  return {
    app,
    rt,
    listen,
    config,
    prefix,
    workers,
    tenant,
    call,
    as,
    setPolicy,
    async close() {
      if (server) await new Promise<void>((r) => server!.close(() => r()));
      await workers?.close(5_000);
      workerConn?.disconnect();
      const { expire, deliver, reconcile, chain, slack } = rt.queues;
      await Promise.allSettled([expire, deliver, reconcile, chain, slack].map((q) => q.obliterate({ force: true })));
      await rt.close();
      // What obliterate does not cover (guard counters, scheduler and worker
      // keys, a queue that was never obliterated): everything under this file's prefix.
      // A test that stopped its own Redis has nothing left there to clean; the database still goes.
      await deleteKeys(config.REDIS_URL, `${prefix}:*`, () => true).catch(() => undefined);
      await db.drop();
    },
  };
}

export type Harness = Awaited<ReturnType<typeof createHarness>>;
