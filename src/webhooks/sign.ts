// Standard Webhooks signatures: v1,<base64 HMAC-SHA256(secret, `${id}.${ts}.${body}`)>.
import { createHash, createHmac } from 'node:crypto';

export function secretBytes(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secretBytes(secret)).update(`${id}.${timestampSeconds}.${body}`, 'utf8').digest('base64');
  return `v1,${mac}`;
}

/**
 * Headers for one attempt. Several secrets (a rotation's overlap: the new one
 * first) give several space-separated signatures, as Standard Webhooks allows;
 * a receiver holding any one of the secrets verifies the delivery.
 */
export function webhookHeaders(secrets: string | readonly string[], id: string, timestampSeconds: number, body: string): Record<string, string> {
  const all = typeof secrets === 'string' ? [secrets] : secrets;
  if (all.length === 0) throw new Error('a webhook is never sent unsigned');
  return {
    'content-type': 'application/json',
    'user-agent': 'Holdpoint-Webhooks/1',
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': all.map((s) => signWebhook(s, id, timestampSeconds, body)).join(' '),
  };
}

/**
 * Delay before retry number `attempt` (1 = after the first failure): doubles
 * from `baseMs`, capped at 6 h, with ±20 % jitter that is deterministic per
 * delivery so the job's backoff and the database's next_attempt_at agree.
 */
export function retryDelayMs(attempt: number, baseMs: number, seed: string): number {
  const raw = Math.min(baseMs * 2 ** Math.max(0, attempt - 1), 6 * 3600 * 1000);
  const h = createHash('sha256').update(`${seed}:${attempt}`).digest();
  const unit = h.readUInt32BE(0) / 0xffffffff; // [0, 1]
  return Math.max(1, Math.round(raw * (0.8 + 0.4 * unit)));
}
