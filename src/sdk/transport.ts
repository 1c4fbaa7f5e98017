// JSON over fetch with retries. Network errors, timeouts and 5xx retry with
// exponential backoff and jitter; a 4xx is the server's final word and never
// retries. Retrying writes is safe because guard carries its idempotency key;
// where a retry can make a write look refused (a claim or report whose first
// response was lost), the caller sees `attempts > 1` on the error and decides.
//
// What failed decides what the caller may do about it, and failOpen trusts
// this classification: only the network (a fetch that rejects with a
// TypeError, as the Fetch standard does for network errors, or our timeout)
// and Holdpoint's own `503 dependency_unavailable` are a ConnectionError.
// Another 5xx is a ServerError; a body JSON cannot carry is an InvalidRequest
// before anything is sent; anything else a fetch throws is a bug, thrown at once.
import { AuthError, ConnectionError, HoldpointError, InvalidRequest, ServerError } from './errors.ts';
import { jsonSnapshot } from './json.ts';

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

interface ErrorBody {
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

/** The server's codes for a request that is wrong in itself. */
const INVALID = new Set(['validation_failed', 'malformed_json', 'invalid_number', 'invalid_text', 'too_deep']);

function fromResponse(status: number, body: unknown, attempts: number): HoldpointError {
  const e = (body as ErrorBody | undefined)?.error;
  const code = typeof e?.code === 'string' ? e.code : `http_${status}`;
  const message = typeof e?.message === 'string' ? e.message : `Holdpoint answered HTTP ${status}`;
  const opts = { status, details: e?.details, attempts };
  if (status === 401 || status === 403) return new AuthError(code, message, opts);
  // Only Holdpoint saying its own dependencies are down is an outage; a bare 503 may be anyone's.
  if (status === 503 && code === 'dependency_unavailable') return new ConnectionError(code, message, opts);
  if (status >= 500) return new ServerError(code, message, opts);
  if (status >= 400 && INVALID.has(code)) return new InvalidRequest(code, message, opts);
  if (status >= 400) return new HoldpointError(code, message, opts);
  return new HoldpointError('unexpected_response', `Holdpoint answered HTTP ${status}, which is not an answer`, opts);
}

/** What a fetch rejection means: the network (retry, may fail open), or a bug (throw now). */
function fromFetchError(err: unknown, call: Call, base: string, timeoutMs: number, attempts: number): HoldpointError {
  const name = (err as { name?: string })?.name;
  if (name === 'TimeoutError') {
    return new ConnectionError('timeout', `no answer from Holdpoint within ${timeoutMs} ms (${call.method} ${call.path})`, { attempts, cause: err });
  }
  if (err instanceof TypeError) {
    const why = (err.cause as { code?: string; message?: string } | undefined)?.code ?? (err.cause as Error | undefined)?.message ?? err.message;
    return new ConnectionError('connection_failed', `cannot reach Holdpoint at ${base} (${err.message}${why && why !== err.message ? `: ${why}` : ''})`, { attempts, cause: err });
  }
  return new HoldpointError('request_failed', `the request to Holdpoint failed without reaching the network: ${(err as Error)?.message ?? String(err)}`, { attempts, cause: err });
}

export function createTransport(o: TransportOptions) {
  const base = o.baseUrl.replace(/\/+$/, '');

  async function once(call: Call, body: string | undefined): Promise<{ status: number; body: unknown }> {
    const timeout = AbortSignal.timeout(call.timeoutMs ?? o.timeoutMs);
    const signal = call.signal ? AbortSignal.any([timeout, call.signal]) : timeout;
    const headers: Record<string, string> = { authorization: `Bearer ${o.apiKey}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await o.fetch(`${base}${call.path}`, { method: call.method, headers, body, signal });
    return { status: res.status, body: parse(await res.text()) };
  }

  return {
    async request<T>(call: Call): Promise<Reply<T>> {
      // Serialised once, before the first attempt: a body JSON cannot carry is the caller's InvalidRequest, never a network error.
      const body = call.body === undefined ? undefined : JSON.stringify(jsonSnapshot(call.body, ''));
      const retries = Math.max(0, call.retries ?? o.retries);
      let last: HoldpointError | undefined;
      for (let attempt = 0; attempt <= retries; attempt++) {
        if (attempt > 0) await sleep(backoff(attempt - 1, o.retryDelayMs), call.signal);
        let r: { status: number; body: unknown };
        try {
          r = await once(call, body);
        } catch (err) {
          // The caller's own signal ends everything.
          if (call.signal?.aborted) throw call.signal.reason;
          last = fromFetchError(err, call, base, call.timeoutMs ?? o.timeoutMs, attempt + 1);
          if (last instanceof ConnectionError) continue;
          throw last;
        }
        if (r.status >= 200 && r.status < 300) return { status: r.status, body: r.body as T, attempts: attempt + 1 };
        last = fromResponse(r.status, r.body, attempt + 1);
        if (r.status < 500) throw last;
      }
      throw last!;
    },
  };
}

export type Transport = ReturnType<typeof createTransport>;

/**
 * The transport of a client in replay mode: no request ever leaves. Check and
 * guard are answered from the recording before they get here; anything else
 * that would need the server says so.
 *
 * @example
 * const t: Transport = offlineTransport();
 */
export function offlineTransport(): Transport {
  return {
    async request<T>(call: Call): Promise<Reply<T>> {
      throw new HoldpointError('replay_offline', `${call.method} ${call.path.replace(/\?.*$/, '')} needs a server, and in replay mode nothing reaches one`);
    },
  };
}
