// Slack approvals end to end against a fake Slack Web API (the one external
// service we fake), with interaction requests signed exactly as Slack signs them.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { blockActionPayload, slackInteractionRequest, slackSignature, startFakeSlack, viewSubmissionPayload, type FakeSlack } from '../helpers/fake-slack.ts';
import { startReceiver, waitFor } from '../helpers/receiver.ts';
import { createWorkerConnection } from '../../src/queue/connection.ts';
import { startWorkers } from '../../workers/main.ts';
import { createApp } from '../../src/api/app.ts';
import { createLogger } from '../../src/log.ts';

const SECRET = 'test-signing-secret';
let h: Harness;
let t: TenantKeys;
let slack: FakeSlack;
let recv: Awaited<ReturnType<typeof startReceiver>>;
let n = 0;

const POLICY = {
  defaults: { decision: 'require_approval', slack_channel: '#approvals', min_timeout_seconds: 1 },
  slack_users: { UALICE: 'alice', UBOB: 'bob', UGINA: 'gina-old' },
  rules: [
    { name: 'franks', match: { action: 'frank.*' }, decision: 'require_approval', approval: { approvers: { identities: ['frank'] } } },
    { name: 'frank-and-gina', match: { action: 'pair.*' }, decision: 'require_approval', approval: { required_approvals: 2, approvers: { identities: ['frank', 'gina'] } } },
    { name: 'two', match: { action: 'wire.*' }, decision: 'require_approval', approval: { required_approvals: 2 } },
    { name: 'listed', match: { action: 'listed.*' }, decision: 'require_approval', approval: { approvers: { slack_user_ids: ['UALICE'] } } },
    { name: 'short', match: { action: 'short.*' }, decision: 'require_approval', approval: { timeout_seconds: 1 } },
    { name: 'nowhere', match: { action: 'nowhere.*' }, decision: 'require_approval', approval: { slack_channel: '#does-not-exist' } },
  ],
};

beforeAll(async () => {
  slack = await startFakeSlack({ token: 'xoxb-test' });
  h = await createHarness({
    workers: true,
    env: { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slack.url },
  });
  t = await h.tenant();
  recv = await startReceiver();
  await h.setPolicy(t, POLICY);
});

afterAll(async () => {
  await recv.close();
  await h.close();
  await slack.close();
});

beforeEach(() => {
  slack.setDown(false);
  for (const m of ['chat.postMessage', 'chat.update', 'views.open', 'chat.postEphemeral']) slack.respond(m, null);
});

async function park(action = 'payment.send', extra: Record<string, unknown> = {}) {
  const r = await h.call('POST', '/v1/guard', t.agent, { action, agent_id: 'bot-1', params: { amount: 5000 }, idempotency_key: `s-${++n}`, callback_url: recv.url('/cb'), ...extra });
  expect(r.status).toBe(202);
  return r.body.approval as { id: string; idempotency_key: string };
}

/** Where the worker stored the approval's message, once it has. */
async function storedTs(id: string): Promise<string> {
  return waitFor(async () => {
    const [row] = await h.rt.sql<{ slack_ts: string | null }[]>`SELECT slack_ts FROM approvals WHERE id = ${id}`;
    return row?.slack_ts ?? undefined;
  }, { what: `slack_ts of ${id}` });
}

/** The chat.postMessage that announced this approval (not a thread reply). */
async function posted(id: string) {
  return waitFor(() => slack.callsTo('chat.postMessage').find((c) => !c.args.thread_ts && JSON.stringify(c.args.blocks).includes(id)), { what: `post for ${id}` });
}

async function interact(payload: object, opts: { timestamp?: number; secret?: string; tamper?: boolean } = {}) {
  const req = slackInteractionRequest(opts.secret ?? SECRET, payload, opts.timestamp === undefined ? {} : { timestamp: opts.timestamp });
  const res = await h.app.request('/slack/interactions', { method: 'POST', headers: req.headers, body: opts.tamper ? `${req.body}x` : req.body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const click = (approvalId: string, actionId: 'holdpoint_approve' | 'holdpoint_reject', userId: string) =>
  interact(blockActionPayload({ approvalId, actionId, userId, channel: 'CAPPROVALS' }));

async function status(id: string) {
  return (await h.call('GET', `/v1/approvals/${id}`, t.agent)).body;
}

async function eventsOf(id: string): Promise<string[]> {
  return (await h.call('GET', `/v1/approvals/${id}/events`, t.agent)).body.events.map((e: { type: string }) => e.type);
}

function hasButtons(blocks: unknown): boolean {
  return JSON.stringify(blocks).includes('holdpoint_approve');
}

describe('posting', () => {
  it('posts the request to the routed channel with Approve and Reject buttons, once, and stores where', async () => {
    const a = await park();
    const post = await posted(a.id);
    expect(post.args.channel).toBe('#approvals');
    const actions = (post.args.blocks as { type: string; elements?: { action_id: string; style: string; value: string }[] }[]).find((b) => b.type === 'actions')!;
    expect(actions.elements!.map((e) => [e.action_id, e.style, e.value])).toEqual([
      ['holdpoint_approve', 'primary', a.id],
      ['holdpoint_reject', 'danger', a.id],
    ]);
    expect(await storedTs(a.id)).toMatch(/^\d+\.\d+$/);
    await h.workers!.reconcileNow({ rebuildAll: true });
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.callsTo('chat.postMessage').filter((c) => JSON.stringify(c.args.blocks).includes(a.id))).toHaveLength(1);
  });

  it('a 429 backs off the whole queue, across worker processes: posts for other approvals wait out Retry-After too', async () => {
    // A second set of workers on the same queues, as a second `holdpoint start --worker` would be.
    const conn = createWorkerConnection(h.config.REDIS_URL);
    const second = await startWorkers({ ...h.rt, connection: conn });
    let limitedAt = 0;
    slack.respond('chat.postMessage', () => {
      if (limitedAt) return undefined;
      limitedAt = Date.now();
      return { status: 429, headers: { 'retry-after': '1' } };
    });
    const first = await park();
    await waitFor(() => limitedAt || undefined, { what: 'the 429' });
    // Three more while the queue is backing off: idle worker slots must not take them.
    const others = [await park(), await park(), await park()];
    for (const o of [first, ...others]) await storedTs(o.id);
    const calls = slack.callsTo('chat.postMessage').filter((c) => [first, ...others].some((o) => JSON.stringify(c.args.blocks).includes(o.id)));
    expect(calls).toHaveLength(5); // the refused one, then one each
    for (const c of calls.slice(1)) expect(c.at - limitedAt).toBeGreaterThanOrEqual(900);
    await second.close(5_000);
    conn.disconnect();
  });

  it('a 429 backs off by Retry-After, then the post goes through once', async () => {
    let limited = false;
    slack.respond('chat.postMessage', () => {
      if (limited) return undefined;
      limited = true;
      return { status: 429, headers: { 'retry-after': '1' } };
    });
    const a = await park();
    await storedTs(a.id);
    const tries = slack.callsTo('chat.postMessage').filter((c) => JSON.stringify(c.args.blocks).includes(a.id));
    expect(tries).toHaveLength(2); // the refused one, then the one that went through
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(900);
  });

  it('with Slack down when the approval is created, the approval exists and is posted when Slack returns', async () => {
    slack.setDown(true);
    const a = await park();
    expect((await status(a.id)).status).toBe('pending');
    await new Promise((r) => setTimeout(r, 1_200));
    slack.setDown(false);
    await posted(a.id);
    await storedTs(a.id);
  });

  it('channel_not_found fails for good: recorded, visible through the API, and the approval still pending', async () => {
    slack.respond('chat.postMessage', (args) => (args.channel === '#does-not-exist' ? { body: { ok: false, error: 'channel_not_found' } } : undefined));
    const a = await park('nowhere.op');
    await waitFor(async () => (await eventsOf(a.id)).includes('slack_failed'), { what: 'slack_failed event' });
    const ev = (await h.call('GET', `/v1/approvals/${a.id}/events`, t.agent)).body.events.find((e: { type: string }) => e.type === 'slack_failed');
    expect(ev.data).toEqual({ error: 'channel_not_found' });
    expect((await status(a.id)).status).toBe('pending');
    const before = slack.callsTo('chat.postMessage').length;
    await h.workers!.reconcileNow({ rebuildAll: true });
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.callsTo('chat.postMessage').length).toBe(before);
  });
});

describe('deciding from Slack', () => {
  it('approve click: approved as the mapped identity, webhook delivered, message updated without buttons', async () => {
    const a = await park();
    const ts = await storedTs(a.id);
    const r = await click(a.id, 'holdpoint_approve', 'UALICE');
    expect(r.status).toBe(200);
    const s = await status(a.id);
    expect(s).toMatchObject({ status: 'approved', decided_by: 'alice', decision_channel: 'slack' });
    await waitFor(() => recv.received.some((x) => x.json.type === 'approval.approved' && x.json.data.id === a.id), { what: 'approved webhook' });
    const update = await waitFor(() => slack.callsTo('chat.update').find((c) => c.args.ts === ts && !hasButtons(c.args.blocks)));
    expect(JSON.stringify(update.args.blocks)).toContain('alice');
  });

  it('reject click opens the modal; its submission rejects with the reason', async () => {
    const a = await park();
    const ts = await storedTs(a.id);
    const r = await click(a.id, 'holdpoint_reject', 'UBOB');
    expect(r.status).toBe(200);
    const [open] = await slack.waitForCalls('views.open', 1);
    expect(open!.args.view).toMatchObject({ callback_id: 'holdpoint_reject', private_metadata: a.id });
    expect((await status(a.id)).status).toBe('pending');
    const sub = await interact(viewSubmissionPayload({ approvalId: a.id, userId: 'UBOB', reason: 'wrong account' }));
    expect(sub.status).toBe(200);
    expect(await status(a.id)).toMatchObject({ status: 'rejected', decided_by: 'bob', decision_reason: 'wrong account' });
    await waitFor(() => slack.callsTo('chat.update').some((c) => c.args.ts === ts && JSON.stringify(c.args.blocks).includes('wrong account') && !hasButtons(c.args.blocks)));
  });

  it('a reject submitted with no reason is fine', async () => {
    const a = await park();
    const sub = await interact(viewSubmissionPayload({ approvalId: a.id, userId: 'UBOB' }));
    expect(sub.status).toBe(200);
    expect(await status(a.id)).toMatchObject({ status: 'rejected', decision_reason: null });
  });

  it('a click from someone not listed gets an ephemeral refusal, changes nothing, and is recorded', async () => {
    const a = await park('listed.op');
    const r = await click(a.id, 'holdpoint_approve', 'UMALLORY');
    expect(r.status).toBe(200);
    const eph = await waitFor(() => slack.callsTo('chat.postEphemeral').find((c) => c.args.user === 'UMALLORY'));
    expect(eph.args.text).toMatch(/not an approver/);
    expect((await status(a.id)).status).toBe('pending');
    expect(await eventsOf(a.id)).toContain('slack_refused');
    const ok = await click(a.id, 'holdpoint_approve', 'UALICE');
    expect(ok.status).toBe(200);
    expect((await status(a.id)).status).toBe('approved');
  });

  it('a second click on a decided request changes nothing and says who decided', async () => {
    const a = await park();
    await click(a.id, 'holdpoint_approve', 'UALICE');
    await click(a.id, 'holdpoint_reject', 'UBOB');
    const eph = await waitFor(() => slack.callsTo('chat.postEphemeral').find((c) => c.args.user === 'UBOB' && /already approved by alice/.test(c.args.text)));
    expect(eph).toBeTruthy();
    expect((await status(a.id)).status).toBe('approved');
  });

  it('a click after expiry changes nothing and says it expired', async () => {
    const a = await park('short.op');
    await waitFor(async () => (await status(a.id)).status === 'expired', { timeout: 8_000 });
    await click(a.id, 'holdpoint_approve', 'UALICE');
    await waitFor(() => slack.callsTo('chat.postEphemeral').some((c) => c.args.user === 'UALICE' && /expired/.test(c.args.text)));
    expect((await status(a.id)).status).toBe('expired');
  });

  it('a click counts as the approver whose record has that Slack user, so an identities route accepts it', async () => {
    expect((await h.call('POST', '/v1/approvers', t.admin, { name: 'frank', slack_user_id: 'UFRANK', key: false })).status).toBe(201);
    const a = await park('frank.op');
    await click(a.id, 'holdpoint_approve', 'UFRANK');
    expect(await status(a.id)).toMatchObject({ status: 'approved', decided_by: 'frank', decision_channel: 'slack' });
  });

  it('a Slack user mapped to no approver cannot satisfy an identities route, and the refusal is recorded', async () => {
    const a = await park('frank.op');
    await click(a.id, 'holdpoint_approve', 'UNOBODY');
    await waitFor(() => slack.callsTo('chat.postEphemeral').some((c) => c.args.user === 'UNOBODY' && /not an approver/.test(c.args.text)));
    expect(await status(a.id)).toMatchObject({ status: 'pending', votes: [] });
    expect(await eventsOf(a.id)).toContain('slack_refused');
  });

  it('the approver record wins over the policy slack_users map, so a quorum means the same people in Slack and the API', async () => {
    await h.call('POST', '/v1/approvers', t.admin, { name: 'frank', slack_user_id: 'UFRANK', key: false });
    const gina = await h.call('POST', '/v1/approvers', t.admin, { name: 'gina', slack_user_id: 'UGINA' });
    const a = await park('pair.op');
    // gina votes through the API with her key, then clicks in Slack: one person, one vote.
    await h.call('POST', `/v1/approvals/${a.id}/decision`, gina.body.api_key, { decision: 'approve' });
    await click(a.id, 'holdpoint_approve', 'UGINA');
    expect(await status(a.id)).toMatchObject({ status: 'pending', votes: [expect.objectContaining({ approver: 'gina' })] });
    await click(a.id, 'holdpoint_approve', 'UFRANK');
    const done = await status(a.id);
    expect(done.status).toBe('approved');
    expect(done.votes.map((v: { approver: string }) => v.approver).sort()).toEqual(['frank', 'gina']);
  });

  it('a quorum of two: the first click is a vote the message shows, the second decides', async () => {
    const a = await park('wire.transfer');
    const ts = await storedTs(a.id);
    await click(a.id, 'holdpoint_approve', 'UALICE');
    expect((await status(a.id)).status).toBe('pending');
    await waitFor(() => slack.callsTo('chat.update').some((c) => c.args.ts === ts && JSON.stringify(c.args.blocks).includes('1 of 2') && hasButtons(c.args.blocks)));
    await click(a.id, 'holdpoint_approve', 'UALICE');
    expect((await status(a.id)).status).toBe('pending');
    await click(a.id, 'holdpoint_approve', 'UBOB');
    expect((await status(a.id)).status).toBe('approved');
  });

  it('the post-action result goes into the message thread', async () => {
    const a = await park();
    const post = await posted(a.id);
    const ts = await storedTs(a.id);
    await click(a.id, 'holdpoint_approve', 'UALICE');
    const c = await h.call('POST', `/v1/approvals/${a.id}/claim`, t.agent, {});
    await h.call('POST', `/v1/approvals/${a.id}/complete`, t.agent, { claim_token: c.body.claim_token, result: { payment_id: 'pay_77' } });
    const reply = await waitFor(() => slack.callsTo('chat.postMessage').find((x) => x.args.thread_ts === ts));
    expect(JSON.stringify(reply.args)).toContain('pay_77');
    expect(post.args.thread_ts).toBeUndefined();
  });
});

describe('request verification and bad payloads', () => {
  const now = () => Math.floor(Date.now() / 1000);

  it('refuses a tampered body, a stale or future timestamp, and a missing signature', async () => {
    const a = await park();
    const payload = blockActionPayload({ approvalId: a.id, actionId: 'holdpoint_approve', userId: 'UALICE' });
    expect((await interact(payload, { tamper: true })).status).toBe(401);
    expect((await interact(payload, { timestamp: now() - 301 })).status).toBe(401);
    expect((await interact(payload, { timestamp: now() + 301 })).status).toBe(401);
    expect((await interact(payload, { secret: 'other' })).status).toBe(401);
    const req = slackInteractionRequest(SECRET, payload);
    const res = await h.app.request('/slack/interactions', { method: 'POST', headers: { 'content-type': req.headers['content-type']! }, body: req.body });
    expect(res.status).toBe(401);
    expect((await status(a.id)).status).toBe('pending');
  });

  /** A correctly signed request with any body and content type. */
  function signedRaw(body: string, contentType = 'application/x-www-form-urlencoded') {
    const ts = now();
    return h.app.request('/slack/interactions', {
      method: 'POST',
      headers: { 'content-type': contentType, 'x-slack-request-timestamp': String(ts), 'x-slack-signature': slackSignature(SECRET, ts, body) },
      body,
    });
  }

  it('a body that is not form-encoded, not JSON, an unknown action or an unknown approval is a clean 4xx', async () => {
    const a = await park();
    const notForm = await signedRaw(JSON.stringify({ payload: {} }), 'application/json');
    expect(notForm.status).toBe(415);
    const notJson = await signedRaw('payload=%7Bnot-json');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('malformed_json');
    const noPayload = await signedRaw('foo=bar');
    expect(noPayload.status).toBe(400);
    const unknownAction = await interact({ ...blockActionPayload({ approvalId: a.id, actionId: 'holdpoint_approve', userId: 'UALICE' }), actions: [{ action_id: 'launch_missiles', value: a.id }] });
    expect(unknownAction.status).toBe(400);
    expect(unknownAction.body.error.code).toBe('validation_failed');
    const unknownApproval = await click(crypto.randomUUID(), 'holdpoint_approve', 'UALICE');
    expect(unknownApproval.status).toBe(404);
    const notUuid = await click('not-an-id', 'holdpoint_approve', 'UALICE');
    expect(notUuid.status).toBe(400);
    expect((await status(a.id)).status).toBe('pending');
    expect(await eventsOf(a.id)).toEqual(['requested']);
  });
});

describe('replays and foreign workspaces', () => {
  /** Sends exactly these bytes and headers (a captured request, sent again). */
  async function send(req: { body: string; headers: Record<string, string> }, app: { request: typeof h.app.request } = h.app) {
    const res = await app.request('/slack/interactions', { method: 'POST', headers: req.headers, body: req.body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  it('a signed request sent again inside the 5-minute window is refused (409 request_replayed) and acted on once', async () => {
    const a = await park('wire.replayed');
    const req = slackInteractionRequest(SECRET, blockActionPayload({ approvalId: a.id, actionId: 'holdpoint_approve', userId: 'UALICE', channel: 'CAPPROVALS' }));
    expect((await send(req)).status).toBe(200);
    const again = await send(req);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('request_replayed');
    // A fresh click by someone else (new bytes, new signature) still counts: the quorum of two is met.
    expect((await click(a.id, 'holdpoint_approve', 'UBOB')).status).toBe(200);
    const s = await status(a.id);
    expect(s.status).toBe('approved');
    expect(s.votes.map((v: { approver: string }) => v.approver).sort()).toEqual(['alice', 'bob']);
  });

  it('a replayed reject modal submission is refused too', async () => {
    const a = await park();
    const req = slackInteractionRequest(SECRET, viewSubmissionPayload({ approvalId: a.id, userId: 'UALICE', reason: 'no' }));
    expect((await send(req)).status).toBe(200);
    expect((await send(req)).status).toBe(409);
    expect((await status(a.id)).status).toBe('rejected');
  });

  describe('with SLACK_TEAM_ID set', () => {
    let app: ReturnType<typeof createApp>;
    beforeAll(() => {
      app = createApp({ ...h.rt, config: { ...h.rt.config, SLACK_TEAM_ID: 'T1' } });
    });

    it('a correctly signed click from another workspace is refused with 403 and changes nothing', async () => {
      const a = await park();
      const payload = { ...blockActionPayload({ approvalId: a.id, actionId: 'holdpoint_approve', userId: 'UALICE' }), team: { id: 'T2OTHER', domain: 'elsewhere' } };
      const r = await send(slackInteractionRequest(SECRET, payload), app);
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('forbidden');
      expect(r.body.error.details.team_id).toBe('T2OTHER');
      const noTeam = await send(slackInteractionRequest(SECRET, { ...payload, team: null, user: { id: 'UALICE' } }), app);
      expect(noTeam.status).toBe(403);
      expect(noTeam.body.error.details.team_id).toBe(null);
      const sub = await send(slackInteractionRequest(SECRET, { ...viewSubmissionPayload({ approvalId: a.id, userId: 'UALICE' }), team: { id: 'T2OTHER' } }), app);
      expect(sub.status).toBe(403);
      expect((await status(a.id)).status).toBe('pending');
      expect(await eventsOf(a.id)).toEqual(['requested']);
    });

    it('the configured workspace is accepted, including an org-wide install that names it only on the user', async () => {
      const a = await park();
      const payload = { ...blockActionPayload({ approvalId: a.id, actionId: 'holdpoint_approve', userId: 'UALICE' }) } as Record<string, unknown>;
      const r = await send(slackInteractionRequest(SECRET, { ...payload, team: null, user: { ...(payload.user as object), team_id: 'T1' } }), app);
      expect(r.status).toBe(200);
      expect((await status(a.id)).status).toBe('approved');
    });
  });

  it('with SLACK_TEAM_ID unset, building the app says once that any workspace with the signing secret is accepted', () => {
    const lines: string[] = [];
    createApp({ ...h.rt, log: createLogger('info', {}, (l) => lines.push(l)) });
    const warned = lines.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => /SLACK_TEAM_ID/.test(l.msg));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.level).toBe('warn');
    const quiet: string[] = [];
    createApp({ ...h.rt, config: { ...h.rt.config, SLACK_TEAM_ID: 'T1' }, log: createLogger('info', {}, (l) => quiet.push(l)) });
    expect(quiet.filter((l) => /SLACK_TEAM_ID/.test(l))).toEqual([]);
  });
});
