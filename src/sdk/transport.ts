// JSON over fetch with retries. Network errors, timeouts and 5xx retry with
// exponential backoff and jitter; a 4xx is the server's final word and never
// retries. Retrying writes is safe because guard carries its idempotency key;
// where a retry can make a write look refused (a claim or report whose first
// response was lost), the caller sees `attempts > 1` on the error and decides.
import { AuthError, ConnectionError, HoldpointError } from './errors.ts';

/**
 * Any fetch-compatible function (the global `fetch`, undici's, a test double).
 *
 * @example
 * const hp = new Holdpoint({ fetch: ((input, init) => fetch(input, init)) satisfies FetchLike });
 */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface TransportOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  fetch: FetchLike;
}

export interface Call {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  /** Per attempt; defaults to the client's timeoutMs. */
  timeoutMs?: number;
  /** Defaults to the client's retries. */
  retries?: number;
  signal?: AbortSignal;
}

export interface Reply<T> {
  status: number;
  body: T;
  attempts: number;
}

const MAX_DELAY_MS = 5_000;

/** Exponential backoff with jitter: somewhere in [½, 1] of base·2ⁿ, capped. */
export function backoff(attempt: number, baseMs: number, capMs = MAX_DELAY_MS): number {
  const d = Math.min(capMs, baseMs * 2 ** attempt);
  return d / 2 + Math.random() * (d / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface ServerError {
  error?: { code?: unknown; message?: unknown; details?: unknown };
}

function parse(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function fromResponse(status: number, body: unknown, attempts: number): HoldpointError {
  const e = (body as ServerError | undefined)?.error;
  const code = typeof e?.code === 'string' ? e.code : `http_${status}`;
  const message = typeof e?.message === 'string' ? e.message : `Holdpoint answered HTTP ${status}`;
  const opts = { status, details: e?.details, attempts };
  if (status === 401 || status === 403) return new AuthError(code, message, opts);
  if (status >= 500) return new ConnectionError(code, message, opts);
  return new HoldpointError(code, message, opts);
}

export function createTransport(o: TransportOptions) {
  const base = o.baseUrl.replace(/\/+$/, '');

  async function once(call: Call): Promise<{ status: number; body: unknown }> {
    const timeout = AbortSignal.timeout(call.timeoutMs ?? o.timeoutMs);
    const signal = call.signal ? AbortSignal.any([timeout, call.signal]) : timeout;
    const headers: Record<string, string> = { authorization: `Bearer ${o.apiKey}`, accept: 'application/json' };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    const res = await o.fetch(`${base}${call.path}`, {
      method: call.method,
      headers,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      signal,
    });
    return { status: res.status, body: parse(await res.text()) };
  }

  return {
    async request<T>(call: Call): Promise<Reply<T>> {
      const retries = Math.max(0, call.retries ?? o.retries);
      let last: HoldpointError | undefined;
      for (let attempt = 0; attempt <= retries; attempt++) {
        if (attempt > 0) await sleep(backoff(attempt - 1, o.retryDelayMs), call.signal);
        let r: { status: number; body: unknown };
        try {
          r = await once(call);
        } catch (err) {
          // The caller's own signal ends everything; anything else is the network.
          if (call.signal?.aborted) throw call.signal.reason;
          const timedOut = (err as { name?: string })?.name === 'TimeoutError';
          last = new ConnectionError(
            timedOut ? 'timeout' : 'connection_failed',
            timedOut ? `no answer from Holdpoint within ${call.timeoutMs ?? o.timeoutMs} ms (${call.method} ${call.path})` : `cannot reach Holdpoint at ${base} (${(err as Error)?.message ?? err})`,
            { attempts: attempt + 1, cause: err },
          );
          continue;
        }
        if (r.status < 400) return { status: r.status, body: r.body as T, attempts: attempt + 1 };
        last = fromResponse(r.status, r.body, attempt + 1);
        if (r.status < 500) throw last;
      }
      throw last!;
    },
  };
}

export type Transport = ReturnType<typeof createTransport>;
