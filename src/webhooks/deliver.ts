// One HTTP attempt at a webhook delivery. DNS answers are checked against the
// private ranges at connect time (not just at registration), so a hostname
// that later resolves inward is still refused.
import http from 'node:http';
import https from 'node:https';
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { isPrivateAddress } from './targets.ts';

export type AttemptOutcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'gone'; status: 410 }
  | { kind: 'rejected'; status: number; error?: string } // other 4xx, refused targets: fail at once
  | { kind: 'retry'; status: number | null; error: string };

function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as dns.LookupAddress[];
      const bad = list.find((a) => !allowPrivate && isPrivateAddress(a.address));
      if (bad) {
        const e = Object.assign(new Error(`refused: ${hostname} resolves to private address ${bad.address}`), { code: 'EPRIVATE' });
        return callback(e, '', 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      const first = list[0]!;
      callback(null, first.address, first.family);
    });
  };
}

export function postWebhook(opts: {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  allowPrivate: boolean;
}): Promise<AttemptOutcome> {
  return new Promise((resolve) => {
    const u = new URL(opts.url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(
      u,
      {
        method: 'POST',
        headers: { ...opts.headers, 'content-length': String(Buffer.byteLength(opts.body)) },
        lookup: guardedLookup(opts.allowPrivate),
        timeout: opts.timeoutMs,
        agent: false,
      },
      (res) => {
        res.resume(); // the body does not matter; drain it
        const status = res.statusCode ?? 0;
        res.on('end', () => undefined);
        if (status >= 200 && status < 300) resolve({ kind: 'delivered', status });
        else if (status === 410) resolve({ kind: 'gone', status: 410 });
        else if (status >= 400 && status < 500 && status !== 408 && status !== 429) resolve({ kind: 'rejected', status });
        else resolve({ kind: 'retry', status, error: `HTTP ${status}` });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`timed out after ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // A private-address refusal is permanent for this URL.
      if (err.code === 'EPRIVATE') resolve({ kind: 'rejected', status: 0, error: err.message });
      else resolve({ kind: 'retry', status: null, error: err.message });
    });
    req.end(opts.body);
  });
}
