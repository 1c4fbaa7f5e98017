// Values Postgres or the stack cannot carry are refused at the edge with a
// precise 4xx — never a 500 — and the refusal writes nothing: a NUL character,
// JSON nested past 64 levels, a cursor this API never issued, an integer past
// the column. Also: "__proto__" and "constructor" keys are data, kept exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

const TABLES = ['approvals', 'approval_votes', 'decisions', 'approval_events', 'policies', 'api_keys', 'webhook_endpoints', 'contact_requests', 'approvers'] as const;

const POLICY = {
  defaults: { decision: 'allow' },
  rules: [{ name: 'payments', match: { action: 'payment.*' }, decision: 'require_approval', reason: 'payments need a human' }],
};

type Res = { status: number; body: any };
let n = 0;
const key = () => `lim-${++n}-${Date.now()}`;

async function counts(h: Harness): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) {
    const [row] = await h.rt.sql.unsafe<{ count: number }[]>(`SELECT count(*)::int AS count FROM ${t}`);
    out[t] = row!.count;
  }
  return out;
}

async function refused(h: Harness, send: () => Promise<Res>, status: number, code: string): Promise<Res> {
  const before = await counts(h);
  const r = await send();
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body?.error?.code, JSON.stringify(r.body)).toBe(code);
  expect(await counts(h)).toEqual(before);
  return r;
}

const nest = (depth: number): unknown => (depth === 0 ? 'leaf' : { a: nest(depth - 1) });
const cursor = (s: string) => Buffer.from(s).toString('base64url');

let h: Harness;
let t: TenantKeys;
let pendingId: string;

beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
  await h.setPolicy(t, POLICY);
  const r = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: { amount: 1 }, idempotency_key: key() });
  expect(r.status).toBe(202);
  pendingId = r.body.approval.id;
});

afterAll(async () => {
  await h.close();
});

describe('a NUL character (\\u0000) is 422 invalid_text with details.path', () => {
  it('in a params value of a guard that would park an approval', async () => {
    const r = await refused(h, () => h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: { memo: 'a\u0000b' }, idempotency_key: key() }), 422, 'invalid_text');
    expect(r.body.error.details.path).toBe('params.memo');
  });

  it('in the action (before the identifier check, which answers 400 for other control characters)', async () => {
    const r = await refused(h, () => h.call('POST', '/v1/guard', t.agent, { action: 'payment.\u0000send', idempotency_key: key() }), 422, 'invalid_text');
    expect(r.body.error.details.path).toBe('action');
  });

  it('in a params key', async () => {
    const r = await refused(h, () => h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: { ['x\u0000']: 1 }, idempotency_key: key() }), 422, 'invalid_text');
    expect(r.body.error.details.path).toBe('params.x\\u0000');
  });

  it('in the reason of a decision, and the approval stays pending', async () => {
    const r = await refused(h, () => h.call('POST', `/v1/approvals/${pendingId}/decision`, t.approver, { decision: 'reject', reason: 'no\u0000' }), 422, 'invalid_text');
    expect(r.body.error.details.path).toBe('reason');
    expect((await h.call('GET', `/v1/approvals/${pendingId}`, t.agent)).body.status).toBe('pending');
  });

  it('in a HumanLayer contact request message', async () => {
    const r = await refused(h, () => h.call('POST', '/humanlayer/v1/contact_requests', t.agent, { run_id: 'r', call_id: key(), spec: { msg: 'hello\u0000' } }), 422, 'invalid_text');
    expect(r.body.error.details.path).toBe('spec.msg');
  });

  it('in an API key name', async () => {
    const r = await refused(h, () => h.call('POST', '/v1/api-keys', t.admin, { role: 'agent', name: 'ci\u0000' }), 422, 'invalid_text');
    expect(r.body.error.details.path).toBe('name');
  });

  it('in a webhook endpoint description', async () => {
    const r = await refused(h, () => h.call('POST', '/v1/webhook-endpoints', t.admin, { url: 'http://127.0.0.1:9/hook', description: 'ops\u0000' }), 422, 'invalid_text');
    expect(r.body.error.details.path).toBe('description');
  });

  it('in a YAML policy ("\\0" is a YAML escape for NUL)', async () => {
    const yaml = 'defaults:\n  decision: allow\nrules:\n  - name: "a\\0b"\n    match: { action: "x" }\n    decision: deny\n';
    const r = await refused(h, () => h.call('PUT', '/v1/policy', t.admin, yaml, { 'content-type': 'application/yaml' }), 422, 'invalid_text');
    expect(r.body.error.details.path).toBe('rules.0.name');
  });
});

describe('a lone UTF-16 surrogate (not a Unicode character) is 422 invalid_text too', () => {
  it('in a params value (jsonb refuses it) and a key', async () => {
    const a = await refused(h, () => h.call('POST', '/v1/guard', t.agent, `{"action":"payment.send","params":{"a":"x\\ud800"},"idempotency_key":"${key()}"}`), 422, 'invalid_text');
    expect(a.body.error.details.path).toBe('params.a');
    const b = await refused(h, () => h.call('POST', '/v1/guard', t.agent, `{"action":"payment.send","params":{"\\udc00":1},"idempotency_key":"${key()}"}`), 422, 'invalid_text');
    expect(b.body.error.details.path).toBe('params.\\udc00');
  });

  it('in an API key name, which a text column would have stored as U+FFFD', async () => {
    await refused(h, () => h.call('POST', '/v1/api-keys', t.admin, '{"role":"agent","name":"ci \\ud83d"}'), 422, 'invalid_text');
  });

  it('a surrogate pair (an emoji) is a character like any other', async () => {
    const r = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: { note: 'ok 😀' }, idempotency_key: key() });
    expect(r.status).toBe(202);
    expect(r.body.approval.params.note).toBe('ok 😀');
  });
});

describe('JSON nested past 64 levels is 422 too_deep', () => {
  it('2,500 levels of params on guard is refused before anything recurses over it', async () => {
    const r = await refused(h, () => h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: nest(2_500), idempotency_key: key() }), 422, 'too_deep');
    expect(r.body.error.details.max_depth).toBe(64);
    expect(r.body.error.details.path).toMatch(/^params(\.a)+$/);
  });

  it('2,500 levels on check are refused too', async () => {
    await refused(h, () => h.call('POST', '/v1/check', t.agent, { action: 'x', params: nest(2_500) }), 422, 'too_deep');
  });

  it('the limit is the body at 64 levels: 64 passes, 65 is refused', async () => {
    // The body is level 1, so params (nest(63): 63 objects) brings it to 64.
    const ok = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: nest(63), idempotency_key: key() });
    expect(ok.status, JSON.stringify(ok.body).slice(0, 300)).toBe(202);
    await refused(h, () => h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: nest(64), idempotency_key: key() }), 422, 'too_deep');
  });
});

describe('cursors and integers are validated exactly: 400 validation_failed naming the field', () => {
  const foreign: [string, string][] = [
    ['36 dashes for the id', cursor(`2026-01-01T00:00:00.000Z|${'-'.repeat(36)}`)],
    ['the year -200000', cursor('-200000-01-01T00:00:00.000Z|01234567-89ab-4def-8123-456789abcdef')],
    ['a timestamp not in the form the API writes', cursor('2026-01-01|01234567-89ab-4def-8123-456789abcdef')],
    ['a third part', cursor('2026-01-01T00:00:00.000Z|01234567-89ab-4def-8123-456789abcdef|x')],
  ];
  for (const [what, c] of foreign) {
    for (const path of ['/v1/approvals', '/v1/decisions']) {
      it(`a cursor with ${what} on ${path}`, async () => {
        const r = await refused(h, () => h.call('GET', `${path}?cursor=${c}`, t.admin), 400, 'validation_failed');
        expect(r.body.error.details.field).toBe('cursor');
      });
    }
  }

  it('a cursor the API returned still pages', async () => {
    const first = await h.call('GET', '/v1/decisions?limit=1', t.admin);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const next = await h.call('GET', `/v1/decisions?limit=1&cursor=${first.body.next_cursor}`, t.admin);
    expect(next.status).toBe(200);
    expect(next.body.data[0].id).not.toBe(first.body.data[0].id);
  });

  it('GET /v1/policy?version=2147483648 (past a Postgres integer) is refused naming version', async () => {
    const r = await refused(h, () => h.call('GET', '/v1/policy?version=2147483648', t.admin), 400, 'validation_failed');
    expect(r.body.error.details.problems.map((p: { path: string }) => p.path)).toEqual(['version']);
    const top = await h.call('GET', '/v1/policy?version=2147483647', t.admin);
    expect(top.status).toBe(404);
  });

  for (const q of ['version=1e3', 'version=0x10', 'version=', 'version=-1', 'version=1.0']) {
    it(`GET /v1/policy?${q} is refused naming version`, async () => {
      const r = await refused(h, () => h.call('GET', `/v1/policy?${q}`, t.admin), 400, 'validation_failed');
      expect(r.body.error.details.problems.map((p: { path: string }) => p.path)).toEqual(['version']);
    });
  }

  it('limit=1e3 on a list is refused naming limit', async () => {
    const r = await refused(h, () => h.call('GET', '/v1/approvals?limit=1e1', t.admin), 400, 'validation_failed');
    expect(r.body.error.details.problems.map((p: { path: string }) => p.path)).toEqual(['limit']);
  });
});

describe('"__proto__" and "constructor" keys are data', () => {
  it('come back in the approval exactly as the agent sent them, and in its webhook body and event', async () => {
    const k = key();
    const raw = `{"action":"payment.send","params":{"__proto__":{"x":1},"constructor":"y"},"context":{"__proto__":[2]},"idempotency_key":"${k}"}`;
    const r = await h.call('POST', '/v1/guard', t.agent, raw);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const expected = JSON.parse('{"__proto__":{"x":1},"constructor":"y"}');
    expect(Object.keys(r.body.approval.params)).toEqual(['__proto__', 'constructor']);
    expect(r.body.approval.params).toStrictEqual(expected);
    const got = await h.call('GET', `/v1/approvals/${r.body.approval.id}`, t.agent);
    expect(Object.keys(got.body.params).sort()).toEqual(['__proto__', 'constructor']);
    expect(got.body.params).toStrictEqual(expected);
    expect(Object.keys(got.body.context)).toEqual(['__proto__']);
    // The retry hashes the same request (the key kept its meaning in the hash).
    const again = await h.call('POST', '/v1/guard', t.agent, raw);
    expect(again.status).toBe(202);
    expect(again.body.approval.id).toBe(r.body.approval.id);
    const [delivery] = await h.rt.sql<{ payload: string }[]>`SELECT payload FROM webhook_deliveries d JOIN approval_events e ON e.id = d.event_id WHERE e.approval_id = ${r.body.approval.id}`;
    if (delivery) expect(Object.keys(JSON.parse(delivery.payload).data.params).sort()).toEqual(['__proto__', 'constructor']);
  });

  it('a different "__proto__" under the same key is a different request (422 idempotency_key_reused)', async () => {
    const k = key();
    const a = await h.call('POST', '/v1/guard', t.agent, `{"action":"payment.send","params":{"__proto__":{"x":1}},"idempotency_key":"${k}"}`);
    expect(a.status).toBe(202);
    const b = await h.call('POST', '/v1/guard', t.agent, `{"action":"payment.send","params":{"__proto__":{"x":2}},"idempotency_key":"${k}"}`);
    expect(b.status).toBe(422);
    expect(b.body.error.code).toBe('idempotency_key_reused');
  });

  it('HumanLayer kwargs keep them too', async () => {
    const call = key();
    const r = await h.call('POST', '/humanlayer/v1/function_calls', t.agent, `{"run_id":"r","call_id":"${call}","spec":{"fn":"payment.send","kwargs":{"__proto__":{"x":1},"constructor":"y"}}}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.spec.kwargs).toStrictEqual(JSON.parse('{"__proto__":{"x":1},"constructor":"y"}'));
  });

  it('a HumanLayer spec keeps them beside its known fields, on function calls and contact requests', async () => {
    const call = key();
    const fnCall = await h.call('POST', '/humanlayer/v1/function_calls', t.agent, `{"run_id":"r","call_id":"${call}","spec":{"fn":"payment.send","kwargs":{},"__proto__":{"x":1},"state":{"__proto__":2}}}`);
    expect(fnCall.status, JSON.stringify(fnCall.body)).toBe(200);
    expect(Object.keys(fnCall.body.spec).sort()).toEqual(['__proto__', 'fn', 'kwargs', 'state']);
    expect(Object.keys(fnCall.body.spec.state)).toEqual(['__proto__']);
    const q = await h.call('POST', '/humanlayer/v1/contact_requests', t.agent, `{"run_id":"r","call_id":"${key()}","spec":{"msg":"ok?","__proto__":{"x":1},"constructor":"y"}}`);
    expect(q.status, JSON.stringify(q.body)).toBe(200);
    expect(q.body.spec).toStrictEqual(JSON.parse('{"msg":"ok?","__proto__":{"x":1},"constructor":"y"}'));
    const again = await h.call('GET', `/humanlayer/v1/contact_requests/${q.body.call_id}`, t.agent);
    expect(Object.keys(again.body.spec).sort()).toEqual(['__proto__', 'constructor', 'msg']);
  });
});

describe('path and query text Postgres cannot compare', () => {
  it('DELETE /v1/approvers/{name} with a NUL in the name is 400 validation_failed naming name, not a database error', async () => {
    const r = await refused(h, () => h.call('DELETE', `/v1/approvers/${encodeURIComponent('alice\u0000')}`, t.admin), 400, 'validation_failed');
    expect(r.body.error.details.problems.map((p: { path: string }) => p.path)).toEqual(['name']);
  });
});
