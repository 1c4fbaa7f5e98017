// Slack request signatures: `v0=` + hex HMAC-SHA256(signing secret, `v0:{ts}:{raw body}`).
// Pure: the caller passes the current time, so the 5-minute window is testable.
// Verify the raw bytes before anything parses the body.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SlackVerifyResult =
  | { ok: true }
  | { ok: false; reason: 'missing_headers' | 'stale_timestamp' | 'bad_signature' };

export const DEFAULT_TOLERANCE_SECONDS = 300;

export function signSlackRequest(signingSecret: string, timestamp: string | number, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`, 'utf8').digest('hex')}`;
}

/**
 * Checks `X-Slack-Request-Timestamp` and `X-Slack-Signature` against the raw
 * body. A timestamp that is not a whole number of seconds counts as stale: it
 * cannot prove the request is fresh.
 */
export function verifySlackSignature(o: {
  signingSecret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: string;
  nowSeconds: number;
  toleranceSeconds?: number;
}): SlackVerifyResult {
  if (!o.timestamp || !o.signature) return { ok: false, reason: 'missing_headers' };
  if (!/^\d{1,15}$/.test(o.timestamp)) return { ok: false, reason: 'stale_timestamp' };
  const drift = Math.abs(o.nowSeconds - Number(o.timestamp));
  // Written as !(<=) so a NaN clock or tolerance rejects instead of letting everything through.
  if (!(drift <= (o.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS))) return { ok: false, reason: 'stale_timestamp' };
  // An empty secret would make signatures forgeable by anyone who guesses it is empty.
  if (!o.signingSecret) return { ok: false, reason: 'bad_signature' };
  const expected = Buffer.from(signSlackRequest(o.signingSecret, o.timestamp, o.rawBody), 'utf8');
  const given = Buffer.from(o.signature, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
  return { ok: true };
}
