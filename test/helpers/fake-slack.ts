// A fake of Slack's Web API on loopback, spoken to over real HTTP by the real
// `@slack/web-api` WebClient (pass `slackApiUrl: fake.url`). It records every
// request and answers like Slack does: HTTP 200 with `{ ok: true, ... }` or
// `{ ok: false, error }`, HTTP 429 + Retry-After for rate limits, and 503 while
// "down". Also: helpers that build Slack-signed interaction requests (button
// clicks, modal submissions) for tests that POST to our own /slack/interactions.
//
// What WebClient (v8) sends: POST <slackApiUrl><method>, header
// `Authorization: Bearer <token>`, body `application/x-www-form-urlencoded`
// where every non-scalar argument (blocks, view, attachments, metadata) is a
// JSON-encoded string and scalars are stringified; undefined/null arguments are
// omitted. A per-call `token` argument is ALSO sent as a form field. JSON
// bodies (`application/json`) are accepted too.
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  method: string;
  args: Record<string, any>;
  token: string | null;
  at: number;
  /** What the fake answered: the HTTP status, and `ok` / `ts` from the body. */
  status?: number;
  ok?: boolean;
  ts?: string;
}

export interface SlackReply {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export type SlackResponder = (args: Record<string, any>, n: number) => SlackReply | undefined;

export interface FakeSlack {
  /** slackApiUrl, ends with '/', e.g. 'http://127.0.0.1:PORT/api/'. */
  url: string;
  /** Every request, in order (args parsed: JSON-looking form fields are parsed). */
  calls: SlackCall[];
  callsTo(method: string): SlackCall[];
  /**
   * Override the answer for a method; return undefined to fall back to the
   * default. `n` counts calls to that method, from 1 (including the current one
   * and any made while down). Pass null to remove the override.
   * A reply with a status but no body gets `{ok:false,error:'ratelimited'}` for
   * 429, `{ok:false,error:'internal_error'}` for other non-200s, and the
   * method's default body for 200.
   */
  respond(method: string, fn: SlackResponder | null): void;
  /** While down, every request is answered 503 (and the call is still recorded with method). */
  setDown(down: boolean): void;
  waitForCalls(method: string, count: number, timeoutMs?: number): Promise<SlackCall[]>;
  close(): Promise<void>;
}

const API_PREFIX = '/api/';

/** 'C' + 10 uppercase hex chars, stable for a given name. */
function fakeId(prefix: string, name: string): string {
  return prefix + createHash('sha256').update(name).digest('hex').slice(0, 10).toUpperCase();
}

/** Slack answers a channel name ('#approvals' / 'approvals') with its id, and a user id with a DM id. */
export function fakeChannelId(channel: unknown): string | undefined {
  if (typeof channel !== 'string' || channel === '') return undefined;
  if (/^[CGD][A-Z0-9]{6,}$/.test(channel)) return channel;
  if (/^[UW][A-Z0-9]{6,}$/.test(channel)) return fakeId('D', channel);
  return fakeId('C', channel.replace(/^#/, ''));
}

function maybeJson(v: string): unknown {
  const t = v.trimStart();
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v;
}

function parseArgs(raw: string, contentType: string, query: URLSearchParams): Record<string, any> {
  const args: Record<string, any> = {};
  for (const [k, v] of query) args[k] = maybeJson(v);
  if (raw === '') return args;
  if (contentType.includes('application/json')) {
    try {
      const parsed = JSON.parse(raw);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) Object.assign(args, parsed);
      else args._body = parsed;
    } catch {
      args._raw = raw;
    }
    return args;
  }
  if (contentType.includes('application/x-www-form-urlencoded') || contentType === '') {
    for (const [k, v] of new URLSearchParams(raw)) args[k] = maybeJson(v);
    return args;
  }
  args._raw = raw; // multipart etc.: not needed by Holdpoint, kept verbatim
  return args;
}

export async function startFakeSlack(opts: { token?: string } = {}): Promise<FakeSlack> {
  const calls: SlackCall[] = [];
  const overrides = new Map<string, SlackResponder>();
  let down = false;
  let tsCounter = 0;
  let idCounter = 0;

  const nextTs = () => {
    tsCounter += 1;
    const micros = tsCounter * 100;
    return `${1_700_000_000 + Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  };

  const defaults: Record<string, (args: Record<string, any>) => unknown> = {
    'auth.test': () => ({
      ok: true,
      url: 'https://holdpoint-test.slack.com/',
      team: 'Holdpoint Test',
      user: 'holdpoint',
      team_id: 'T1',
      user_id: 'UBOT',
      bot_id: 'BBOT',
    }),
    'chat.postMessage': (a) => {
      const channel = fakeChannelId(a.channel);
      if (!channel) return { ok: false, error: 'channel_not_found' };
      if (a.text === undefined && a.blocks === undefined && a.attachments === undefined) return { ok: false, error: 'no_text' };
      const ts = nextTs();
      return {
        ok: true,
        channel,
        ts,
        message: { type: 'message', user: 'UBOT', bot_id: 'BBOT', ts, text: a.text ?? '', blocks: a.blocks, ...(a.thread_ts ? { thread_ts: a.thread_ts } : {}) },
      };
    },
    'chat.update': (a) => {
      const channel = fakeChannelId(a.channel);
      if (!channel) return { ok: false, error: 'channel_not_found' };
      if (!a.ts) return { ok: false, error: 'message_not_found' };
      return { ok: true, channel, ts: String(a.ts), text: a.text ?? '', message: { type: 'message', user: 'UBOT', bot_id: 'BBOT', text: a.text ?? '', blocks: a.blocks } };
    },
    'chat.postEphemeral': (a) => {
      if (!fakeChannelId(a.channel)) return { ok: false, error: 'channel_not_found' };
      if (!a.user) return { ok: false, error: 'user_not_in_channel' };
      return { ok: true, message_ts: nextTs() };
    },
    'views.open': (a) => {
      if (!a.trigger_id || !a.view || typeof a.view !== 'object') return { ok: false, error: 'invalid_arguments' };
      idCounter += 1;
      return {
        ok: true,
        view: {
          id: `V${String(idCounter).padStart(9, '0')}`,
          team_id: 'T1',
          app_id: 'AHOLDPOINT',
          bot_id: 'BBOT',
          hash: `${1_700_000_000 + idCounter}.fakehash`,
          state: { values: {} },
          private_metadata: '',
          callback_id: '',
          ...a.view,
        },
      };
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = u.pathname.startsWith(API_PREFIX) ? decodeURIComponent(u.pathname.slice(API_PREFIX.length)) : u.pathname;
      const args = parseArgs(raw, String(req.headers['content-type'] ?? ''), u.searchParams);
      const auth = req.headers.authorization;
      const bearer = typeof auth === 'string' && /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, '') : null;
      const token = bearer ?? (typeof args.token === 'string' ? args.token : null);
      const call: SlackCall = { method, args, token, at: Date.now() };
      calls.push(call);
      const n = calls.filter((c) => c.method === method).length;

      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        call.status = status;
        if (body && typeof body === 'object') {
          const b = body as { ok?: boolean; ts?: string };
          call.ok = b.ok;
          if (typeof b.ts === 'string') call.ts = b.ts;
        }
        const hasCt = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
        res.writeHead(status, { ...(hasCt ? {} : { 'content-type': 'application/json; charset=utf-8' }), ...headers });
        res.end(text);
      };

      if (down) return send(503, { ok: false, error: 'service_unavailable' });
      if (!u.pathname.startsWith(API_PREFIX)) return send(404, { ok: false, error: 'not_found' });

      let reply: SlackReply | undefined;
      const fn = overrides.get(method);
      if (fn) {
        try {
          reply = fn(args, n);
        } catch (err) {
          return send(500, { ok: false, error: 'fake_responder_threw', detail: String(err) });
        }
      }
      const status = reply?.status ?? 200;
      if (reply && reply.body !== undefined) return send(status, reply.body, reply.headers);
      if (reply && status === 429) return send(status, { ok: false, error: 'ratelimited' }, reply.headers);
      if (reply && status !== 200) return send(status, { ok: false, error: 'internal_error' }, reply.headers);

      let body: unknown;
      if (opts.token !== undefined && token !== opts.token) body = { ok: false, error: token ? 'invalid_auth' : 'not_authed' };
      else body = defaults[method]?.(args) ?? { ok: false, error: 'unknown_method' };
      return send(status, body, reply?.headers);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  const callsTo = (method: string) => calls.filter((c) => c.method === method);

  return {
    url: `http://127.0.0.1:${port}${API_PREFIX}`,
    calls,
    callsTo,
    respond(method, fn) {
      if (fn) overrides.set(method, fn);
      else overrides.delete(method);
    },
    setDown(d) {
      down = d;
    },
    async waitForCalls(method, count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = callsTo(method);
        if (got.length >= count) return got;
        if (Date.now() > deadline) {
          const seen = calls.map((c) => c.method).join(', ') || 'none';
          throw new Error(`fake slack: timed out waiting for ${count} call(s) to ${method}; got ${got.length} (all calls: ${seen})`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // fetch keeps connections alive; don't hang on them
      }),
  };
}

// ---------------------------------------------------------------------------
// Inbound interactions (Slack -> us), signed as Slack signs them:
// https://docs.slack.dev/authentication/verifying-requests-from-slack
//   basestring = `v0:${timestamp}:${rawBody}`
//   x-slack-signature = 'v0=' + hex(HMAC-SHA256(signingSecret, basestring))
//   x-slack-request-timestamp = unix seconds
// Interaction bodies are form-encoded with a single `payload` field holding JSON.

export function slackSignature(signingSecret: string, timestamp: number | string, body: string): string {
  return 'v0=' + createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex');
}

export function slackInteractionRequest(
  signingSecret: string,
  payload: unknown,
  opts: { timestamp?: number } = {},
): { body: string; headers: Record<string, string> } {
  const ts = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const body = 'payload=' + encodeURIComponent(JSON.stringify(payload));
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': slackSignature(signingSecret, ts, body),
    },
  };
}

const TEAM = { id: 'T1', domain: 'holdpoint-test' };
const APP_ID = 'AHOLDPOINT';
// The deprecated verification token Slack still includes in payloads.
const VERIFICATION_TOKEN = 'fake-verification-token';

let triggerCounter = 0;
function triggerId(): string {
  triggerCounter += 1;
  return `${1_700_000_000 + triggerCounter}.1.fake${String(triggerCounter).padStart(6, '0')}`;
}

function userOf(userId: string) {
  const username = `user_${userId.toLowerCase()}`;
  return { id: userId, username, name: username, team_id: TEAM.id };
}

export function blockActionPayload(o: {
  approvalId: string;
  actionId: 'holdpoint_approve' | 'holdpoint_reject';
  userId: string;
  channel?: string;
  messageTs?: string;
}): object {
  const channel = o.channel ?? 'C0APPROVALS';
  const messageTs = o.messageTs ?? '1700000000.000100';
  const actionTs = `${Math.floor(Date.now() / 1000)}.${String(Date.now() % 1000).padStart(3, '0')}000`;
  return {
    type: 'block_actions',
    user: userOf(o.userId),
    api_app_id: APP_ID,
    token: VERIFICATION_TOKEN,
    container: { type: 'message', message_ts: messageTs, channel_id: channel, is_ephemeral: false },
    trigger_id: triggerId(),
    team: TEAM,
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channel, name: 'approvals' },
    message: {
      type: 'message',
      subtype: 'bot_message',
      bot_id: 'BBOT',
      user: 'UBOT',
      ts: messageTs,
      text: `Approval requested (${o.approvalId})`,
    },
    state: { values: {} },
    response_url: `https://hooks.slack.com/actions/T1/${Date.now()}/fakeresponseurl`,
    actions: [
      {
        action_id: o.actionId,
        block_id: 'holdpoint_actions',
        text: { type: 'plain_text', text: o.actionId === 'holdpoint_approve' ? 'Approve' : 'Reject', emoji: true },
        value: o.approvalId,
        style: o.actionId === 'holdpoint_approve' ? 'primary' : 'danger',
        type: 'button',
        action_ts: actionTs,
      },
    ],
  };
}

export function viewSubmissionPayload(o: { approvalId: string; userId: string; reason?: string }): object {
  return {
    type: 'view_submission',
    team: TEAM,
    user: userOf(o.userId),
    api_app_id: APP_ID,
    token: VERIFICATION_TOKEN,
    trigger_id: triggerId(),
    view: {
      id: 'V000000001',
      team_id: TEAM.id,
      type: 'modal',
      callback_id: 'holdpoint_reject',
      private_metadata: o.approvalId,
      title: { type: 'plain_text', text: 'Reject', emoji: true },
      submit: { type: 'plain_text', text: 'Reject', emoji: true },
      close: { type: 'plain_text', text: 'Cancel', emoji: true },
      blocks: [
        {
          type: 'input',
          block_id: 'reason',
          optional: true,
          label: { type: 'plain_text', text: 'Reason', emoji: true },
          element: { type: 'plain_text_input', action_id: 'reason', multiline: true },
        },
      ],
      state: { values: { reason: { reason: { type: 'plain_text_input', value: o.reason ?? null } } } },
      hash: '1700000000.fakehash',
      previous_view_id: null,
      root_view_id: 'V000000001',
      app_id: APP_ID,
      external_id: '',
      app_installed_team_id: TEAM.id,
      bot_id: 'BBOT',
      clear_on_close: false,
      notify_on_close: false,
    },
    response_urls: [],
    enterprise: null,
    is_enterprise_install: false,
  };
}
