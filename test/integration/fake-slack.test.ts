// Proves the fake Slack Web API against the REAL @slack/web-api WebClient, so
// tests built on it exercise the same request format and error classes as
// production. Needs nothing but loopback.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ErrorCode,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
} from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  blockActionPayload,
  slackInteractionRequest,
  startFakeSlack,
  viewSubmissionPayload,
  type FakeSlack,
} from '../helpers/fake-slack.ts';

const TOKEN = 'xoxb-test-token';

function client(url: string, token = TOKEN) {
  return new WebClient(token, { slackApiUrl: url, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
}

async function caught(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

const blocks = [
  { type: 'section', block_id: 'holdpoint_summary', text: { type: 'mrkdwn', text: '*deploy* needs approval' } },
  {
    type: 'actions',
    block_id: 'holdpoint_actions',
    elements: [
      { type: 'button', action_id: 'holdpoint_approve', text: { type: 'plain_text', text: 'Approve' }, style: 'primary', value: 'apr_1' },
      { type: 'button', action_id: 'holdpoint_reject', text: { type: 'plain_text', text: 'Reject' }, style: 'danger', value: 'apr_1' },
    ],
  },
];

describe('fake Slack Web API, driven by the real WebClient', () => {
  let fake: FakeSlack;
  let slack: WebClient;

  beforeEach(async () => {
    fake = await startFakeSlack({ token: TOKEN });
    slack = client(fake.url);
  });
  afterEach(async () => {
    await fake.close();
  });

  it('url is a slackApiUrl on loopback ending in /api/', () => {
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
  });

  it('chat.postMessage: records method, bearer token and parsed args; returns ok, channel id and increasing ts', async () => {
    const r1 = await slack.chat.postMessage({ channel: '#approvals', text: 'deploy needs approval', blocks, unfurl_links: false });
    const r2 = await slack.chat.postMessage({ channel: '#approvals', text: 'second', blocks });
    const r3 = await slack.chat.postMessage({ channel: 'C0123456789', text: 'by id' });

    expect(r1.ok).toBe(true);
    expect(r1.channel).toMatch(/^C[0-9A-F]+$/);
    expect(r2.channel).toBe(r1.channel); // stable per name
    expect(r3.channel).toBe('C0123456789'); // ids pass through
    expect(r1.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(Number(r2.ts)).toBeGreaterThan(Number(r1.ts));
    expect(r1.message?.text).toBe('deploy needs approval');
    expect(r1.message?.blocks).toEqual(blocks);

    const calls = fake.callsTo('chat.postMessage');
    expect(calls).toHaveLength(3);
    const c = calls[0]!;
    expect(c.token).toBe(TOKEN);
    expect(c.args.channel).toBe('#approvals');
    expect(c.args.text).toBe('deploy needs approval');
    expect(c.args.blocks).toEqual(blocks); // form field was a JSON string; the fake parses it
    expect(c.args.unfurl_links).toBe('false'); // scalars arrive as form strings
    expect(c.args).not.toHaveProperty('team_id'); // undefined args are omitted by WebClient
    expect(typeof c.at).toBe('number');
    expect(fake.calls.map((x) => x.method)).toEqual(['chat.postMessage', 'chat.postMessage', 'chat.postMessage']);
  });

  it('WebClient sends POST, form-encoded, with JSON-string object fields and a Bearer header', async () => {
    // Observe the raw wire format with a plain server (the fake parses it away).
    let seen: { method?: string; url?: string; headers?: http.IncomingHttpHeaders; body?: string } = {};
    const raw = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen = { method: req.method, url: req.url, headers: req.headers, body };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, channel: 'C1', ts: '1.2' }));
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    try {
      const port = (raw.address() as AddressInfo).port;
      await client(`http://127.0.0.1:${port}/api/`).chat.postMessage({ channel: 'C1', text: 'hi', blocks });
      expect(seen.method).toBe('POST');
      expect(seen.url).toBe('/api/chat.postMessage');
      expect(seen.headers?.authorization).toBe(`Bearer ${TOKEN}`);
      expect(seen.headers?.['content-type']).toBe('application/x-www-form-urlencoded');
      const form = new URLSearchParams(seen.body);
      expect(form.get('channel')).toBe('C1');
      expect(JSON.parse(form.get('blocks')!)).toEqual(blocks);
    } finally {
      raw.closeAllConnections();
      await new Promise<void>((r) => raw.close(() => r()));
    }
  });

  it('accepts application/json bodies too', async () => {
    const res = await fetch(fake.url + 'chat.postMessage', {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ channel: '#approvals', text: 'json', blocks }),
    });
    const body = (await res.json()) as any;
    expect(body.ok).toBe(true);
    expect(fake.calls[0]!.args.blocks).toEqual(blocks);
  });

  it('chat.update echoes channel/ts/text', async () => {
    const posted = await slack.chat.postMessage({ channel: '#approvals', text: 'pending', blocks });
    const updated = await slack.chat.update({ channel: posted.channel!, ts: posted.ts!, text: 'approved by <@U1>', blocks: [] });
    expect(updated).toMatchObject({ ok: true, channel: posted.channel, ts: posted.ts, text: 'approved by <@U1>' });
    const call = (await fake.waitForCalls('chat.update', 1))[0]!;
    expect(call.args).toMatchObject({ channel: posted.channel, ts: posted.ts, blocks: [] });
  });

  it('views.open returns the view with an id; chat.postEphemeral and auth.test answer', async () => {
    const view = {
      type: 'modal' as const,
      callback_id: 'holdpoint_reject',
      private_metadata: 'apr_1',
      title: { type: 'plain_text' as const, text: 'Reject' },
      submit: { type: 'plain_text' as const, text: 'Reject' },
      blocks: [
        { type: 'input' as const, block_id: 'reason', optional: true, label: { type: 'plain_text' as const, text: 'Reason' }, element: { type: 'plain_text_input' as const, action_id: 'reason' } },
      ],
    };
    const opened = await slack.views.open({ trigger_id: '123.456.abc', view });
    expect(opened.ok).toBe(true);
    expect(opened.view?.id).toMatch(/^V/);
    expect(opened.view).toMatchObject({ callback_id: 'holdpoint_reject', private_metadata: 'apr_1', type: 'modal' });
    expect(fake.callsTo('views.open')[0]!.args.view).toEqual(view);

    const eph = await slack.chat.postEphemeral({ channel: 'C0123456789', user: 'U1', text: 'not allowed' });
    expect(eph.ok).toBe(true);
    expect(eph.message_ts).toMatch(/^\d+\.\d+$/);

    const me = await slack.auth.test();
    expect(me).toMatchObject({ ok: true, user_id: 'UBOT', team_id: 'T1' });
  });

  it('unknown methods answer unknown_method', async () => {
    const err = await caught(slack.apiCall('nope.nothing', {}));
    expect(err).toBeInstanceOf(WebAPIPlatformError);
    expect(err.data.error).toBe('unknown_method');
  });

  it('429 + Retry-After: 2 → WebAPIRateLimitedError with retryAfter 2 (rejectRateLimitedCalls)', async () => {
    fake.respond('chat.postMessage', (_args, n) => (n === 1 ? { status: 429, headers: { 'Retry-After': '2' } } : undefined));
    const started = Date.now();
    const err = await caught(slack.chat.postMessage({ channel: '#approvals', text: 'x' }));
    expect(Date.now() - started).toBeLessThan(1500); // rejected at once, not slept on
    expect(err).toBeInstanceOf(WebAPIRateLimitedError);
    expect(err.code).toBe(ErrorCode.RateLimitedError);
    expect(err.code).toBe('slack_webapi_rate_limited_error');
    expect(err.retryAfter).toBe(2);
    expect(err.name).toBe('WebAPIRateLimitedError');
    // n counts per method: the 2nd call falls back to the default
    const ok = await slack.chat.postMessage({ channel: '#approvals', text: 'x' });
    expect(ok.ok).toBe(true);
    expect(fake.callsTo('chat.postMessage')).toHaveLength(2);
    fake.respond('chat.postMessage', null);
  });

  it('{ok:false,error:channel_not_found} → WebAPIPlatformError with data.error', async () => {
    fake.respond('chat.postMessage', () => ({ body: { ok: false, error: 'channel_not_found' } }));
    const err = await caught(slack.chat.postMessage({ channel: '#gone', text: 'x' }));
    expect(err).toBeInstanceOf(WebAPIPlatformError);
    expect(err.code).toBe(ErrorCode.PlatformError);
    expect(err.code).toBe('slack_webapi_platform_error');
    expect(err.data).toMatchObject({ ok: false, error: 'channel_not_found' }); // WebClient adds response_metadata: {}
    expect(err.message).toBe('An API error occurred: channel_not_found');
  });

  it('setDown(true) → 503 → WebAPIHTTPError (statusCode, body); call still recorded', async () => {
    fake.setDown(true);
    const err = await caught(slack.chat.postMessage({ channel: '#approvals', text: 'x' }));
    expect(err).toBeInstanceOf(WebAPIHTTPError);
    expect(err.code).toBe(ErrorCode.HTTPError);
    expect(err.code).toBe('slack_webapi_http_error');
    expect(err.statusCode).toBe(503);
    expect(err.body).toEqual({ ok: false, error: 'service_unavailable' });
    expect(fake.callsTo('chat.postMessage')).toHaveLength(1);
    fake.setDown(false);
    expect((await slack.chat.postMessage({ channel: '#approvals', text: 'x' })).ok).toBe(true);
  });

  it('connection refused → WebAPIRequestError with original', async () => {
    const tmp = http.createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    const port = (tmp.address() as AddressInfo).port;
    await new Promise<void>((r) => tmp.close(() => r()));
    const err = await caught(client(`http://127.0.0.1:${port}/api/`).chat.postMessage({ channel: 'C1', text: 'x' }));
    expect(err).toBeInstanceOf(WebAPIRequestError);
    expect(err.code).toBe(ErrorCode.RequestError);
    expect(err.code).toBe('slack_webapi_request_error');
    expect(err.original).toBeInstanceOf(Error); // fetch's TypeError('fetch failed'), cause ECONNREFUSED
    expect(String(err.original.cause?.code ?? err.original.cause?.message)).toMatch(/ECONNREFUSED/);
  });

  it('token check: wrong token → invalid_auth; right token passes', async () => {
    const err = await caught(client(fake.url, 'xoxb-wrong').chat.postMessage({ channel: '#approvals', text: 'x' }));
    expect(err).toBeInstanceOf(WebAPIPlatformError);
    expect(err.data.error).toBe('invalid_auth');
    expect(fake.calls.at(-1)!.token).toBe('xoxb-wrong');
    expect((await slack.auth.test()).ok).toBe(true);
  });

  it('waitForCalls resolves once enough calls arrived and times out otherwise', async () => {
    setTimeout(() => void slack.chat.postMessage({ channel: '#approvals', text: 'later' }), 50);
    const got = await fake.waitForCalls('chat.postMessage', 1, 2000);
    expect(got[0]!.args.text).toBe('later');
    await expect(fake.waitForCalls('chat.update', 1, 100)).rejects.toThrow(/timed out/);
  });
});

describe('signed interaction requests', () => {
  const SECRET = 'shhh-signing-secret';

  function verify(secret: string, headers: Record<string, string>, body: string): boolean {
    const ts = headers['x-slack-request-timestamp']!;
    const expected = 'v0=' + createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');
    const given = headers['x-slack-signature']!;
    return expected.length === given.length && timingSafeEqual(Buffer.from(expected), Buffer.from(given));
  }

  it('slackInteractionRequest signs exactly as documented', () => {
    const payload = blockActionPayload({ approvalId: 'apr_1', actionId: 'holdpoint_approve', userId: 'U123', channel: 'C9', messageTs: '1700000000.000100' });
    const { body, headers } = slackInteractionRequest(SECRET, payload, { timestamp: 1_700_000_123 });
    expect(headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(headers['x-slack-request-timestamp']).toBe('1700000123');
    expect(headers['x-slack-signature']).toMatch(/^v0=[0-9a-f]{64}$/);
    expect(verify(SECRET, headers, body)).toBe(true);
    expect(verify('other-secret', headers, body)).toBe(false);
    expect(verify(SECRET, headers, body + 'x')).toBe(false);
    // body is a form with one `payload` field holding the JSON
    expect(body.startsWith('payload=')).toBe(true);
    expect(JSON.parse(new URLSearchParams(body).get('payload')!)).toEqual(payload);
    // default timestamp is now, in seconds
    const now = slackInteractionRequest(SECRET, payload);
    expect(Math.abs(Number(now.headers['x-slack-request-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
    expect(verify(SECRET, now.headers, now.body)).toBe(true);
  });

  it('payload builders have Slack shapes', () => {
    const ba = blockActionPayload({ approvalId: 'apr_1', actionId: 'holdpoint_reject', userId: 'U123' }) as any;
    expect(ba).toMatchObject({
      type: 'block_actions',
      user: { id: 'U123', team_id: 'T1' },
      container: { type: 'message', is_ephemeral: false },
      team: { id: 'T1' },
      actions: [{ action_id: 'holdpoint_reject', block_id: 'holdpoint_actions', value: 'apr_1', type: 'button' }],
    });
    expect(ba.container.channel_id).toBe(ba.channel.id);
    expect(ba.container.message_ts).toBe(ba.message.ts);
    expect(typeof ba.trigger_id).toBe('string');
    expect(typeof ba.response_url).toBe('string');
    expect(typeof ba.user.username).toBe('string');

    const vs = viewSubmissionPayload({ approvalId: 'apr_1', userId: 'U123', reason: 'too risky' }) as any;
    expect(vs).toMatchObject({
      type: 'view_submission',
      user: { id: 'U123' },
      view: { type: 'modal', callback_id: 'holdpoint_reject', private_metadata: 'apr_1' },
    });
    expect(vs.view.state.values.reason.reason).toEqual({ type: 'plain_text_input', value: 'too risky' });
    const noReason = viewSubmissionPayload({ approvalId: 'apr_1', userId: 'U123' }) as any;
    expect(noReason.view.state.values.reason.reason.value).toBeNull();
  });
});
