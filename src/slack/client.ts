// The Slack Web API calls Holdpoint makes, and how their failures are classed.
// One Slack app per deployment; absent a token, Slack is off and nothing posts.
import { ErrorCode, WebClient, type WebAPICallError } from '@slack/web-api';
import type { Block } from './blocks.ts';

export interface SlackApi {
  postMessage(a: { channel: string; text: string; blocks: Block[]; thread_ts?: string }): Promise<{ channel: string; ts: string }>;
  update(a: { channel: string; ts: string; text: string; blocks: Block[] }): Promise<void>;
  openView(a: { trigger_id: string; view: Block }): Promise<void>;
  postEphemeral(a: { channel: string; user: string; text: string }): Promise<void>;
}

export function createSlackClient(cfg: { SLACK_BOT_TOKEN?: string | undefined; SLACK_API_URL?: string | undefined }): SlackApi | null {
  if (!cfg.SLACK_BOT_TOKEN) return null;
  const url = cfg.SLACK_API_URL ? (cfg.SLACK_API_URL.endsWith('/') ? cfg.SLACK_API_URL : `${cfg.SLACK_API_URL}/`) : undefined;
  // No retries inside the client (its default retries for 30 minutes): BullMQ
  // retries the job, and a 429 backs the whole queue off.
  const web = new WebClient(cfg.SLACK_BOT_TOKEN, {
    ...(url ? { slackApiUrl: url } : {}),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
  });
  return {
    async postMessage(a) {
      const r = await web.chat.postMessage({ channel: a.channel, text: a.text, blocks: a.blocks as never, ...(a.thread_ts ? { thread_ts: a.thread_ts } : {}) });
      return { channel: String(r.channel ?? a.channel), ts: String(r.ts) };
    },
    async update(a) {
      await web.chat.update({ channel: a.channel, ts: a.ts, text: a.text, blocks: a.blocks as never });
    },
    async openView(a) {
      await web.views.open({ trigger_id: a.trigger_id, view: a.view as never });
    },
    async postEphemeral(a) {
      await web.chat.postEphemeral({ channel: a.channel, user: a.user, text: a.text });
    },
  };
}

/** Errors a retry cannot fix: the channel, the app's membership or its token. */
const PERMANENT = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'invalid_blocks',
  'msg_too_long',
  'message_not_found',
  'cant_update_message',
  'restricted_action',
]);

export type SlackFailure =
  | { kind: 'rate_limited'; retryAfterMs: number }
  | { kind: 'permanent'; error: string }
  | { kind: 'transient'; error: string };

export function classifySlackError(err: unknown): SlackFailure {
  const e = err as Partial<WebAPICallError> & { message?: string };
  if (e?.code === ErrorCode.RateLimitedError) {
    return { kind: 'rate_limited', retryAfterMs: Math.max(1, Number((e as { retryAfter?: number }).retryAfter ?? 1)) * 1000 };
  }
  if (e?.code === ErrorCode.PlatformError) {
    const error = String((e as { data?: { error?: string } }).data?.error ?? 'unknown_error');
    if (error === 'ratelimited') return { kind: 'rate_limited', retryAfterMs: 1000 };
    return PERMANENT.has(error) ? { kind: 'permanent', error } : { kind: 'transient', error };
  }
  return { kind: 'transient', error: e?.message ?? String(err) };
}
