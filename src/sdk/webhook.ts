// Standard Webhooks verification with WebCrypto, so it runs on Node, Deno, Bun
// and edge runtimes alike: HMAC-SHA256 over `id.timestamp.body` with the
// base64 key after `whsec_`, any one of the space-separated `v1,<sig>` in
// `webhook-signature` may match, and the timestamp must be within 5 minutes.
import { HoldpointError } from './errors.ts';
import type { WebhookEvent } from './types.ts';

/**
 * Request headers in any of the usual shapes: a Fetch `Headers`, Node's
 * `IncomingHttpHeaders`, or a plain object.
 *
 * @example
 * const h: WebhookHeaders = { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': sig };
 */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/**
 * Options for `verifyWebhook`.
 *
 * @example
 * await verifyWebhook(secret, headers, body, { toleranceSeconds: 60 });
 */
export interface VerifyOptions {
  /** How far the `webhook-timestamp` may be from now, either way (default 300 s). */
  toleranceSeconds?: number;
  /** The clock to check the timestamp against (default: now). For tests of old deliveries. */
  now?: Date | number;
}

const TOLERANCE_S = 300;

function header(h: WebhookHeaders, name: string): string | undefined {
  if (typeof (h as Headers).get === 'function') return (h as Headers).get(name) ?? undefined;
  const rec = h as Record<string, string | string[] | undefined>;
  const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : rec[key];
  return Array.isArray(v) ? v.join(' ') : v;
}

function fromBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function isRequest(x: unknown): x is Request {
  return typeof x === 'object' && x !== null && typeof (x as Request).text === 'function' && typeof (x as Request).headers?.get === 'function';
}

const invalid = (message: string) => new HoldpointError('invalid_signature', message);

/**
 * Verifies a Holdpoint webhook (Standard Webhooks) and returns the parsed
 * event; throws `HoldpointError` with code `invalid_signature` when the
 * signature, timestamp or headers are wrong. Verify the raw body exactly as
 * received, before any JSON parsing. Pass a Fetch `Request` (Hono, Deno, Bun,
 * workers) instead of headers and body to have both read from it (this reads
 * the request's body).
 *
 * @example
 * // Hono / any Fetch runtime
 * app.post('/hook', async (c) => {
 *   const event = await verifyWebhook(process.env.HOLDPOINT_WEBHOOK_SECRET!, c.req.raw);
 *   if (event.type === 'approval.approved') await resume(event.data.idempotency_key);
 *   return c.body(null, 204);
 * });
 *
 * @example
 * // Node http / Express with a raw body
 * const event = await verifyWebhook(secret, req.headers, rawBodyBuffer);
 */
export async function verifyWebhook(secret: string, request: Request, options?: VerifyOptions): Promise<WebhookEvent>;
/**
 * Verifies a webhook from its headers and raw body (string, bytes or Buffer).
 *
 * @example
 * const event = await verifyWebhook(secret, req.headers, rawBody);
 */
export async function verifyWebhook(secret: string, headers: WebhookHeaders, rawBody: string | Uint8Array | ArrayBuffer, options?: VerifyOptions): Promise<WebhookEvent>;
export async function verifyWebhook(
  secret: string,
  headersOrRequest: WebhookHeaders | Request,
  bodyOrOptions?: string | Uint8Array | ArrayBuffer | VerifyOptions,
  maybeOptions?: VerifyOptions,
): Promise<WebhookEvent> {
  let headers: WebhookHeaders;
  let body: Uint8Array;
  let options: VerifyOptions;
  if (isRequest(headersOrRequest)) {
    headers = headersOrRequest.headers;
    body = new Uint8Array(await headersOrRequest.arrayBuffer());
    options = (bodyOrOptions as VerifyOptions | undefined) ?? {};
  } else {
    headers = headersOrRequest;
    const raw = bodyOrOptions as string | Uint8Array | ArrayBuffer | undefined;
    if (raw === undefined || raw === null) throw invalid('no body to verify');
    body = typeof raw === 'string' ? new TextEncoder().encode(raw) : raw instanceof Uint8Array ? raw : new Uint8Array(raw);
    options = maybeOptions ?? {};
  }

  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sigs = header(headers, 'webhook-signature');
  if (!id || !ts || !sigs) throw invalid('missing webhook-id, webhook-timestamp or webhook-signature header');
  if (!/^\d+$/.test(ts)) throw invalid('webhook-timestamp is not a number of seconds');
  const nowS = Math.floor((options.now === undefined ? Date.now() : Number(options.now)) / 1000);
  const tolerance = options.toleranceSeconds ?? TOLERANCE_S;
  if (Math.abs(nowS - Number(ts)) > tolerance) throw invalid(`webhook-timestamp is more than ${tolerance} s from now`);

  let keyBytes: Uint8Array<ArrayBuffer>;
  try {
    keyBytes = fromBase64(secret.startsWith('whsec_') ? secret.slice(6) : secret);
  } catch {
    throw new HoldpointError('invalid_signature', 'the webhook secret is not base64 (expected whsec_…)');
  }
  const key = await globalThis.crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const prefix = new TextEncoder().encode(`${id}.${ts}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix, 0);
  signed.set(body, prefix.length);

  for (const part of sigs.split(' ')) {
    const [version, sig] = part.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    let expected: Uint8Array<ArrayBuffer>;
    try {
      expected = fromBase64(sig);
    } catch {
      continue;
    }
    // subtle.verify compares in constant time.
    if (await globalThis.crypto.subtle.verify('HMAC', key, expected, signed)) {
      try {
        return JSON.parse(new TextDecoder().decode(body)) as WebhookEvent;
      } catch {
        throw invalid('the signature matches but the body is not JSON');
      }
    }
  }
  throw invalid('no webhook-signature matches the body');
}
