// Bad input is refused with the right status and code, never a 500, and
// leaves no trace: every refused request is checked against row counts.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

const TABLES = ['approvals', 'approval_votes', 'decisions', 'approval_events', 'policies', 'api_keys', 'webhook_endpoints', 'webhook_deliveries'] as const;

const POLICY = {
  defaults: { decision: 'allow' },
  rules: [{ name: 'payments', match: { action: 'payment.*' }, decision: 'require_approval', reason: 'payments need a human' }],
};

type Res = { status: number; body: any };

let n = 0;
const key = () => `bad-${++n}-${Date.now()}`;

/** Row counts of every table a request could write to. */
async function snapshotCounts(h: Harness): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) {
    const [row] = await h.rt.sql.unsafe<{ count: number }[]>(`SELECT count(*)::int AS count FROM ${t}`);
    out[t] = row!.count;
  }
  return out;
}

/** Sends the request and asserts its status and error code, and that nothing was written. */
async function refused(h: Harness, send: () => Promise<Res>, status: number, code: string): Promise<Res> {
  const before = await snapshotCounts(h);
  const r = await send();
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body?.error?.code, JSON.stringify(r.body)).toBe(code);
  expect(typeof r.body.error.message).toBe('string');
  expect(await snapshotCounts(h)).toEqual(before);
  return r;
}

/** The paths zod reported for a validation_failed answer. */
const problemPaths = (r: Res): string[] => (r.body.error.details?.problems ?? []).map((p: { path: string }) => p.path);

describe('with the default configuration (body limit 2048 bytes)', () => {
  let h: Harness;
  let t: TenantKeys;
  let pendingId: string;
  let pendingKey: string;

  beforeAll(async () => {
    h = await createHarness({ env: { HOLDPOINT_MAX_BODY_BYTES: '2048' } });
    t = await h.tenant();
    await h.setPolicy(t, POLICY);
    pendingKey = key();
    const r = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: { amount: 1 }, idempotency_key: pendingKey });
    expect(r.status).toBe(202);
    pendingId = r.body.approval.id;
  });

  afterAll(async () => {
    await h.close();
  });

  const guard = (body: unknown, headers: Record<string, string> = {}) => h.call('POST', '/v1/guard', t.agent, body, headers);

  /** Asserts the approval parked in beforeAll is untouched. */
  async function stillPending() {
    const r = await h.call('GET', `/v1/approvals/${pendingId}`, t.agent);
    expect(r.body).toMatchObject({ status: 'pending', votes: [], decided_by: null });
  }

  describe('bodies that are not JSON', () => {
    it('a malformed JSON body on guard is 400 malformed_json', async () => {
      await refused(h, () => guard('{"action": "payment.send", "params": {'), 400, 'malformed_json');
    });

    it('a text/plain body on guard is 415 unsupported_media_type', async () => {
      await refused(
        h,
        () => guard(JSON.stringify({ action: 'payment.send', idempotency_key: key() }), { 'content-type': 'text/plain' }),
        415,
        'unsupported_media_type',
      );
    });

    it('a JSON guard with an empty body is 400 malformed_json', async () => {
      await refused(h, () => h.call('POST', '/v1/guard', t.agent, undefined, { 'content-type': 'application/json' }), 400, 'malformed_json');
    });

    it('a body over HOLDPOINT_MAX_BODY_BYTES is 413 payload_too_large', async () => {
      const big = { action: 'payment.send', idempotency_key: key(), params: { blob: 'x'.repeat(10_000) } };
      const r = await refused(h, () => guard(big), 413, 'payload_too_large');
      expect(r.body.error.message).toMatch(/2048/);
    });

    it('is judged by Content-Length when there is one (a real client always sends it), and by the stream when chunked', async () => {
      const big = JSON.stringify({ action: 'payment.send', idempotency_key: key(), params: { blob: 'x'.repeat(10_000) } });
      const byHeader = await refused(h, () => h.call('POST', '/v1/guard', t.agent, big, { 'content-length': String(Buffer.byteLength(big)) }), 413, 'payload_too_large');
      expect(byHeader.body.error.message).toMatch(/2048/);
      const small = JSON.stringify({ action: 'payment.send', idempotency_key: key(), params: { n: 1 } });
      const ok = await h.call('POST', '/v1/guard', t.agent, small, { 'content-length': String(Buffer.byteLength(small)) });
      expect(ok.status).toBeLessThan(300);
      // Over a real socket: Node sends Content-Length for a string body.
      const { serve } = await import('@hono/node-server');
      const server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' });
      await new Promise((r) => server.once('listening', r));
      const port = (server.address() as { port: number }).port;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v1/guard`, { method: 'POST', headers: { authorization: `Bearer ${t.agent}`, 'content-type': 'application/json' }, body: big });
        expect(res.status).toBe(413);
        // Chunked: no length up front, so the stream is counted.
        const chunked = await fetch(`http://127.0.0.1:${port}/v1/guard`, {
          method: 'POST',
          headers: { authorization: `Bearer ${t.agent}`, 'content-type': 'application/json' },
          body: new Blob([big]).stream(),
          duplex: 'half',
        } as RequestInit);
        expect(chunked.status).toBe(413);
        expect((await chunked.json()).error.code).toBe('payload_too_large');
      } finally {
        await new Promise((r) => server.close(r));
      }
    });
  });

  describe('bodies of the wrong shape', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['a numeric action', { action: 5 }, 'action'],
      ['params that are a string', { action: 'payment.send', params: 'x' }, 'params'],
      ['a negative timeout_seconds', { action: 'payment.send', timeout_seconds: -1 }, 'timeout_seconds'],
      ['a fractional timeout_seconds', { action: 'payment.send', timeout_seconds: 1.5 }, 'timeout_seconds'],
      ['an empty action', { action: '' }, 'action'],
      ['an action with a control character', { action: 'payment.\u0007send' }, 'action'], // NUL itself is 422 invalid_text (input-limits.test.ts)
    ];
    for (const [what, body, path] of cases) {
      it(`a guard with ${what} is 400 validation_failed naming ${path}`, async () => {
        const r = await refused(h, () => guard({ idempotency_key: key(), ...body }), 400, 'validation_failed');
        expect(problemPaths(r)).toContain(path);
        expect(r.body.error.details.target).toBe('json');
      });
    }

    it('a guard without an action is 400 validation_failed naming action', async () => {
      const r = await refused(h, () => guard({ idempotency_key: key(), params: {} }), 400, 'validation_failed');
      expect(problemPaths(r)).toContain('action');
    });

    it('an unknown top-level field is 400 validation_failed naming the field', async () => {
      const r = await refused(h, () => guard({ action: 'payment.send', idempotency_key: key(), amount: 5 }), 400, 'validation_failed');
      const problems: { path: string; message: string }[] = r.body.error.details.problems;
      expect(problems.length).toBeGreaterThan(0);
      // The field must be named where a client looks for it: the problem's path. zod reports
      // unrecognized keys at the object's path with the names in `keys`; the error body must carry them.
      expect(problems.map((p) => p.path)).toContain('amount');
    });

    it('a JSON array as the body is 400 validation_failed', async () => {
      await refused(h, () => guard([{ action: 'payment.send' }]), 400, 'validation_failed');
    });

    it('an Idempotency-Key header that differs from the body idempotency_key is 400', async () => {
      const r = await refused(
        h,
        () => guard({ action: 'payment.send', idempotency_key: key() }, { 'idempotency-key': key() }),
        400,
        'validation_failed',
      );
      expect(r.body.error.message).toMatch(/idempotency/i);
    });

    it('a callback_url that is not a URL is 400 naming callback_url', async () => {
      const r = await refused(h, () => guard({ action: 'payment.send', idempotency_key: key(), callback_url: 'not a url' }), 400, 'validation_failed');
      expect(problemPaths(r)).toContain('callback_url');
    });

    it('an ftp:// callback_url is 400 validation_failed', async () => {
      const r = await refused(
        h,
        () => guard({ action: 'payment.send', idempotency_key: key(), callback_url: 'ftp://files.example.com/cb' }),
        400,
        'validation_failed',
      );
      expect(JSON.stringify(r.body.error)).toMatch(/callback_url/);
    });

    it('a callback_url carrying credentials is 400 validation_failed', async () => {
      await refused(
        h,
        () => guard({ action: 'payment.send', idempotency_key: key(), callback_url: 'https://user:pw@example.com/cb' }),
        400,
        'validation_failed',
      );
    });

    it('a check with a wrong type is 400 and records no decision', async () => {
      const r = await refused(h, () => h.call('POST', '/v1/check', t.agent, { action: ['payment.send'] }), 400, 'validation_failed');
      expect(problemPaths(r)).toContain('action');
    });

    it('a report with a non-uuid decision_id or an unknown status is 400', async () => {
      const a = await refused(h, () => h.call('POST', '/v1/report', t.agent, { decision_id: 'nope', status: 'completed' }), 400, 'validation_failed');
      expect(problemPaths(a)).toContain('decision_id');
      const b = await refused(h, () => h.call('POST', '/v1/report', t.agent, { decision_id: randomUUID(), status: 'done' }), 400, 'validation_failed');
      expect(problemPaths(b)).toContain('status');
    });
  });

  describe('credentials', () => {
    const headerCases: [string, Record<string, string>][] = [
      ['no Authorization header', {}],
      ['a Basic header', { authorization: 'Basic x' }],
      ['"Bearer" alone', { authorization: 'Bearer' }],
      ['"Bearer " with nothing after it', { authorization: 'Bearer ' }],
      ['a key with spaces', { authorization: 'Bearer bad key with spaces' }],
      ['a well-formed key that does not exist', { authorization: `Bearer hp_agent_${'A1b2C3d4'.repeat(4)}` }],
      ['another tenant-less admin-shaped key', { authorization: `Bearer hp_admin_${'Zz09'.repeat(8)}` }],
    ];
    for (const [what, headers] of headerCases) {
      it(`${what} is 401 unauthorized and parks nothing`, async () => {
        await refused(h, () => h.call('POST', '/v1/guard', null, { action: 'payment.send', idempotency_key: key() }, headers), 401, 'unauthorized');
      });
    }

    it('an unauthenticated read of an existing approval is 401, not the approval', async () => {
      const r = await refused(h, () => h.call('GET', `/v1/approvals/${pendingId}`, null), 401, 'unauthorized');
      expect(r.body.id).toBeUndefined();
    });
  });

  describe('ids and routes', () => {
    it('an unknown approval id is 404 not_found on get, decision, cancel, claim, complete, fail and events', async () => {
      const id = randomUUID();
      await refused(h, () => h.call('GET', `/v1/approvals/${id}`, t.agent), 404, 'not_found');
      await refused(h, () => h.call('POST', `/v1/approvals/${id}/decision`, t.approver, { decision: 'approve' }), 404, 'not_found');
      await refused(h, () => h.call('POST', `/v1/approvals/${id}/cancel`, t.agent, {}), 404, 'not_found');
      await refused(h, () => h.call('POST', `/v1/approvals/${id}/claim`, t.agent, {}), 404, 'not_found');
      await refused(h, () => h.call('POST', `/v1/approvals/${id}/complete`, t.agent, { claim_token: randomUUID() }), 404, 'not_found');
      await refused(h, () => h.call('POST', `/v1/approvals/${id}/fail`, t.agent, { claim_token: randomUUID() }), 404, 'not_found');
      await refused(h, () => h.call('GET', `/v1/approvals/${id}/events`, t.agent), 404, 'not_found');
    });

    it('an unknown idempotency key is 404 not_found on by-key', async () => {
      await refused(h, () => h.call('GET', `/v1/approvals/by-key/${key()}`, t.agent), 404, 'not_found');
    });

    it('a non-uuid approval id is 400 validation_failed naming id', async () => {
      for (const [method, path, k, body] of [
        ['GET', '/v1/approvals/not-a-uuid', t.agent, undefined],
        ['POST', '/v1/approvals/123/decision', t.approver, { decision: 'approve' }],
        ['POST', '/v1/approvals/xyz/cancel', t.agent, {}],
        ['POST', '/v1/approvals/xyz/claim', t.agent, {}],
        ['GET', '/v1/approvals/xyz/events', t.agent, undefined],
      ] as const) {
        const r = await refused(h, () => h.call(method, path, k, body), 400, 'validation_failed');
        expect(problemPaths(r)).toContain('id');
      }
    });

    it('an unknown route is 404 not_found, inside /v1 and outside it', async () => {
      await refused(h, () => h.call('GET', '/v1/nothing-here', t.agent), 404, 'not_found');
      await refused(h, () => h.call('POST', '/v1/approvals', t.agent, { action: 'payment.send' }), 404, 'not_found');
      await refused(h, () => h.call('GET', '/nothing-here', null), 404, 'not_found');
    });
  });

  describe('approval actions with bad bodies', () => {
    it('a decision of "maybe" is 400 naming decision, and the approval stays pending', async () => {
      const r = await refused(h, () => h.call('POST', `/v1/approvals/${pendingId}/decision`, t.approver, { decision: 'maybe' }), 400, 'validation_failed');
      expect(problemPaths(r)).toContain('decision');
      await stillPending();
    });

    it('a decision with an unknown field is 400, and the approval stays pending', async () => {
      await refused(h, () => h.call('POST', `/v1/approvals/${pendingId}/decision`, t.approver, { decision: 'approve', force: true }), 400, 'validation_failed');
      await stillPending();
    });

    it('a malformed JSON decision is 400 malformed_json, and the approval stays pending', async () => {
      await refused(h, () => h.call('POST', `/v1/approvals/${pendingId}/decision`, t.approver, '{"decision": "approve"'), 400, 'malformed_json');
      await stillPending();
    });

    it('a claim with lease_seconds 0 is 400 naming lease_seconds', async () => {
      const r = await refused(h, () => h.call('POST', `/v1/approvals/${pendingId}/claim`, t.agent, { lease_seconds: 0 }), 400, 'validation_failed');
      expect(problemPaths(r)).toContain('lease_seconds');
    });

    it('complete without a claim_token is 400 naming claim_token', async () => {
      const r = await refused(h, () => h.call('POST', `/v1/approvals/${pendingId}/complete`, t.agent, { result: { ok: true } }), 400, 'validation_failed');
      expect(problemPaths(r)).toContain('claim_token');
    });

    it('fail with a claim_token that is not a uuid is 400 naming claim_token', async () => {
      const r = await refused(h, () => h.call('POST', `/v1/approvals/${pendingId}/fail`, t.agent, { claim_token: 'abc' }), 400, 'validation_failed');
      expect(problemPaths(r)).toContain('claim_token');
    });

    it('a cancel with an unknown field is 400, and the approval stays pending', async () => {
      await refused(h, () => h.call('POST', `/v1/approvals/${pendingId}/cancel`, t.agent, { reason: 'x', hard: true }), 400, 'validation_failed');
      await stillPending();
    });
  });

  describe('queries', () => {
    for (const [what, qs, path] of [
      ['limit=0', 'limit=0', 'limit'],
      ['limit=1000', 'limit=1000', 'limit'],
      ['limit=abc', 'limit=abc', 'limit'],
      ['an unknown status', 'status=sleeping', 'status'],
    ] as const) {
      it(`listing with ${what} is 400 validation_failed naming ${path}`, async () => {
        const r = await refused(h, () => h.call('GET', `/v1/approvals?${qs}`, t.approver), 400, 'validation_failed');
        expect(problemPaths(r)).toContain(path);
      });
    }

    it('listing with a garbage cursor is 400 validation_failed', async () => {
      await refused(h, () => h.call('GET', '/v1/approvals?cursor=garbage', t.approver), 400, 'validation_failed');
      const forged = Buffer.from('yesterday|not-an-id').toString('base64url');
      await refused(h, () => h.call('GET', `/v1/approvals?cursor=${forged}`, t.approver), 400, 'validation_failed');
    });

    it('by-key with wait=61 is 400 and answers at once', async () => {
      const started = Date.now();
      const r = await refused(h, () => h.call('GET', `/v1/approvals/by-key/${pendingKey}?wait=61`, t.agent), 400, 'validation_failed');
      expect(problemPaths(r)).toContain('wait');
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('by-key with a negative or non-numeric wait is 400', async () => {
      await refused(h, () => h.call('GET', `/v1/approvals/by-key/${pendingKey}?wait=-1`, t.agent), 400, 'validation_failed');
      await refused(h, () => h.call('GET', `/v1/approvals/by-key/${pendingKey}?wait=soon`, t.agent), 400, 'validation_failed');
    });
  });

  describe('admin bodies', () => {
    it('creating an API key with an unknown role is 400 and creates no key', async () => {
      const r = await refused(h, () => h.call('POST', '/v1/api-keys', t.admin, { role: 'root' }), 400, 'validation_failed');
      expect(problemPaths(r)).toContain('role');
    });

    it('an agent key bound to an approver identity is 400 and creates no key', async () => {
      await refused(h, () => h.call('POST', '/v1/api-keys', t.admin, { role: 'agent', approver: 'alice' }), 400, 'validation_failed');
    });

    it('a webhook endpoint with a non-URL or ftp:// url is 400 and creates no endpoint', async () => {
      await refused(h, () => h.call('POST', '/v1/webhook-endpoints', t.admin, { url: 'nope' }), 400, 'validation_failed');
      await refused(h, () => h.call('POST', '/v1/webhook-endpoints', t.admin, { url: 'ftp://example.com/hook' }), 400, 'validation_failed');
      await refused(h, () => h.call('POST', '/v1/webhook-endpoints', t.admin, { url: 'https://example.com/hook', event_types: ['approval.exploded'] }), 400, 'validation_failed');
    });

    it('a policy PUT over the body limit is 413 and keeps the old version', async () => {
      const big = { ...POLICY, description: 'x'.repeat(1_900), rules: [...POLICY.rules, { name: 'pad', description: 'y'.repeat(1_900), decision: 'allow' }] };
      await refused(h, () => h.call('PUT', '/v1/policy', t.admin, big), 413, 'payload_too_large');
      expect((await h.call('GET', '/v1/policy', t.admin)).body.version).toBe(1);
    });
  });
});

describe('with HOLDPOINT_WEBHOOK_ALLOW_PRIVATE=false', () => {
  let h: Harness;
  let t: TenantKeys;

  beforeAll(async () => {
    h = await createHarness({ env: { HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: 'false' } });
    t = await h.tenant();
    await h.setPolicy(t, POLICY);
  });

  afterAll(async () => {
    await h.close();
  });

  for (const url of ['http://127.0.0.1:9/cb', 'http://localhost:8080/cb', 'http://10.1.2.3/cb', 'http://[::1]/cb', 'http://169.254.169.254/latest/meta-data']) {
    it(`a callback_url of ${url} is refused with 400 and nothing is parked`, async () => {
      const r = await refused(
        h,
        () => h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', idempotency_key: key(), callback_url: url }),
        400,
        'validation_failed',
      );
      expect(r.body.error.message).toMatch(/callback_url/);
    });
  }

  it('a webhook endpoint on a private address is refused with 400', async () => {
    await refused(h, () => h.call('POST', '/v1/webhook-endpoints', t.admin, { url: 'http://192.168.1.10/hook' }), 400, 'validation_failed');
  });

  it('a public callback_url is still accepted', async () => {
    const r = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', idempotency_key: key(), callback_url: 'https://hooks.example.com/cb' });
    expect(r.status).toBe(202);
    expect(r.body.approval.callback_url).toBe('https://hooks.example.com/cb');
  });
});
