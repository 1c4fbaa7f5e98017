// The SDK against the real app served on a loopback port: every call goes over
// HTTP to the real routes, services, Postgres and workers. Nothing is mocked.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActionClaimed,
  ActionDenied,
  ActionRejected,
  ActionTimeout,
  ApprovalPending,
  AuthError,
  ConnectionError,
  Holdpoint,
  HoldpointError,
  type Approval,
  type HoldpointOptions,
  type Permit,
} from '../../src/sdk/index.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { freePort } from '../helpers/processes.ts';
import { waitFor } from '../helpers/receiver.ts';

let h: Harness;
let t: TenantKeys;
let base: string;
let n = 0;
const key = (what: string) => `sdk-${what}-${++n}`;

const POLICY = {
  defaults: { decision: 'allow', min_timeout_seconds: 1 },
  rules: [
    { name: 'never-drop', match: { action: 'database.drop*' }, decision: 'deny', reason: 'Dropping databases is never allowed' },
    { name: 'big-payments', match: { action: 'payment.*', when: { 'params.amount': { gt: 1000 } } }, decision: 'require_approval', reason: 'Payments over 1000 need a human' },
    // The route's own short deadline: an agent may not shorten an on_timeout: approve one.
    { name: 'auto-approve', match: { action: 'report.publish' }, decision: 'require_approval', approval: { on_timeout: 'approve', timeout_seconds: 1, min_timeout_seconds: 1 } },
  ],
};

beforeAll(async () => {
  h = await createHarness({ workers: true });
  t = await h.tenant();
  await h.setPolicy(t, POLICY);
  base = await h.listen();
});

afterAll(async () => {
  await h.close();
});

const client = (o: HoldpointOptions = {}) => new Holdpoint({ baseUrl: base, apiKey: t.agent, retryDelayMs: 20, ...o });

const decide = async (id: string, decision: 'approve' | 'reject', approver = 'alice', reason?: string) => {
  const r = await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, approver), { decision, ...(reason ? { reason } : {}) });
  expect(r.status).toBe(200);
  return r.body as Approval;
};

/** Resolves once the approval for `k` exists (the SDK has parked it and is waiting). */
const parked = (k: string) =>
  waitFor(async () => {
    const r = await h.call('GET', `/v1/approvals/by-key/${k}`, t.agent);
    return r.status === 200 ? (r.body as Approval) : undefined;
  }, { what: `approval ${k}` });

async function outcome<T>(p: Promise<T>): Promise<T | unknown> {
  try {
    return await p;
  } catch (err) {
    return err;
  }
}

describe('configuration', () => {
  it('without a base URL or a key, the constructor says which is missing', () => {
    const saved = { url: process.env.HOLDPOINT_URL, key: process.env.HOLDPOINT_API_KEY };
    delete process.env.HOLDPOINT_URL;
    delete process.env.HOLDPOINT_API_KEY;
    try {
      expect(() => new Holdpoint()).toThrow(expect.objectContaining({ code: 'config_missing' }));
      expect(() => new Holdpoint({ baseUrl: base })).toThrow(/apiKey/);
    } finally {
      if (saved.url !== undefined) process.env.HOLDPOINT_URL = saved.url;
      if (saved.key !== undefined) process.env.HOLDPOINT_API_KEY = saved.key;
    }
  });

  it('falls back to HOLDPOINT_URL and HOLDPOINT_API_KEY', async () => {
    process.env.HOLDPOINT_URL = base;
    process.env.HOLDPOINT_API_KEY = t.agent;
    try {
      const d = await new Holdpoint().check('email.send');
      expect(d.allowed).toBe(true);
    } finally {
      delete process.env.HOLDPOINT_URL;
      delete process.env.HOLDPOINT_API_KEY;
    }
  });
});

describe('check', () => {
  it('answers allow, deny and require_approval with the reasons and the recorded decision', async () => {
    const hp = client();
    const allow = await hp.check('email.send', { params: { to: 'a@example.com' }, costUsd: 0.02 });
    expect(allow).toMatchObject({ allowed: true, denied: false, requiresApproval: false, decision: 'allow', failedOpen: false, params: { to: 'a@example.com' } });
    expect(allow.policyVersion).toBeGreaterThan(0);

    const deny = await hp.check('database.drop', { agentId: 'ops-bot' });
    expect(deny).toMatchObject({ denied: true, allowed: false, decision: 'deny', matchedRules: ['never-drop'] });
    expect(deny.reasons[0]).toMatchObject({ rule: 'never-drop', message: 'Dropping databases is never allowed' });

    const ask = await hp.check('payment.send', { params: { amount: 5000 } });
    expect(ask).toMatchObject({ requiresApproval: true, decision: 'require_approval' });

    const [row] = await h.rt.sql<{ kind: string; decision: string; agent_id: string }[]>`SELECT kind, decision, agent_id FROM decisions WHERE id = ${deny.decisionId}`;
    expect(row).toEqual({ kind: 'check', decision: 'deny', agent_id: 'ops-bot' });
  });
});

describe('guard', () => {
  it('an allowed action gives a Permit without an approval, and complete() reports on the decision', async () => {
    const permit = await client({ agentId: 'billing-bot' }).guard('payment.send', { idempotencyKey: key('allow'), params: { amount: 20 } });
    expect(permit).toMatchObject({ approvalId: null, approver: null, claimToken: null, failedOpen: false, params: { amount: 20 } });
    await permit.complete({ payment_id: 'pay_1' });
    const [row] = await h.rt.sql<{ report_status: string; report_result: unknown; agent_id: string }[]>`
      SELECT report_status, report_result, agent_id FROM decisions WHERE id = ${permit.decisionId}`;
    expect(row).toEqual({ report_status: 'completed', report_result: { payment_id: 'pay_1' }, agent_id: 'billing-bot' });
    await expect(permit.fail(new Error('late'))).rejects.toMatchObject({ code: 'already_reported' });
  });

  it('without an idempotency key it refuses before calling the server', async () => {
    let calls = 0;
    const hp = client({ fetch: (i, init) => (calls++, fetch(i, init)) });
    await expect(hp.guard('payment.send', { params: {} } as never)).rejects.toMatchObject({ code: 'idempotency_key_missing' });
    expect(calls).toBe(0);
  });

  it('a denied action throws ActionDenied with the policy reasons', async () => {
    const err = await outcome(client().guard('database.drop', { idempotencyKey: key('deny') }));
    expect(err).toBeInstanceOf(ActionDenied);
    expect(err).toMatchObject({ code: 'denied', status: 200, reasons: [expect.objectContaining({ rule: 'never-drop' })] });
    expect((err as ActionDenied).decisionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a parked action without wait throws ApprovalPending with the id, key and deadline', async () => {
    const k = key('pending');
    const err = await outcome(client().guard('payment.send', { idempotencyKey: k, params: { amount: 5000 }, timeoutSeconds: 120 }));
    expect(err).toBeInstanceOf(ApprovalPending);
    const p = err as ApprovalPending;
    expect(p).toMatchObject({ code: 'approval_pending', status: 202, idempotencyKey: k });
    expect(p.expiresAt.getTime() - Date.now()).toBeGreaterThan(100_000);
    expect(p.approvalId).toBe((await parked(k)).id);
  });

  it('with wait, an approval from another process mid-wait resolves to a Permit holding the claim', async () => {
    const k = key('approve');
    const hp = client();
    const guarded = hp.guard('payment.send', { idempotencyKey: k, params: { amount: 5000, to: 'acct_42' }, wait: 30_000 });
    const a = await parked(k);
    await new Promise((r) => setTimeout(r, 200));
    await decide(a.id, 'approve', 'alice');
    const permit = (await guarded) as Permit;
    expect(permit).toMatchObject({ approvalId: a.id, approver: 'alice', params: { amount: 5000, to: 'acct_42' }, failedOpen: false });
    expect(permit.approvedAt).toBeInstanceOf(Date);
    expect(permit.claimToken).toMatch(/^[0-9a-f-]{36}$/);
    expect((await hp.getApproval(a.id)).status).toBe('executing');
    await permit.complete({ ok: true });
    expect(await hp.getApproval(a.id)).toMatchObject({ status: 'completed', result: { ok: true } });
  });

  it('with wait, a rejection throws ActionRejected with who and why', async () => {
    const k = key('reject');
    const guarded = outcome(client().guard('payment.send', { idempotencyKey: k, params: { amount: 9000 }, wait: true }));
    const a = await parked(k);
    await decide(a.id, 'reject', 'bob', 'not this vendor');
    const err = await guarded;
    expect(err).toBeInstanceOf(ActionRejected);
    expect(err).toMatchObject({ code: 'rejected', approvalId: a.id, rejectedBy: 'bob', reason: 'not this vendor' });
  });

  it('with wait and a short deadline nobody meets, it throws ActionTimeout', async () => {
    const started = Date.now();
    const err = await outcome(client().guard('payment.send', { idempotencyKey: key('timeout'), params: { amount: 2000 }, timeoutSeconds: 1, wait: true }));
    expect(err).toBeInstanceOf(ActionTimeout);
    expect(err).toMatchObject({ code: 'expired' });
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('a wait budget that runs out first throws ApprovalPending, and the approval stays parked', async () => {
    const k = key('budget');
    const started = Date.now();
    const err = await outcome(client().guard('payment.send', { idempotencyKey: k, params: { amount: 3000 }, wait: 700 }));
    expect(err).toBeInstanceOf(ApprovalPending);
    expect(Date.now() - started).toBeGreaterThanOrEqual(650);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((await parked(k)).status).toBe('pending');
  });

  it('an on_timeout: approve deadline is a Permit (decision_channel timeout)', async () => {
    const permit = await client().guard('report.publish', { idempotencyKey: key('auto'), wait: true });
    expect(permit.approval).toMatchObject({ status: 'executing', decision_channel: 'timeout' });
    await permit.complete();
  });

  it('two processes waiting on the same key: after the approval exactly one gets a Permit, the other ActionClaimed', async () => {
    const k = key('race');
    const opts = { idempotencyKey: k, params: { amount: 4000 }, wait: 30_000 };
    const both = Promise.all([outcome(client().guard('payment.send', opts)), outcome(client().guard('payment.send', opts))]);
    const a = await parked(k);
    await new Promise((r) => setTimeout(r, 200));
    await decide(a.id, 'approve');
    const results = await both;
    const permits = results.filter((r): r is Permit => !(r instanceof Error));
    const claimed = results.filter((r) => r instanceof ActionClaimed) as ActionClaimed[];
    expect(permits).toHaveLength(1);
    expect(claimed).toHaveLength(1);
    expect(claimed[0]).toMatchObject({ code: 'claim_conflict', status: 409, approvalId: a.id, approvalStatus: 'executing', ambiguous: false });
    await permits[0]!.complete();
    // A later retry with the same key, after it ran: still ActionClaimed, never a second Permit.
    const again = await outcome(client().guard('payment.send', opts));
    expect(again).toMatchObject({ name: 'ActionClaimed', approvalStatus: 'completed' });
  });

  it('a cancelled approval throws HoldpointError cancelled; cancel works by key', async () => {
    const k = key('cancel');
    const hp = client();
    await expect(hp.guard('payment.send', { idempotencyKey: k, params: { amount: 5000 } })).rejects.toBeInstanceOf(ApprovalPending);
    const c = await hp.cancel(k, 'order withdrawn');
    expect(c).toMatchObject({ status: 'cancelled', idempotency_key: k });
    await expect(hp.guard('payment.send', { idempotencyKey: k, params: { amount: 5000 } })).rejects.toMatchObject({ code: 'cancelled' });
    await expect(hp.cancel(c.id)).rejects.toMatchObject({ code: 'already_decided', status: 409 });
  });

  it('reusing a key for different params is the server’s 422, not retried', async () => {
    const k = key('reuse');
    const hp = client();
    await hp.guard('email.send', { idempotencyKey: k, params: { to: 'a' } });
    await expect(hp.guard('email.send', { idempotencyKey: k, params: { to: 'b' } })).rejects.toMatchObject({ code: 'idempotency_key_reused', status: 422, attempts: 1 });
  });
});

describe('waitForDecision', () => {
  it('returns the approval once decided, and throws ApprovalPending when its timeout passes first', async () => {
    const k = key('wfd');
    const hp = client();
    await expect(hp.guard('payment.send', { idempotencyKey: k, params: { amount: 5000 } })).rejects.toBeInstanceOf(ApprovalPending);
    await expect(hp.waitForDecision(k, { timeoutMs: 300 })).rejects.toBeInstanceOf(ApprovalPending);
    const waiting = hp.waitForDecision(k, { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 200));
    const a = await parked(k);
    await decide(a.id, 'reject', 'carol', 'no');
    expect(await waiting).toMatchObject({ id: a.id, status: 'rejected', decided_by: 'carol', decision_reason: 'no' });
  });
});

describe('withGuard and guarded', () => {
  it('withGuard runs fn once and reports completed with its result', async () => {
    const k = key('with');
    let runs = 0;
    const hp = client();
    const run = hp.withGuard('payment.send', { idempotencyKey: k, params: { amount: 5000 }, wait: 30_000 }, async (permit) => {
      runs++;
      return { paid: permit.params.amount };
    });
    const a = await parked(k);
    await decide(a.id, 'approve');
    expect(await run).toEqual({ paid: 5000 });
    expect(runs).toBe(1);
    expect(await hp.getApproval(a.id)).toMatchObject({ status: 'completed', result: { paid: 5000 } });
  });

  it('withGuard reports failed with {name, message} when fn throws, and re-throws fn’s error', async () => {
    const k = key('withfail');
    const boom = new TypeError('card declined');
    const err = await outcome(
      client().withGuard('email.send', { idempotencyKey: k }, () => {
        throw boom;
      }),
    );
    expect(err).toBe(boom);
    const [row] = await h.rt.sql<{ report_status: string; report_result: unknown }[]>`
      SELECT report_status, report_result FROM decisions WHERE idempotency_key = ${k}`;
    expect(row).toEqual({ report_status: 'failed', report_result: { name: 'TypeError', message: 'card declined' } });
  });

  it('withGuard does not run fn when the guard says no', async () => {
    let runs = 0;
    await expect(client().withGuard('database.drop', { idempotencyKey: key('nofn') }, () => runs++)).rejects.toBeInstanceOf(ActionDenied);
    expect(runs).toBe(0);
  });

  it('guarded() wraps a function: the key comes from its arguments and it runs once per approval', async () => {
    const hp = client();
    let runs = 0;
    const pay = hp.guarded('payment.send', async (to: string, amount: number) => (runs++, `paid ${amount} to ${to}`), {
      idempotencyKey: (to, amount) => `sdk-guarded-${to}-${amount}`,
      params: (to, amount) => ({ to, amount }),
      wait: 30_000,
    });
    expect(await pay('acct_1', 10)).toBe('paid 10 to acct_1');
    const big = pay('acct_2', 2500);
    const a = await parked('sdk-guarded-acct_2-2500');
    expect(a.params).toEqual({ to: 'acct_2', amount: 2500 });
    await decide(a.id, 'approve');
    expect(await big).toBe('paid 2500 to acct_2');
    expect(runs).toBe(2);
    // The same call again is the same key: the approval already ran, so fn does not.
    await expect(pay('acct_2', 2500)).rejects.toBeInstanceOf(ActionClaimed);
    expect(runs).toBe(2);
  });
});

/** A loopback proxy in front of the real server that answers the first `failures` requests itself. */
async function proxy(failures: number, status = 503, body = 'upstream unavailable', contentType = 'text/plain') {
  let count = 0;
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      count++;
      if (count <= failures) {
        res.writeHead(status, { 'content-type': contentType }).end(body);
        return;
      }
      const headers: Record<string, string> = {};
      for (const h of ['authorization', 'content-type']) if (req.headers[h]) headers[h] = req.headers[h] as string;
      const up = await fetch(`${base}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await up.arrayBuffer()));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    count: () => count,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

describe('transport', () => {
  it('retries 5xx with backoff and succeeds when the server recovers', async () => {
    const p = await proxy(2);
    try {
      const permit = await client({ baseUrl: p.url, retries: 3 }).guard('email.send', { idempotencyKey: key('retry') });
      expect(permit.decisionId).toBeTruthy();
      expect(p.count()).toBe(3);
    } finally {
      await p.close();
    }
  });

  it('gives up after `retries` with a ConnectionError carrying the last status', async () => {
    const p = await proxy(100, 503, JSON.stringify({ error: { code: 'dependency_unavailable', message: 'postgres is unavailable' } }), 'application/json');
    try {
      const err = await outcome(client({ baseUrl: p.url, retries: 2 }).check('email.send'));
      expect(err).toBeInstanceOf(ConnectionError);
      expect(err).toMatchObject({ status: 503, code: 'dependency_unavailable', attempts: 3 });
      expect(p.count()).toBe(3);
    } finally {
      await p.close();
    }
  });

  it('never retries a 4xx', async () => {
    const p = await proxy(100, 429);
    try {
      await expect(client({ baseUrl: p.url, retries: 3 }).check('email.send')).rejects.toMatchObject({ status: 429, attempts: 1 });
      expect(p.count()).toBe(1);
    } finally {
      await p.close();
    }
    const real = await proxy(0);
    try {
      const hp = client({ baseUrl: real.url, retries: 3 });
      await expect(hp.getApproval('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ code: 'not_found', status: 404 });
      expect(real.count()).toBe(1);
    } finally {
      await real.close();
    }
  });

  it('a bad key is an AuthError (401), a key of the wrong role an AuthError (403)', async () => {
    const err = await outcome(client({ apiKey: 'hp_nope' }).check('email.send'));
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized' });
    await expect(client({ apiKey: t.approver }).guard('email.send', { idempotencyKey: key('role') })).rejects.toMatchObject({
      name: 'AuthError',
      status: 403,
      code: 'forbidden',
    });
  });

  it('fails closed by default when nobody listens, and fails open (saying so) when asked', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const closed = client({ baseUrl: dead, retries: 1 });
    await expect(closed.check('email.send')).rejects.toMatchObject({ name: 'ConnectionError', code: 'connection_failed', attempts: 2 });
    await expect(closed.guard('email.send', { idempotencyKey: key('closed') })).rejects.toBeInstanceOf(ConnectionError);

    const open = client({ baseUrl: dead, retries: 1, failOpen: true });
    const d = await open.check('payment.send', { params: { amount: 5000 } });
    expect(d).toMatchObject({ allowed: true, failedOpen: true, decisionId: null, reasons: [expect.objectContaining({ source: 'sdk' })] });
    const permit = await open.guard('payment.send', { idempotencyKey: key('open'), params: { amount: 5000 } });
    expect(permit).toMatchObject({ failedOpen: true, approvalId: null, decisionId: null, params: { amount: 5000 } });
    await permit.complete('done'); // a no-op: nothing to report to
    // failOpen is about reachability only: a reachable server that says no still says no.
    await expect(client({ failOpen: true }).guard('database.drop', { idempotencyKey: key('open-deny') })).rejects.toBeInstanceOf(ActionDenied);
  });

  it('a request that outlives timeoutMs is a ConnectionError timeout', async () => {
    const hang = http.createServer(() => {});
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    try {
      const hp = client({ baseUrl: `http://127.0.0.1:${(hang.address() as AddressInfo).port}`, timeoutMs: 150, retries: 1 });
      await expect(hp.check('email.send')).rejects.toMatchObject({ name: 'ConnectionError', code: 'timeout', attempts: 2 });
    } finally {
      hang.closeAllConnections();
      await new Promise<void>((r) => hang.close(() => r()));
    }
  });

  it('errors carry the server’s code, message and details', async () => {
    const err = await outcome(client().guard('', { idempotencyKey: key('bad') }));
    expect(err).toBeInstanceOf(HoldpointError);
    expect(err).toMatchObject({ status: 400, code: 'validation_failed' });
    expect((err as HoldpointError).details).toMatchObject({ problems: expect.arrayContaining([expect.objectContaining({ path: 'action' })]) });
  });
});
