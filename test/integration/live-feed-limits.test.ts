// One tenant cannot degrade the live feeds: dead credentials lose their
// streams within a heartbeat, streams have a lifetime, a key has a cap on
// open streams and long-polls, and a change is read once per tenant however
// many streams follow it.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.ts';
import { silentLogger } from '../../src/log.ts';
import { createNotifier } from '../../src/services/notifier.ts';
import type { Sql } from '../../src/db/client.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { waitFor } from '../helpers/receiver.ts';

let h: Harness;
let t: TenantKeys;
let n = 0;
const HEARTBEAT = 200;

beforeAll(async () => {
  h = await createHarness({ workers: true, env: { HOLDPOINT_STREAM_HEARTBEAT_MS: String(HEARTBEAT) } });
  t = await h.tenant('acme');
  await h.setPolicy(t, { defaults: { decision: 'require_approval' } });
});

afterAll(async () => {
  await h.close();
});

type Ev = { event: string; id: string; data: any; retry?: string };
type App = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

/** An open SSE response read in the background: its messages so far, and whether it ended. */
function follow(res: Response) {
  const evs: Ev[] = [];
  let ended = false;
  const reader = res.body!.getReader();
  const done = (async () => {
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev: Ev = { event: 'message', id: '', data: undefined };
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) ev.event = line.slice(7);
          if (line.startsWith('id: ')) ev.id = line.slice(4);
          if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
          if (line.startsWith('retry: ')) ev.retry = line.slice(7);
        }
        if (ev.data !== undefined) evs.push(ev);
      }
    }
    ended = true;
  })();
  return {
    evs,
    get ended() {
      return ended;
    },
    done,
    cancel: () => reader.cancel().catch(() => {}),
  };
}

async function openStream(app: App, key: string, headers: Record<string, string> = {}) {
  const res = await app.request('/v1/stream', { headers: { authorization: `Bearer ${key}`, ...headers } });
  expect(res.status).toBe(200);
  const f = follow(res);
  await waitFor(() => f.evs.length > 0, { what: 'the first message' });
  return f;
}

async function newKey(role: 'approver' | 'agent' = 'approver') {
  const r = await h.call('POST', '/v1/api-keys', t.admin, { role });
  expect(r.status).toBe(201);
  return { key: r.body.key as string, id: r.body.id as string };
}

async function park(tk: TenantKeys = t) {
  const r = await h.call('POST', '/v1/guard', tk.agent, { action: 'email.send', idempotency_key: `feed-${++n}` });
  expect(r.status).toBe(202);
  return r.body.approval as { id: string; idempotency_key: string };
}

/** An app.request() browser that keeps cookies. */
function browser(app: App) {
  const jar = new Map<string, string>();
  async function go(method: string, path: string, form?: Record<string, string>) {
    const res = await app.request(path, {
      method,
      redirect: 'manual',
      headers: {
        ...(jar.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const c of res.headers.getSetCookie()) {
      const [k, v] = c.split(';')[0]!.split('=');
      if (/max-age=0|expires=Thu, 01 Jan 1970/i.test(c) || v === '') jar.delete(k!);
      else jar.set(k!, v!);
    }
    return res;
  }
  return {
    jar,
    go,
    async signIn(key: string) {
      const html = await (await go('GET', '/ui/login')).text();
      const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
      const r = await go('POST', '/ui/login', { key, _csrf: csrf });
      expect(r.status).toBe(303);
    },
    async csrf() {
      const html = await (await go('GET', '/ui/inbox')).text();
      return /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    },
  };
}

describe('dead credentials', () => {
  it("a revoked key's /v1/stream ends within one heartbeat", async () => {
    const k = await newKey();
    const s = await openStream(h.app, k.key);
    expect(s.evs[0]!.event).toBe('ready');
    const revoked = await h.call('DELETE', `/v1/api-keys/${k.id}`, t.admin);
    expect(revoked.status).toBe(200);
    const at = Date.now();
    await waitFor(() => s.ended, { timeout: 5_000, what: "the revoked key's stream to end" });
    expect(Date.now() - at).toBeLessThan(HEARTBEAT * 10); // one heartbeat, with room for a loaded machine
    expect(s.evs.at(-1)).toMatchObject({ event: 'end', data: { reason: 'unauthorized' } });
    // And it cannot come back.
    expect((await h.app.request('/v1/stream', { headers: { authorization: `Bearer ${k.key}` } })).status).toBe(401);
  });

  it("a signed-out session's /ui/stream ends within one heartbeat", async () => {
    const b = browser(h.app);
    await b.signIn(t.approver);
    const res = await b.go('GET', '/ui/stream');
    expect(res.status).toBe(200);
    const s = follow(res);
    await waitFor(() => s.evs.length > 0);
    const out = await b.go('POST', '/ui/logout', { _csrf: await b.csrf() });
    expect(out.status).toBe(303);
    await waitFor(() => s.ended, { timeout: 5_000, what: "the signed-out session's stream to end" });
    expect(s.evs.at(-1)).toMatchObject({ event: 'end', data: { reason: 'unauthorized' } });
  });

  it("an expired session's /ui/stream ends within one heartbeat", async () => {
    const b = browser(h.app);
    await b.signIn(t.approver);
    const res = await b.go('GET', '/ui/stream');
    const s = follow(res);
    await waitFor(() => s.evs.length > 0);
    await h.rt.sql`UPDATE ui_sessions SET expires_at = now() - interval '1 second' WHERE tenant_id = ${t.tenant_id} AND expires_at > now()`;
    await waitFor(() => s.ended, { timeout: 5_000, what: "the expired session's stream to end" });
    expect(s.evs.at(-1)).toMatchObject({ event: 'end', data: { reason: 'unauthorized' } });
  });
});

describe('stream lifetime', () => {
  it('ends a stream after its maximum lifetime with an id that resumes it, and asks the client to reconnect', async () => {
    const app = createApp({ ...h.rt, config: { ...h.rt.config, HOLDPOINT_STREAM_MAX_LIFETIME_MS: 1_000 } });
    const s = await openStream(app, t.approver);
    const ready = s.evs[0]!;
    expect(ready.event).toBe('ready');
    await waitFor(() => s.ended, { timeout: 10_000, what: 'the stream to reach its lifetime' });
    const end = s.evs.at(-1)!;
    expect(end).toMatchObject({ event: 'end', data: { reason: 'lifetime' } });
    expect(end.retry).toMatch(/^\d+$/);
    // Its id is where the client is: a reconnect with it as Last-Event-ID resumes, it does not reset.
    expect(Number(end.id)).toBe(end.data.seq);
    const a = await park();
    const again = await openStream(app, t.approver, { 'last-event-id': end.id });
    expect(again.evs[0]).toMatchObject({ event: 'ready', id: end.id });
    await waitFor(() => again.evs.some((e) => e.event === 'change' && e.data.events.some((x: any) => x.approval_id === a.id)), { what: 'the missed change' });
    await again.cancel();
  });
});

describe('shutdown', () => {
  it('ends open streams when the notifier closes, and a stream opened after that ends at once', async () => {
    const notifier = createNotifier(h.rt.sql, silentLogger);
    await notifier.start();
    const app = createApp({ ...h.rt, notifier });
    const s = await openStream(app, t.approver);
    await notifier.close();
    await waitFor(() => s.ended, { timeout: 5_000, what: 'the stream to end on shutdown' });
    expect(s.evs.at(-1)).toMatchObject({ event: 'end', data: { reason: 'shutdown' } });
    const late = await openStream(app, t.approver);
    await waitFor(() => late.ended, { timeout: 5_000, what: 'a late stream to end' });
  });
});

describe('per-key caps', () => {
  it('the stream past the cap of a key gets 429 rate_limited with Retry-After; other keys are not affected', async () => {
    const app = createApp({ ...h.rt, config: { ...h.rt.config, HOLDPOINT_MAX_STREAMS_PER_KEY: 2 } });
    const k = await newKey();
    const one = await openStream(app, k.key);
    const two = await openStream(app, k.key);
    const three = await app.request('/v1/stream', { headers: { authorization: `Bearer ${k.key}` } });
    expect(three.status).toBe(429);
    expect(three.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await three.json()).error.code).toBe('rate_limited');
    const other = await openStream(app, t.approver);
    // Closing one frees its place.
    await one.cancel();
    await waitFor(async () => {
      const r = await app.request('/v1/stream', { headers: { authorization: `Bearer ${k.key}` } });
      if (r.status !== 200) return false;
      await r.body!.cancel();
      return true;
    }, { timeout: 5_000, what: 'a freed stream slot' });
    await two.cancel();
    await other.cancel();
  });

  it("the inbox stream past a sign-in's cap gets 429 with Retry-After", async () => {
    const app = createApp({ ...h.rt, config: { ...h.rt.config, HOLDPOINT_MAX_STREAMS_PER_KEY: 1 } });
    const k = await newKey();
    const b = browser(app);
    await b.signIn(k.key);
    const first = await b.go('GET', '/ui/stream');
    expect(first.status).toBe(200);
    const second = await b.go('GET', '/ui/stream');
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toMatch(/^\d+$/);
    await first.body!.cancel();
  });

  it('the long-poll past the cap of a key gets 429 rate_limited with Retry-After', async () => {
    const app = createApp({ ...h.rt, config: { ...h.rt.config, HOLDPOINT_MAX_LONG_POLLS_PER_KEY: 2 } });
    const a = await park();
    const b = await park();
    const c = await park();
    const poll = (key: string) => app.request(`/v1/approvals/by-key/${key}?wait=20`, { headers: { authorization: `Bearer ${t.agent}` } });
    const first = poll(a.idempotency_key);
    const second = poll(b.idempotency_key);
    await new Promise((r) => setTimeout(r, 300));
    const third = await poll(c.idempotency_key);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await third.json()).error.code).toBe('rate_limited');
    // A plain read (no wait) is not a long-poll and is not capped.
    expect((await app.request(`/v1/approvals/by-key/${c.idempotency_key}`, { headers: { authorization: `Bearer ${t.agent}` } })).status).toBe(200);
    // Deciding ends the waits and frees their places.
    const bob = await h.as(t, 'bob');
    await h.call('POST', `/v1/approvals/${a.id}/decision`, bob, { decision: 'approve' });
    await h.call('POST', `/v1/approvals/${b.id}/decision`, bob, { decision: 'approve' });
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    await h.call('POST', `/v1/approvals/${c.id}/decision`, bob, { decision: 'approve' });
    expect((await poll(c.idempotency_key)).status).toBe(200);
  });
});

describe('fan-out', () => {
  let counted: Sql;
  const queries: string[] = [];
  beforeAll(() => {
    // The same driver options as src/db/client.ts, plus a hook that sees every query.
    counted = postgres(h.config.DATABASE_URL, {
      max: 10,
      types: { bigint: postgres.BigInt },
      onnotice: () => {},
      debug: (_conn, query) => queries.push(query),
    }) as unknown as Sql;
  });
  afterAll(() => counted.end({ timeout: 5 }));

  it('a change is read once per tenant, not once per open stream', async () => {
    // Heartbeats far apart, so only the change itself makes the streams read.
    const app = createApp({ ...h.rt, sql: counted, config: { ...h.rt.config, HOLDPOINT_STREAM_HEARTBEAT_MS: 60_000, HOLDPOINT_MAX_STREAMS_PER_KEY: 100 } });
    const streams: ReturnType<typeof follow>[] = [];
    for (let i = 0; i < 25; i++) streams.push(await openStream(app, t.approver));
    await new Promise((r) => setTimeout(r, 300));
    queries.length = 0;
    const a = await park();
    await waitFor(
      () => streams.every((s) => s.evs.some((e) => e.event === 'change' && e.data.events.some((x: any) => x.approval_id === a.id))),
      { timeout: 10_000, what: 'every stream to get the change' },
    );
    const eventReads = queries.filter((q) => /FROM approval_events WHERE tenant_id/.test(q));
    expect(eventReads.length).toBeGreaterThanOrEqual(1);
    expect(eventReads.length).toBeLessThanOrEqual(3);
    // Every query it made for the change, not one per stream (25 streams).
    expect(queries.length).toBeLessThan(25);
    await Promise.all(streams.map((s) => s.cancel()));
  });
});
