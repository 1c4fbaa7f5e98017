// The framework wrappers against the real app served on a loopback port: the
// OpenAI tool-call helpers and the Vercel AI SDK tool-set wrapper, built with
// the real `ai` package's `tool()` (no model is ever called).
import { jsonSchema, tool, type ToolSet } from 'ai';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { guardToolCall, guardTools, Holdpoint, runToolCall, type Approval, type BlockedToolCall, type OpenAIToolCall } from '../../src/sdk/index.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { waitFor } from '../helpers/receiver.ts';

let h: Harness;
let t: TenantKeys;
let hp: Holdpoint;
let n = 0;
const callId = (what: string) => `call_${what}_${++n}`;

const POLICY = {
  defaults: { decision: 'allow' },
  rules: [
    { name: 'no-drops', match: { action: ['drop_table', 'db.drop'] }, decision: 'deny', reason: 'Dropping tables is never allowed' },
    { name: 'big-payments', match: { action: ['send_payment', 'sendPayment', 'payment.send'], when: { 'params.amount': { gt: 1000 } } }, decision: 'require_approval' },
    { name: 'emails', match: { action: ['send_email', 'sendEmail'] }, decision: 'require_approval' },
  ],
};

beforeAll(async () => {
  h = await createHarness({ workers: true });
  t = await h.tenant();
  await h.setPolicy(t, POLICY);
  const base = await h.listen();
  hp = new Holdpoint({ baseUrl: base, apiKey: t.agent, agentId: 'tool-bot', retryDelayMs: 20 });
});

afterAll(async () => {
  await h.close();
});

const openaiCall = (id: string, name: string, args: unknown): OpenAIToolCall => ({
  id,
  type: 'function',
  function: { name, arguments: typeof args === 'string' ? args : JSON.stringify(args) },
});

/** Resolves once the approval for `key` exists (the wrapper has parked it and is waiting). */
const parked = (key: string) =>
  waitFor(async () => {
    const r = await h.call('GET', `/v1/approvals/by-key/${key}`, t.agent);
    return r.status === 200 ? (r.body as Approval) : undefined;
  }, { what: `approval ${key}` });

const decide = async (key: string, decision: 'approve' | 'reject', approver = 'alice', reason?: string) => {
  const a = await parked(key);
  const r = await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, approver), { decision, ...(reason ? { reason } : {}) });
  expect(r.status).toBe(200);
  return r.body as Approval;
};

const approvalsFor = async (key: string) =>
  (await h.rt.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM approvals WHERE tenant_id = ${t.tenant_id} AND idempotency_key = ${key}`)[0]!.n;

describe('OpenAI tool calls', () => {
  it('an allowed call gives a Permit and the parsed arguments, guarded under the tool call id', async () => {
    const id = callId('allow');
    const r = await guardToolCall(hp, openaiCall(id, 'send_payment', { to: 'acct_1', amount: 20 }));
    expect(r).toMatchObject({ status: 'allowed', toolCallId: id, action: 'send_payment', args: { to: 'acct_1', amount: 20 } });
    if (r.status !== 'allowed') throw new Error('unreachable');
    await r.permit.complete({ payment_id: 'pay_1' });
    const [row] = await h.rt.sql<{ action: string; agent_id: string; report_status: string }[]>`
      SELECT action, agent_id, report_status FROM decisions WHERE tenant_id = ${t.tenant_id} AND idempotency_key = ${id}`;
    expect(row).toEqual({ action: 'send_payment', agent_id: 'tool-bot', report_status: 'completed' });
  });

  it('a denied call answers a message with the policy reason, and opts.action maps the tool name', async () => {
    const r = await guardToolCall(hp, openaiCall(callId('deny'), 'drop', { table: 'users' }), { action: () => 'db.drop' });
    expect(r).toMatchObject({ status: 'denied', action: 'db.drop' });
    expect(r.status !== 'allowed' && r.message).toBe('The action drop was denied by policy: Dropping tables is never allowed. It was not performed; do not retry it.');
  });

  it('a parked call without wait answers pending with the approval id, and the model is told to try later', async () => {
    const id = callId('pending');
    const r = await guardToolCall(hp, openaiCall(id, 'send_payment', { to: 'acct_2', amount: 5000 }));
    const a = await parked(id);
    expect(r).toMatchObject({ status: 'pending', toolCallId: id });
    expect(r.status !== 'allowed' && r.message).toBe(`The action send_payment is waiting for human approval (approval id ${a.id}); it has not been performed yet. Try again later.`);
    expect(a).toMatchObject({ action: 'send_payment', agent_id: 'tool-bot', params: { to: 'acct_2', amount: 5000 } });
  });

  it('approved while waiting, runToolCall runs the impl once and the tool message carries its result', async () => {
    const id = callId('approve');
    const seen: unknown[] = [];
    const running = runToolCall(
      hp,
      openaiCall(id, 'send_payment', { to: 'acct_3', amount: 5000 }),
      (args: { to: string; amount: number }, permit) => {
        seen.push({ args, approver: permit.approver });
        return { payment_id: 'pay_3', amount: args.amount };
      },
      { wait: 20_000 },
    );
    await decide(id, 'approve', 'alice');
    expect(await running).toEqual({ role: 'tool', tool_call_id: id, content: '{"payment_id":"pay_3","amount":5000}' });
    expect(seen).toEqual([{ args: { to: 'acct_3', amount: 5000 }, approver: 'alice' }]);
    const a = (await h.call('GET', `/v1/approvals/by-key/${id}`, t.agent)).body as Approval;
    expect(a).toMatchObject({ status: 'completed', result: { payment_id: 'pay_3', amount: 5000 } });
  });

  it('a rejection is a message naming the rejecter and the reason, and the impl never runs', async () => {
    const id = callId('reject');
    let ran = 0;
    const running = runToolCall(hp, openaiCall(id, 'send_email', { to: 'ceo@example.com' }), () => ran++, { wait: 20_000 });
    await decide(id, 'reject', 'alice', 'wrong recipient');
    const msg = await running;
    expect(msg).toEqual({ role: 'tool', tool_call_id: id, content: 'The action send_email was rejected by alice: wrong recipient. It was not performed.' });
    expect(ran).toBe(0);
  });

  it('the same tool call id twice is one approval and one run; the replay is told it already ran', async () => {
    const id = callId('twice');
    const call = openaiCall(id, 'send_payment', { to: 'acct_4', amount: 9000 });
    let ran = 0;
    const impl = () => ({ run: ++ran });
    const first = runToolCall(hp, call, impl, { wait: 20_000 });
    await decide(id, 'approve');
    expect((await first).content).toBe('{"run":1}');

    const again = await guardToolCall(hp, call, { wait: 20_000 });
    expect(again.status).toBe('claimed');
    const replay = await runToolCall(hp, call, impl, { wait: 20_000 });
    expect(replay.content).toMatch(/^The action send_payment has already been performed for this tool call \(approval [0-9a-f-]{36} is completed\); it was not run again\.$/);
    expect(ran).toBe(1);
    expect(await approvalsFor(id)).toBe(1);
  });

  it('arguments that are not a JSON object are an error result the model can fix, and nothing is asked', async () => {
    const id = callId('badjson');
    const r = await guardToolCall(hp, openaiCall(id, 'send_payment', '{"amount": 5000,'));
    expect(r).toMatchObject({ status: 'error', toolCallId: id, error: expect.objectContaining({ code: 'invalid_tool_arguments' }) });
    expect(r.status !== 'allowed' && r.message).toMatch(/^The arguments for send_payment are not valid JSON \(.+\)\. Nothing was done; call send_payment again/);
    const arr = await runToolCall(hp, openaiCall(callId('array'), 'send_payment', '[1,2]'), () => 'ran');
    expect(arr.content).toMatch(/must be a JSON object/);
    expect((await h.call('GET', `/v1/approvals/by-key/${id}`, t.agent)).status).toBe(404);
    const [row] = await h.rt.sql`SELECT 1 FROM decisions WHERE tenant_id = ${t.tenant_id} AND idempotency_key = ${id}`;
    expect(row).toBeUndefined();
  });

  it('an impl that throws is reported as failed and its error re-thrown', async () => {
    const id = callId('boom');
    const running = runToolCall(hp, openaiCall(id, 'send_payment', { amount: 2000 }), () => {
      throw new Error('bank down');
    }, { wait: 20_000 });
    await decide(id, 'approve');
    await expect(running).rejects.toThrow('bank down');
    const a = (await h.call('GET', `/v1/approvals/by-key/${id}`, t.agent)).body as Approval;
    expect(a).toMatchObject({ status: 'failed', error: { name: 'Error', message: 'bank down' } });
  });
});

describe('Vercel AI SDK tools', () => {
  const executed: unknown[] = [];
  const makeTools = () => ({
    sendPayment: tool({
      description: 'Send a payment',
      inputSchema: z.object({ to: z.string(), amount: z.number() }),
      execute: async ({ to, amount }: { to: string; amount: number }) => {
        executed.push({ to, amount });
        return { payment_id: `pay_${to}`, amount };
      },
    }),
    sendEmail: tool({
      description: 'Send an email',
      inputSchema: jsonSchema<{ to: string }>({ type: 'object', properties: { to: { type: 'string' } }, required: ['to'] }),
      execute: async ({ to }: { to: string }) => {
        executed.push({ email: to });
        return `sent to ${to}`;
      },
    }),
    // A client-side tool: no execute, nothing to guard.
    askUser: tool({ description: 'Ask the user', inputSchema: z.object({ question: z.string() }) }),
  });
  const opts = { messages: [] };

  it('keeps the keys, the descriptions, the schemas and the type of the tool set', () => {
    const tools = makeTools();
    const wrapped = guardTools(hp, tools);
    expectTypeOf(wrapped).toEqualTypeOf<typeof tools>();
    const asToolSet: ToolSet = wrapped;
    expect(Object.keys(asToolSet)).toEqual(['sendPayment', 'sendEmail', 'askUser']);
    expect(wrapped.sendPayment.description).toBe('Send a payment');
    expect(wrapped.sendEmail.inputSchema).toBe(tools.sendEmail.inputSchema);
    expect(wrapped.sendPayment.execute).not.toBe(tools.sendPayment.execute);
    expect(wrapped.askUser).toBe(tools.askUser);
  });

  it('an allowed call runs the original execute and reports it completed', async () => {
    const wrapped = guardTools(hp, makeTools(), { action: (name) => (name === 'sendPayment' ? 'payment.send' : name) });
    const id = callId('ai_allow');
    executed.length = 0;
    const out = await wrapped.sendPayment.execute!({ to: 'acct_5', amount: 20 }, { ...opts, toolCallId: id });
    expect(out).toEqual({ payment_id: 'pay_acct_5', amount: 20 });
    expect(executed).toEqual([{ to: 'acct_5', amount: 20 }]);
    const [row] = await h.rt.sql<{ action: string; report_status: string; report_result: unknown }[]>`
      SELECT action, report_status, report_result FROM decisions WHERE tenant_id = ${t.tenant_id} AND idempotency_key = ${id}`;
    expect(row).toEqual({ action: 'payment.send', report_status: 'completed', report_result: { payment_id: 'pay_acct_5', amount: 20 } });
  });

  it('approved while waiting, the original runs once under the toolCallId and the approval completes with its result', async () => {
    const wrapped = guardTools(hp, makeTools(), { wait: 20_000 });
    const id = callId('ai_approve');
    executed.length = 0;
    const running = wrapped.sendEmail.execute!({ to: 'bob@example.com' }, { ...opts, toolCallId: id });
    await decide(id, 'approve', 'carol');
    expect(await running).toBe('sent to bob@example.com');
    expect(executed).toEqual([{ email: 'bob@example.com' }]);
    expect((await h.call('GET', `/v1/approvals/by-key/${id}`, t.agent)).body).toMatchObject({ action: 'sendEmail', status: 'completed', result: 'sent to bob@example.com' });
  });

  it('a rejected call returns the blocked message and the original execute never runs', async () => {
    const wrapped = guardTools(hp, makeTools(), { wait: 20_000 });
    const id = callId('ai_reject');
    executed.length = 0;
    const running = wrapped.sendEmail.execute!({ to: 'all@example.com' }, { ...opts, toolCallId: id });
    await decide(id, 'reject', 'alice', 'not to the whole company');
    expect(await running).toBe('The action sendEmail was rejected by alice: not to the whole company. It was not performed.');
    expect(executed).toEqual([]);
  });

  it('onBlocked chooses what the model sees for a denied or pending call', async () => {
    const seen: BlockedToolCall[] = [];
    const wrapped = guardTools(hp, makeTools(), {
      action: (name) => (name === 'sendPayment' ? 'payment.send' : 'db.drop'),
      onBlocked: (b) => (seen.push(b), { blocked: b.status }),
    });
    executed.length = 0;
    expect(await wrapped.sendEmail.execute!({ to: 'x@example.com' }, { ...opts, toolCallId: callId('ai_deny') })).toEqual({ blocked: 'denied' });
    const id = callId('ai_pending');
    expect(await wrapped.sendPayment.execute!({ to: 'acct_6', amount: 7000 }, { ...opts, toolCallId: id })).toEqual({ blocked: 'pending' });
    expect(executed).toEqual([]);
    expect(seen.map((b) => [b.status, b.toolName, b.action])).toEqual([
      ['denied', 'sendEmail', 'db.drop'],
      ['pending', 'sendPayment', 'payment.send'],
    ]);
    expect(seen[1]).toMatchObject({ toolCallId: id, idempotencyKey: id, error: expect.objectContaining({ name: 'ApprovalPending' }) });
  });

  it('without a toolCallId the key is a hash of the tool name and input, so the same call is one approval', async () => {
    const wrapped = guardTools(hp, makeTools());
    const input = { to: 'acct_hash', amount: 4321 };
    expect(await wrapped.sendPayment.execute!(input, opts as never)).toMatch(/waiting for human approval/);
    expect(await wrapped.sendPayment.execute!({ amount: 4321, to: 'acct_hash' }, opts as never)).toMatch(/waiting for human approval/);
    const rows = await h.rt.sql<{ idempotency_key: string }[]>`
      SELECT idempotency_key FROM approvals WHERE tenant_id = ${t.tenant_id} AND params->>'to' = 'acct_hash'`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.idempotency_key).toMatch(/^tool-sendPayment-[0-9a-f]{32}$/);
  });

  it('a streaming (async generator) tool stays streaming and reports its last output', async () => {
    const tools = {
      progress: tool({
        description: 'Reports progress',
        inputSchema: z.object({ steps: z.number() }),
        async *execute({ steps }: { steps: number }) {
          for (let i = 1; i <= steps; i++) yield { done: i, of: steps };
        },
      }),
    };
    const wrapped = guardTools(hp, tools);
    const id = callId('ai_stream');
    const out = wrapped.progress.execute!({ steps: 3 }, { ...opts, toolCallId: id });
    const seen: unknown[] = [];
    for await (const o of out as AsyncIterable<unknown>) seen.push(o);
    expect(seen).toEqual([{ done: 1, of: 3 }, { done: 2, of: 3 }, { done: 3, of: 3 }]);
    const [row] = await h.rt.sql<{ report_result: unknown }[]>`SELECT report_result FROM decisions WHERE tenant_id = ${t.tenant_id} AND idempotency_key = ${id}`;
    expect(row).toEqual({ report_result: { done: 3, of: 3 } });
  });
});
