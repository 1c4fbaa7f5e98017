// MODIFY is honoured: when the policy redacts sensitive values, the action runs
// on the server's redacted params, never on the caller's originals — through
// check, guard, withGuard, guarded and the framework wrappers. Against the real
// app with a sensitive_data guard (on_finding: redact, the default).
import { tool } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { guardTools, Holdpoint, runToolCall, type Approval, type HoldpointOptions, type Permit } from '../../src/sdk/index.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { waitFor } from '../helpers/receiver.ts';

let h: Harness;
let t: TenantKeys;
let base: string;
let n = 0;
const key = (what: string) => `mod-${what}-${++n}`;

const CARD = '4111 1111 1111 1111';
const POLICY = {
  defaults: { decision: 'allow' },
  rules: [{ name: 'big-payments', match: { action: ['payment.*', 'send_payment'], when: { 'params.amount': { gt: 1000 } } }, decision: 'require_approval' }],
  guards: { sensitive_data: {} },
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

const parked = (k: string) =>
  waitFor(async () => {
    const r = await h.call('GET', `/v1/approvals/by-key/${k}`, t.agent);
    return r.status === 200 ? (r.body as Approval) : undefined;
  }, { what: `approval ${k}` });

const approve = async (k: string) => {
  const a = await parked(k);
  const r = await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
  expect(r.status).toBe(200);
  return a;
};

const reportOf = async (k: string) =>
  (await h.rt.sql<{ decision: string; report_status: string | null; report_result: unknown }[]>`
    SELECT decision, report_status, report_result FROM decisions WHERE tenant_id = ${t.tenant_id} AND idempotency_key = ${k}`)[0];

describe('check', () => {
  it('says modified and returns the redacted params and paths, and a redacted call is not `allowed` (so an allow-gate does not act on the originals)', async () => {
    const d = await client().check('notes.save', { params: { note: 'mail jane@example.com today', n: 1 } });
    expect(d).toMatchObject({
      decision: 'modify',
      modified: true,
      allowed: false,
      denied: false,
      requiresApproval: false,
      params: { note: 'mail [REDACTED:email] today', n: 1 },
      redactedPaths: ['params.note'],
      failedOpen: false,
    });
    const plain = await client().check('notes.save', { params: { note: 'nothing to hide' } });
    expect(plain).toMatchObject({ decision: 'allow', allowed: true, modified: false, redactedPaths: [], params: { note: 'nothing to hide' } });
  });
});

describe('guard and withGuard', () => {
  it('an allowed call with a secret in it gives a Permit carrying the redacted params, not the caller’s', async () => {
    const permit = await client().guard('crm.update', { idempotencyKey: key('allow'), params: { contact: { email: 'jane@example.com' }, api_key: 'sk_live_123' } });
    expect(permit).toMatchObject({
      modified: true,
      params: { contact: { email: '[REDACTED:email]' }, api_key: '[REDACTED:field]' },
      redactedPaths: expect.arrayContaining(['params.contact.email', 'params.api_key']),
    });
    expect(JSON.stringify(permit)).not.toContain('jane@example.com');
    await permit.complete();
  });

  it('withGuard hands fn the redacted params', async () => {
    const seen: unknown[] = [];
    await client().withGuard('chat.send', { idempotencyKey: key('with'), params: { text: `card ${CARD}` } }, (p) => seen.push(p.params));
    expect(seen).toEqual([{ text: 'card [REDACTED:credit_card]' }]);
  });

  it('approved by a human, the Permit carries the params the human saw', async () => {
    const k = key('approved');
    const running = client().guard('payment.send', { idempotencyKey: k, params: { amount: 5000, memo: `card ${CARD}` }, wait: 30_000 });
    const a = await approve(k);
    expect(a.params).toEqual({ amount: 5000, memo: 'card [REDACTED:credit_card]' });
    const permit = (await running) as Permit;
    expect(permit).toMatchObject({ modified: true, params: a.params, redactedPaths: ['params.memo'] });
    await permit.complete();
  });

  it('a replayed guard (a retry after a lost response) gets the redacted params again, never the originals', async () => {
    const k = key('replay');
    const opts = { idempotencyKey: k, params: { note: 'mail jane@example.com' } };
    const first = await client().guard('notes.save', opts);
    expect(first.params).toEqual({ note: 'mail [REDACTED:email]' });
    // The server keeps what it granted on the decision (granted_params) and answers it on every replay.
    const again = await client().guard('notes.save', opts);
    expect(again.params).toEqual({ note: 'mail [REDACTED:email]' });
    expect(again.redactedPaths).toEqual(['params.note']);
    const wire = await h.call('POST', '/v1/guard', t.agent, { action: 'notes.save', params: opts.params, idempotency_key: k });
    expect(wire.body).toMatchObject({ status: 'allowed', params: { note: 'mail [REDACTED:email]' } });
  });
});

describe('guarded', () => {
  it('a single-object call: fn gets the redacted object', async () => {
    const seen: unknown[] = [];
    const send = client().guarded('chat.send', (msg: { to: string; text: string }) => (seen.push(msg), 'sent'), { idempotencyKey: () => key('g-obj') });
    expect(await send({ to: 'bob', text: `card ${CARD}` })).toBe('sent');
    expect(seen).toEqual([{ to: 'bob', text: 'card [REDACTED:credit_card]' }]);
  });

  it('positional arguments: fn gets the redacted arguments in place', async () => {
    const seen: unknown[] = [];
    const send = client().guarded('chat.send', (to: string, text: string) => (seen.push([to, text]), 'sent'), { idempotencyKey: () => key('g-args') });
    await send('bob', 'reach me at jane@example.com');
    expect(seen).toEqual([['bob', 'reach me at [REDACTED:email]']]);
  });

  it('approved by a human, fn runs on the params the human saw', async () => {
    const seen: unknown[] = [];
    const k = key('g-approved');
    const pay = client().guarded('payment.send', (p: { amount: number; memo: string }) => (seen.push(p), 'paid'), { idempotencyKey: () => k, wait: 30_000 });
    const running = pay({ amount: 5000, memo: `card ${CARD}` });
    await approve(k);
    expect(await running).toBe('paid');
    expect(seen).toEqual([{ amount: 5000, memo: 'card [REDACTED:credit_card]' }]);
  });

  it('a custom params mapping without fromParams refuses to run fn on the originals, and reports the action failed', async () => {
    const k = key('g-custom');
    let runs = 0;
    const send = client().guarded('chat.send', (to: string, text: string) => (runs++, `${to}:${text}`), {
      idempotencyKey: () => k,
      params: (to, text) => ({ to, text }),
    });
    await expect(send('bob', `card ${CARD}`)).rejects.toMatchObject({ name: 'HoldpointError', code: 'params_modified', details: { redactedPaths: ['params.text'] } });
    expect(runs).toBe(0);
    expect(await reportOf(k)).toMatchObject({ decision: 'modify', report_status: 'failed' });
  });

  it('a custom params mapping with fromParams runs fn on the redacted arguments', async () => {
    const seen: unknown[] = [];
    const send = client().guarded('chat.send', (to: string, text: string) => (seen.push([to, text]), 'sent'), {
      idempotencyKey: () => key('g-from'),
      params: (to, text) => ({ to, text }),
      fromParams: (p) => [p.to as string, p.text as string],
    });
    await send('bob', `card ${CARD}`);
    expect(seen).toEqual([['bob', 'card [REDACTED:credit_card]']]);
  });

  it('nothing redacted: fn gets its original arguments, untouched', async () => {
    const at = new Date();
    const seen: unknown[] = [];
    const send = client().guarded('chat.send', (msg: { at: Date }) => seen.push(msg), { idempotencyKey: () => key('g-plain') });
    const msg = { at };
    await send(msg);
    expect(seen[0]).toBe(msg);
  });
});

describe('framework wrappers', () => {
  it('OpenAI runToolCall gives the impl the redacted arguments', async () => {
    const id = key('oa');
    const seen: unknown[] = [];
    const msg = await runToolCall(client(), { id, type: 'function', function: { name: 'send_email', arguments: JSON.stringify({ to: 'bob', body: `card ${CARD}` }) } }, (args) => (seen.push(args), 'ok'));
    expect(msg.content).toBe('ok');
    expect(seen).toEqual([{ to: 'bob', body: 'card [REDACTED:credit_card]' }]);
  });

  it('OpenAI runToolCall approved by a human gives the impl the params the human saw', async () => {
    const id = key('oa-approved');
    const seen: unknown[] = [];
    const running = runToolCall(client(), { id, type: 'function', function: { name: 'send_payment', arguments: JSON.stringify({ amount: 5000, memo: `card ${CARD}` }) } }, (args) => (seen.push(args), 'ok'), { wait: 30_000 });
    await approve(id);
    expect((await running).content).toBe('ok');
    expect(seen).toEqual([{ amount: 5000, memo: 'card [REDACTED:credit_card]' }]);
  });

  it('Vercel AI guardTools gives the original execute the redacted input', async () => {
    const seen: unknown[] = [];
    const tools = guardTools(client(), {
      sendEmail: tool({
        description: 'Send an email',
        inputSchema: z.object({ to: z.string(), body: z.string() }),
        execute: async (input: { to: string; body: string }) => (seen.push(input), 'sent'),
      }),
    });
    expect(await tools.sendEmail.execute!({ to: 'bob', body: `card ${CARD}` }, { toolCallId: key('ai'), messages: [] })).toBe('sent');
    expect(seen).toEqual([{ to: 'bob', body: 'card [REDACTED:credit_card]' }]);
  });

  it('Vercel AI guardTools with a non-object input gives execute the redacted value', async () => {
    const seen: unknown[] = [];
    const tools = guardTools(client(), { shout: { execute: async (input: string, _options: unknown) => (seen.push(input), 'ok') } });
    await tools.shout.execute(`card ${CARD}`, { toolCallId: key('ai-str') });
    expect(seen).toEqual(['card [REDACTED:credit_card]']);
  });
});
