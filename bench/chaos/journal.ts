// Every HTTP exchange the driver had, with timestamps, and the HTTP client that
// records them. No keep-alive: each request gets its own connection, so a
// network error means the server really went away (a killed process), never a
// client-side race with an idle socket being closed.
import http from 'node:http';

export type Outcome =
  | { kind: 'http'; status: number; code?: string; body: any }
  /** refused: nobody listening (a killed API); reset: the connection died mid-request; timeout: no answer in time. */
  | { kind: 'network'; error: 'refused' | 'reset' | 'timeout' | 'other'; message: string };

export interface Exchange {
  seq: number;
  api: string;
  method: string;
  path: string;
  /** What it was for, e.g. 'guard', 'decide', 'slack-approve'. */
  op: string;
  t0: number;
  t1: number;
  outcome: Outcome;
}

export class Journal {
  readonly exchanges: Exchange[] = [];
  private seq = 0;

  record(e: Omit<Exchange, 'seq'>): Exchange {
    const x = { ...e, seq: ++this.seq };
    this.exchanges.push(x);
    return x;
  }
}

const agent = new http.Agent({ keepAlive: false, maxSockets: 256 });

function classify(err: NodeJS.ErrnoException): 'refused' | 'reset' | 'timeout' | 'other' {
  if (err.code === 'ECONNREFUSED') return 'refused';
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || /socket hang up/i.test(err.message)) return 'reset';
  if (err.code === 'ETIMEDOUT' || err.name === 'TimeoutError') return 'timeout';
  return 'other';
}

export interface Api {
  name: string;
  base: string;
}

/**
 * One request, recorded. `body` is JSON unless `raw` is given (Slack's
 * form-encoded interactions).
 */
export function request(
  journal: Journal,
  api: Api,
  op: string,
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; raw?: { body: string; headers: Record<string, string> }; timeoutMs?: number } = {},
): Promise<Exchange> {
  const t0 = Date.now();
  const data = opts.raw ? opts.raw.body : opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string | number> = opts.raw ? { ...opts.raw.headers } : data !== undefined ? { 'content-type': 'application/json' } : {};
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  if (data !== undefined) headers['content-length'] = Buffer.byteLength(data);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(journal.record({ api: api.name, method, path, op, t0, t1: Date.now(), outcome }));
    };
    const req = http.request(`${api.base}${path}`, { method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: any = text;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          // not JSON: keep the text
        }
        const code = body && typeof body === 'object' && body.error && typeof body.error.code === 'string' ? body.error.code : undefined;
        finish({ kind: 'http', status: res.statusCode ?? 0, ...(code ? { code } : {}), body });
      });
      res.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'network', error: classify(err), message: err.message }));
    });
    const timer = setTimeout(() => {
      finish({ kind: 'network', error: 'timeout', message: `no answer in ${opts.timeoutMs ?? 20_000} ms` });
      req.destroy();
    }, opts.timeoutMs ?? 20_000);
    req.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'network', error: classify(err), message: err.message }));
    req.end(data);
  });
}

export function isStatus(x: Exchange, ...statuses: number[]): x is Exchange & { outcome: { kind: 'http'; status: number; code?: string; body: any } } {
  return x.outcome.kind === 'http' && statuses.includes(x.outcome.status);
}

/** An answer we cannot learn the outcome from: retry (network error, 5xx). */
export function isUnknown(x: Exchange): boolean {
  return x.outcome.kind === 'network' || (x.outcome.kind === 'http' && x.outcome.status >= 500);
}

export function closeAgent(): void {
  agent.destroy();
}
