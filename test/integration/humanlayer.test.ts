// The real `humanlayer` npm client (0.7.x), pointed at Holdpoint, works
// unchanged: approvals through the API and through Slack buttons, denials with
// comments, and free-text questions answered by a human.
import { serve, type ServerType } from '@hono/node-server';
import { HumanLayer } from 'humanlayer';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { blockActionPayload, slackInteractionRequest, startFakeSlack, type FakeSlack } from '../helpers/fake-slack.ts';
import { waitFor } from '../helpers/receiver.ts';

const SECRET = 'hl-signing-secret';
let h: Harness;
let t: TenantKeys;
let slack: FakeSlack;
let server: ServerType;
let apiBase: string;
let runs = 0;

beforeAll(async () => {
  slack = await startFakeSlack({ token: 'xoxb-hl' });
  h = await createHarness({ workers: true, env: { SLACK_BOT_TOKEN: 'xoxb-hl', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slack.url } });
  t = await h.tenant();
  await h.setPolicy(t, {
    defaults: { decision: 'allow', slack_channel: '#agents', agent_may_route_to: ['#refunds'] },
    slack_users: { UALICE: 'alice' },
    rules: [{ name: 'no-drops', match: { action: 'dropDatabase' }, decision: 'deny', reason: 'never' }],
  });
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
  });
  apiBase = `http://127.0.0.1:${port}/humanlayer/v1`;
  void (server.address() as AddressInfo);
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await h.close();
  await slack.close();
});

/** The client as an agent would build it, polling fast instead of every 3 s. */
function client() {
  return new HumanLayer({ apiKey: t.agent, apiBaseUrl: apiBase, runId: `run-${++runs}`, sleep: () => new Promise((r) => setTimeout(r, 20)) });
}

async function approvalFor(runId: string) {
  return waitFor(async () => {
    const [row] = await h.rt.sql<{ id: string; idempotency_key: string; status: string }[]>`
      SELECT id, idempotency_key, status FROM approvals WHERE agent_id = ${runId}`;
    return row;
  }, { what: `approval for ${runId}` });
}

describe('function calls', () => {
  it('requireApproval runs the wrapped function once a human approves through the API', async () => {
    const hl = client();
    let ran = 0;
    async function sendPayment(args: { to: string; amount: number }) {
      ran++;
      return `sent ${args.amount} to ${args.to}`;
    }
    const guarded = hl.requireApproval()(sendPayment);
    const result = guarded({ to: 'acct_1', amount: 40 });
    const a = await approvalFor(hl.runId);
    // The policy allows sendPayment, but a HumanLayer function call always asks a human.
    expect(a.status).toBe('pending');
    expect(ran).toBe(0);
    const d = await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    expect(d.status).toBe(200);
    expect(await result).toBe('sent 40 to acct_1');
    expect(ran).toBe(1);
    const approval = (await h.call('GET', `/v1/approvals/${a.id}`, t.agent)).body;
    expect(approval).toMatchObject({ action: 'sendPayment', params: { to: 'acct_1', amount: 40 }, agent_id: hl.runId });
  });

  it('requireApproval returns the denial text, with the comment, after a rejection', async () => {
    const hl = client();
    async function deleteUser(_args: { id: number }) {
      return 'deleted';
    }
    const result = hl.requireApproval()(deleteUser)({ id: 7 });
    const a = await approvalFor(hl.runId);
    await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'alice'), { decision: 'reject', reason: 'not this user' });
    expect(await result).toBe('User denied function deleteUser with comment: not this user');
  });

  it('a click on the Slack message approves a HumanLayer function call too', async () => {
    const hl = client();
    async function refund(args: { order: string }) {
      return `refunded ${args.order}`;
    }
    const result = hl.requireApproval({ slack: { channel_or_user_id: '#refunds' } })(refund)({ order: 'o-9' });
    const a = await approvalFor(hl.runId);
    const post = await waitFor(() => slack.callsTo('chat.postMessage').find((c) => JSON.stringify(c.args.blocks).includes(a.id)));
    expect(post.args.channel).toBe('#refunds');
    const req = slackInteractionRequest(SECRET, blockActionPayload({ approvalId: a.id, actionId: 'holdpoint_approve', userId: 'UALICE' }));
    const res = await h.app.request('/slack/interactions', { method: 'POST', headers: req.headers, body: req.body });
    expect(res.status).toBe(200);
    expect(await result).toBe('refunded o-9');
  });

  it('fetchHumanApproval returns what the human gave, and respond with a reject option records it', async () => {
    const hl = client();
    const pending = hl.fetchHumanApproval({ spec: { fn: 'wireTransfer', kwargs: { amount: 9000 }, reject_options: [{ name: 'too_big', title: 'Too big' }] } });
    const a = await approvalFor(hl.runId);
    const r = await h.call('POST', `/humanlayer/v1/agent/function_calls/${a.idempotency_key}/respond`, t.approver, {
      approved: false,
      comment: 'split it',
      reject_option_name: 'too_big',
    });
    expect(r.status).toBe(200);
    const status = await pending;
    expect(status).toMatchObject({ approved: false, comment: 'split it', reject_option_name: 'too_big' });
    expect(status.responded_at).toBeTruthy();
  });

  it('a function call the policy denies is answered at once, without asking anyone', async () => {
    const hl = client();
    const status = await hl.fetchHumanApproval({ spec: { fn: 'dropDatabase', kwargs: {} } });
    expect(status).toMatchObject({ approved: false, comment: 'never' });
    const [{ n }] = (await h.rt.sql`SELECT count(*)::int AS n FROM approvals WHERE agent_id = ${hl.runId}`) as unknown as [{ n: number }];
    expect(n).toBe(0);
  });

  it('an agent key cannot respond to its own function call', async () => {
    const hl = client();
    void hl.fetchHumanApproval({ spec: { fn: 'x', kwargs: {} } }).catch(() => undefined);
    const a = await approvalFor(hl.runId);
    const r = await h.call('POST', `/humanlayer/v1/agent/function_calls/${a.idempotency_key}/respond`, t.agent, { approved: true });
    expect(r.status).toBe(403);
    await h.call('POST', `/v1/approvals/${a.id}/cancel`, t.agent, {});
  });
});

describe('contact requests', () => {
  it('fetchHumanResponse returns the answer a human gave through the API', async () => {
    const hl = client();
    const answer = hl.fetchHumanResponse({ spec: { msg: 'Which account should I charge?' } });
    const q = await waitFor(async () => {
      const [row] = await h.rt.sql<{ call_id: string }[]>`SELECT call_id FROM contact_requests WHERE run_id = ${hl.runId}`;
      return row;
    });
    const r = await h.call('POST', `/humanlayer/v1/agent/human_contacts/${q.call_id}/respond`, t.approver, { response: 'the EUR one' });
    expect(r.status).toBe(200);
    expect(await answer).toBe('the EUR one');
    const again = await h.call('POST', `/humanlayer/v1/agent/human_contacts/${q.call_id}/respond`, t.approver, { response: 'no, USD' });
    expect(again.status).toBe(409);
  });

  it('a question goes to Slack and a typed answer in the modal answers it', async () => {
    const hl = client();
    const answer = hl.fetchHumanResponse({ spec: { msg: 'Ship today or tomorrow?', response_options: [{ name: 'today', title: 'Today' }] } });
    const row = await waitFor(async () => {
      const [r] = await h.rt.sql<{ id: string; slack_ts: string | null }[]>`SELECT id, slack_ts FROM contact_requests WHERE run_id = ${hl.runId}`;
      return r?.slack_ts ? r : undefined;
    });
    const post = slack.callsTo('chat.postMessage').find((c) => c.args.ts === undefined && JSON.stringify(c.args.blocks).includes(row.id));
    expect(JSON.stringify(post!.args.blocks)).toContain('holdpoint_answer');
    const open = slackInteractionRequest(SECRET, {
      ...blockActionPayload({ approvalId: row.id, actionId: 'holdpoint_approve', userId: 'UALICE' }),
      actions: [{ action_id: 'holdpoint_answer', block_id: 'holdpoint_question_actions', value: row.id, type: 'button' }],
    });
    expect((await h.app.request('/slack/interactions', { method: 'POST', headers: open.headers, body: open.body })).status).toBe(200);
    const [view] = await slack.waitForCalls('views.open', 1);
    expect(view!.args.view).toMatchObject({ callback_id: 'holdpoint_answer', private_metadata: row.id });
    const submit = slackInteractionRequest(SECRET, {
      type: 'view_submission',
      user: { id: 'UALICE' },
      view: { id: 'V1', callback_id: 'holdpoint_answer', private_metadata: row.id, state: { values: { answer: { answer: { type: 'plain_text_input', value: 'tomorrow, after QA' } } } } },
    });
    expect((await h.app.request('/slack/interactions', { method: 'POST', headers: submit.headers, body: submit.body })).status).toBe(200);
    expect(await answer).toBe('tomorrow, after QA');
    const [q] = await h.rt.sql<{ responded_by: string; response_channel: string }[]>`SELECT responded_by, response_channel FROM contact_requests WHERE id = ${row.id}`;
    expect(q).toEqual({ responded_by: 'alice', response_channel: 'slack' });
    await waitFor(() => slack.callsTo('chat.update').some((c) => JSON.stringify(c.args.blocks).includes('tomorrow, after QA')));
  });
});
