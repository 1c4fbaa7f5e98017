// Operator signals: /metrics (counters, histograms and scrape-time gauges with
// bounded labels), request ids and the access log, /readyz catching a queue no
// worker takes, and /metrics from a worker-only process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger, type Level } from '../../src/log.ts';
import { jobIds } from '../../src/queue/queues.ts';
import { createWorkerConnection } from '../../src/queue/connection.ts';
import { createRuntime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/main.ts';
import { REDIS_URL, TEST_SECRET_KEY } from '../helpers/env.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { freePort, spawnHoldpoint } from '../helpers/processes.ts';
import { startReceiver, waitFor } from '../helpers/receiver.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (no escaped quotes in our label values). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with exactly these labels, or undefined. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels);
  const hit = samples.filter(
    (s) => s.name === name && Object.keys(s.labels).length === want.length && want.every(([k, v]) => s.labels[k] === v),
  );
  if (hit.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} is ambiguous`);
  return hit[0]?.value;
}

async function scrape(h: Harness, headers: Record<string, string> = {}) {
  const res = await h.app.request('/metrics', { headers });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

function capture(level: Level) {
  const lines: string[] = [];
  const log = createLogger(level, { service: 'holdpoint' }, (l) => lines.push(l));
  return { log, lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('GET /metrics after a guard, an API decision and its webhooks', () => {
  let h: Harness;
  let t: TenantKeys;
  let recv: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    h = await createHarness({ workers: true });
    t = await h.tenant();
    recv = await startReceiver();
    await h.setPolicy(t, {
      defaults: { decision: 'require_approval' },
      rules: [{ name: 'wires', match: { action: 'wire.*' }, decision: 'require_approval', approval: { required_approvals: 2 } }],
    });
  });
  afterAll(async () => {
    await recv.close();
    await h.close();
  });

  it('counts decisions by channel and outcome, times them, and reports deliveries, live approvals, queues and repairs', async () => {
    // The first attempt of the first webhook fails once, so there is a retry to count.
    recv.setResponder(({ path, count }) => (path === '/hook' && count === 1 ? 503 : 200));
    const before = Date.now();
    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: { amount: 5000 }, idempotency_key: 'm-1', callback_url: recv.url('/hook') });
    expect(g.status).toBe(202);
    const id = g.body.approval.id as string;
    await sleep(1_100); // so the time to decision is over a second
    const d = await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    expect(d.body.status).toBe('approved');
    const elapsed = (Date.now() - before) / 1000;
    const late = await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'bob'), { decision: 'reject' });
    expect(late.status).toBe(409);
    const claim = await h.call('POST', `/v1/approvals/${id}/claim`, t.agent);
    expect(claim.status).toBe(200);

    // Two approvals stay pending: one plain, one with a quorum of two that gets one vote.
    expect((await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', idempotency_key: 'm-2' })).status).toBe(202);
    const wire = await h.call('POST', '/v1/guard', t.agent, { action: 'wire.send', idempotency_key: 'm-3' });
    expect(wire.status).toBe(202);
    const vote = await h.call('POST', `/v1/approvals/${wire.body.approval.id}/decision`, await h.as(t, 'carol'), { decision: 'approve' });
    expect(vote.body.status).toBe('pending');

    // Redis loses m-2's expiry job; the reconciler puts it back, and says so.
    const m2 = await h.call('GET', '/v1/approvals/by-key/m-2', t.agent);
    expect(await h.rt.queues.expire.remove(jobIds.expire(m2.body.id))).toBe(1);
    const report = await h.workers!.reconcileNow({ rebuildAll: true });
    expect(report.expiry_jobs_added).toBe(1);

    const { status, type, text } = await waitFor(
      async () => {
        const r = await scrape(h);
        const s = parse(r.text);
        return value(s, 'holdpoint_webhook_deliveries_total', { result: 'delivered' }) === 2 &&
          value(s, 'holdpoint_queue_jobs', { queue: 'deliver-webhook', state: 'waiting' }) === 0 &&
          value(s, 'holdpoint_queue_jobs', { queue: 'deliver-webhook', state: 'active' }) === 0
          ? r
          : undefined;
      },
      { timeout: 15_000, what: 'both webhooks to be counted as delivered' },
    );
    expect(status).toBe(200);
    expect(type).toContain('text/plain');
    const s = parse(text);

    expect(value(s, 'holdpoint_decisions_total', { channel: 'api', outcome: 'approved' })).toBe(1);
    expect(value(s, 'holdpoint_decisions_total', { channel: 'api', outcome: 'refused' })).toBe(1);
    expect(value(s, 'holdpoint_decisions_total', { channel: 'api', outcome: 'voted' })).toBe(1);
    expect(value(s, 'holdpoint_decisions_total', { channel: 'api', outcome: 'rejected' })).toBeUndefined();

    const ttd = { channel: 'api', outcome: 'approved' };
    expect(value(s, 'holdpoint_time_to_decision_seconds_count', ttd)).toBe(1);
    const sum = value(s, 'holdpoint_time_to_decision_seconds_sum', ttd)!;
    expect(sum).toBeGreaterThanOrEqual(1);
    expect(sum).toBeLessThanOrEqual(elapsed);
    expect(value(s, 'holdpoint_time_to_decision_seconds_bucket', { ...ttd, le: '1' })).toBe(0);

    const http = (route: string, method: string, code: string) =>
      value(s, 'holdpoint_http_request_duration_seconds_count', { method, route, status: code });
    expect(http('/v1/guard', 'POST', '202')).toBe(3);
    expect(http('/v1/approvals/:id/decision', 'POST', '200')).toBe(2);
    expect(http('/v1/approvals/:id/decision', 'POST', '409')).toBe(1);
    expect(http('/v1/approvals/:id/claim', 'POST', '200')).toBe(1);
    expect(http('/v1/approvals/by-key/:idempotency_key', 'GET', '200')).toBe(1);
    // Route templates only: no approval id or idempotency key in any label.
    expect(text).not.toContain(id);
    expect(text).not.toContain('m-2');

    expect(value(s, 'holdpoint_webhook_deliveries_total', { result: 'retry' })).toBe(1);
    expect(value(s, 'holdpoint_webhook_deliveries_total', { result: 'dead' })).toBeUndefined();

    expect(value(s, 'holdpoint_approvals', { status: 'pending' })).toBe(2);
    expect(value(s, 'holdpoint_approvals', { status: 'executing' })).toBe(1);

    // m-1's expiry job was removed when it was approved; m-2's (re-added) and m-3's wait for their deadline.
    expect(value(s, 'holdpoint_queue_jobs', { queue: 'expire-approval', state: 'delayed' })).toBe(2);
    expect(value(s, 'holdpoint_queue_oldest_waiting_seconds', { queue: 'deliver-webhook' })).toBe(0);
    for (const q of ['expire-approval', 'deliver-webhook', 'chain-events', 'notify-slack', 'reconcile']) {
      expect(value(s, 'holdpoint_queue_jobs', { queue: q, state: 'failed' }), q).toBe(0);
    }

    expect(value(s, 'holdpoint_reconciler_repairs_total', { kind: 'expiry_jobs_added' })).toBe(1);

    // Default process metrics, on this runtime's registry, with the prefix.
    expect(value(s, 'holdpoint_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(s.some((x) => x.name === 'holdpoint_nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('keeps each runtime to its own registry', async () => {
    const other = createRuntime(h.config, h.rt.log);
    try {
      const text = await (await createApp(other).request('/metrics')).text();
      expect(value(parse(text), 'holdpoint_decisions_total', { channel: 'api', outcome: 'approved' })).toBeUndefined();
      expect(value(parse((await scrape(h)).text), 'holdpoint_decisions_total', { channel: 'api', outcome: 'approved' })).toBe(1);
    } finally {
      await other.close();
    }
  });
});

describe('HOLDPOINT_METRICS_TOKEN', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ env: { HOLDPOINT_METRICS_TOKEN: 'metrics-s3cret.token' } });
  });
  afterAll(() => h.close());

  it('makes /metrics answer 401 without the bearer token, in the API error shape, and 200 with it', async () => {
    const refused: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token' }, { authorization: 'metrics-s3cret.token' }];
    for (const headers of refused) {
      const r = await scrape(h, headers);
      expect(r.status).toBe(401);
      expect(JSON.parse(r.text)).toMatchObject({ error: { code: 'unauthorized' } });
    }
    const ok = await scrape(h, { authorization: 'Bearer metrics-s3cret.token' });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('# TYPE holdpoint_decisions_total counter');
  });
});

describe('request ids and the access log', () => {
  let h: Harness;
  let t: TenantKeys;
  beforeAll(async () => {
    h = await createHarness();
    t = await h.tenant();
    await h.setPolicy(t, { defaults: { decision: 'require_approval' } });
  });
  afterAll(() => h.close());

  it('echoes a valid X-Request-Id, and replaces a missing or invalid one with a fresh uuid', async () => {
    const given = await h.app.request('/healthz', { headers: { 'x-request-id': 'trace-01.AB_cd' } });
    expect(given.headers.get('x-request-id')).toBe('trace-01.AB_cd');

    const a = (await h.app.request('/healthz')).headers.get('x-request-id');
    const b = (await h.app.request('/healthz')).headers.get('x-request-id');
    expect(a).toMatch(UUID);
    expect(b).toMatch(UUID);
    expect(a).not.toBe(b);

    for (const bad of ['has spaces', 'x'.repeat(129), 'semi;colon', 'ünïcode']) {
      const r = await h.app.request('/healthz', { headers: { 'x-request-id': bad } });
      expect(r.headers.get('x-request-id'), bad).toMatch(UUID);
    }
    expect((await h.app.request('/healthz', { headers: { 'x-request-id': 'x'.repeat(128) } })).headers.get('x-request-id')).toBe('x'.repeat(128));

    // Error responses carry it too.
    const denied = await h.app.request('/v1/guard', { method: 'POST', headers: { 'x-request-id': 'req-no-key' } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('x-request-id')).toBe('req-no-key');
  });

  const guardRequest = (key: string, requestId: string, idem: string, secretParam: string) =>
    new Request('http://localhost/v1/guard', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ action: 'payment.send', params: { to: secretParam, amount: 5000 }, idempotency_key: idem }),
    });

  it('writes one access line per request at info, with request id, route, status and tenant, and never params, keys or raw paths', async () => {
    const cap = capture('info');
    const app = createApp({ ...h.rt, log: cap.log });
    const res = await app.request(guardRequest(t.agent, 'req-guard-1', 'idem-SENTINEL-1', 'acct_PARAM_SENTINEL_1'));
    expect(res.status).toBe(202);
    const byKey = await app.request('/v1/approvals/by-key/KEY_SENTINEL_2?wait=0', { headers: { authorization: `Bearer ${t.agent}`, 'x-request-id': 'req-by-key' } });
    expect(byKey.status).toBe(404);
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await app.request('/metrics')).status).toBe(200);

    const access = cap.entries().filter((e) => e.msg === 'request');
    expect(access).toHaveLength(2); // probes and scrapes are not logged at info
    expect(access[0]).toMatchObject({ level: 'info', service: 'holdpoint', request_id: 'req-guard-1', method: 'POST', route: '/v1/guard', status: 202, tenant_id: t.tenant_id });
    expect(access[0]!.duration_ms).toBeGreaterThan(0);
    expect(access[1]).toMatchObject({ request_id: 'req-by-key', method: 'GET', route: '/v1/approvals/by-key/:idempotency_key', status: 404, tenant_id: t.tenant_id });

    const all = cap.lines.join('');
    for (const secret of ['acct_PARAM_SENTINEL_1', 'idem-SENTINEL-1', 'KEY_SENTINEL_2', t.agent, 'Bearer']) expect(all).not.toContain(secret);
  });

  it('at debug, adds a debug line that may hold the params, still without the API key', async () => {
    const cap = capture('debug');
    const app = createApp({ ...h.rt, log: cap.log });
    expect((await app.request(guardRequest(t.agent, 'req-guard-2', 'idem-3', 'acct_PARAM_SENTINEL_3'))).status).toBe(202);
    const withParam = cap.entries().filter((e) => JSON.stringify(e).includes('acct_PARAM_SENTINEL_3'));
    expect(withParam.length).toBeGreaterThan(0);
    for (const e of withParam) expect(e).toMatchObject({ level: 'debug', request_id: 'req-guard-2' });
    expect(cap.entries().find((e) => e.msg === 'request')).toMatchObject({ level: 'info', request_id: 'req-guard-2', status: 202 });
    expect(cap.lines.join('')).not.toContain(t.agent);
  });

  it('an error the handler logs carries the request id (Postgres down)', async () => {
    const cap = capture('info');
    const rt = createRuntime(
      loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', REDIS_URL, HOLDPOINT_QUEUE_PREFIX: h.prefix, LOG_LEVEL: 'silent', HOLDPOINT_SECRET_KEY: TEST_SECRET_KEY }),
      cap.log,
    );
    try {
      const key = 'hp_agent_00000000000000000000000000000000';
      const res = await createApp(rt).request('/v1/guard', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': 'req-pg-down' },
        body: JSON.stringify({ action: 'x', idempotency_key: 'k' }),
      });
      expect(res.status).toBe(503);
      const warn = cap.entries().find((e) => e.msg === 'dependency unavailable');
      expect(warn).toMatchObject({ level: 'warn', request_id: 'req-pg-down' });
      expect(warn!.err).toMatchObject({ message: expect.any(String) });
      expect(cap.entries().find((e) => e.msg === 'request')).toMatchObject({ request_id: 'req-pg-down', status: 503 });
      expect(cap.lines.join('')).not.toContain(key);
    } finally {
      await rt.close();
    }
  });
});

describe('/readyz and stuck queues', () => {
  let h: Harness;
  let t: TenantKeys;
  let recv: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    h = await createHarness({ env: { HOLDPOINT_READY_MAX_QUEUE_AGE_MS: '300' } });
    t = await h.tenant();
    recv = await startReceiver();
    await h.setPolicy(t, { defaults: { decision: 'require_approval', min_timeout_seconds: 1 } });
  });
  afterAll(async () => {
    await recv.close();
    await h.close();
  });

  it('answers 503 naming the queue whose job waited too long with no worker, and 200 once a worker drains it', async () => {
    const fresh = await h.call('GET', '/readyz', null);
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ ok: true, postgres: 'ok', redis: 'ok', queues: 'ok' });

    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', idempotency_key: 'stuck-1', callback_url: recv.url('/hook') });
    expect(g.status).toBe(202);
    const stuck = await waitFor(
      async () => {
        const r = await h.call('GET', '/readyz', null);
        return r.status === 503 ? r : undefined;
      },
      { timeout: 10_000, what: 'readyz to notice the waiting delivery' },
    );
    expect(stuck.body).toMatchObject({ ok: false, postgres: 'ok', redis: 'ok', queues: 'stalled' });
    const deliver = stuck.body.stalled.find((q: { queue: string }) => q.queue === 'deliver-webhook');
    expect(deliver).toMatchObject({ waiting: 1 });
    expect(deliver.oldest_waiting_ms).toBeGreaterThan(300);
    expect(stuck.body.stalled.map((q: { queue: string }) => q.queue)).not.toContain('expire-approval'); // delayed, not yet due

    // A delayed job past its time is stuck too: with no worker, nothing promotes it.
    const short = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', idempotency_key: 'stuck-2', timeout_seconds: 1 });
    expect(short.status).toBe(202);
    const overdue = await waitFor(
      async () => {
        const r = await h.call('GET', '/readyz', null);
        return r.body.stalled?.find((q: { queue: string }) => q.queue === 'expire-approval');
      },
      { timeout: 10_000, what: 'readyz to notice the overdue expiry' },
    );
    expect(overdue).toMatchObject({ overdue_delayed: 1, waiting: 0 });

    const conn = createWorkerConnection(REDIS_URL);
    const workers = await startWorkers({ ...h.rt, connection: conn });
    try {
      const ready = await waitFor(
        async () => {
          const r = await h.call('GET', '/readyz', null);
          return r.status === 200 ? r : undefined;
        },
        { timeout: 15_000, what: 'readyz to recover once a worker runs' },
      );
      expect(ready.body).toMatchObject({ ok: true, queues: 'ok' });
      expect(ready.body.stalled).toBeUndefined();
      await waitFor(async () => (await h.call('GET', '/v1/approvals/by-key/stuck-2', t.agent)).body.status === 'expired', { what: 'the overdue approval to expire' });
      await waitFor(() => recv.received.some((r) => r.json.type === 'approval.requested'), { what: 'the drained delivery to arrive' });
    } finally {
      await workers.close(5_000);
      conn.disconnect();
    }
  });
});

describe('a worker-only process', () => {
  let h: Harness;
  let t: TenantKeys;
  let recv: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    h = await createHarness();
    t = await h.tenant();
    recv = await startReceiver();
    await h.setPolicy(t, { defaults: { decision: 'require_approval' } });
  });
  afterAll(async () => {
    await recv.close();
    await h.close();
  });

  it('serves /metrics and /healthz on HOLDPOINT_METRICS_PORT, counting the deliveries it made', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const p = spawnHoldpoint(['start', '--worker'], {
      DATABASE_URL: h.config.DATABASE_URL,
      REDIS_URL: h.config.REDIS_URL,
      HOLDPOINT_QUEUE_PREFIX: h.prefix,
      HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: 'true',
      HOLDPOINT_METRICS_PORT: String(port),
      HOLDPOINT_METRICS_TOKEN: '',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    });
    try {
      await waitFor(
        async () => {
          if (p.proc.exitCode !== null) throw new Error(`worker exited early:\n${p.output()}`);
          return fetch(`${base}/healthz`).then((r) => r.status === 200, () => false);
        },
        { timeout: 20_000, what: 'the worker metrics port' },
      );
      expect(p.output()).toContain('"msg":"metrics listening"');

      // The API (in this test process) parks an approval; the worker process delivers its webhook.
      const g = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', idempotency_key: 'w-1', callback_url: recv.url('/hook') });
      expect(g.status).toBe(202);
      const text = await waitFor(
        async () => {
          const r = await fetch(`${base}/metrics`);
          const body = await r.text();
          return r.status === 200 && value(parse(body), 'holdpoint_webhook_deliveries_total', { result: 'delivered' }) === 1 ? body : undefined;
        },
        { timeout: 15_000, what: 'the worker to count its delivery' },
      );
      const s = parse(text);
      expect(value(s, 'holdpoint_queue_jobs', { queue: 'expire-approval', state: 'delayed' })).toBe(1);
      expect(value(s, 'holdpoint_process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(recv.received.map((r) => r.json.type)).toEqual(['approval.requested']);
      expect((await fetch(`${base}/v1/guard`)).status).toBe(404);
    } finally {
      await p.kill('SIGTERM');
    }
    expect(p.output()).toContain('"msg":"stopped"');
  });
});
