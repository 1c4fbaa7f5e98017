// One HTTP attempt at a webhook delivery. DNS answers are checked against the
// private ranges at connect time (not just at registration), so a hostname
// that later resolves inward is still refused.
//
// Each attempt has one overall deadline, from before the DNS lookup to the end
// of the response body. A socket-idle timeout is not enough: a receiver that
// sends one header byte every few seconds is never idle and would hold the
// attempt (and a delivery slot) forever.
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

function outcomeOf(status: number): AttemptOutcome {
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status === 410) return { kind: 'gone', status: 410 };
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: 'rejected', status };
  return { kind: 'retry', status, error: `HTTP ${status}` };
}

export function postWebhook(opts: {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** The whole attempt — lookup, connect, sending, the status line and headers, the response body — ends by then. */
  deadlineMs: number;
  allowPrivate: boolean;
}): Promise<AttemptOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (o: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
    const u = new URL(opts.url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(
      u,
      {
        method: 'POST',
        headers: { ...opts.headers, 'content-length': String(Buffer.byteLength(opts.body)) },
        lookup: guardedLookup(opts.allowPrivate),
        agent: false,
      },
      (res) => {
        // The status decides the outcome; the body does not matter. It is
        // drained, and the deadline still cuts a body that never ends.
        res.on('error', () => undefined);
        res.once('close', () => clearTimeout(timer));
        res.resume();
        settle(outcomeOf(res.statusCode ?? 0));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(Object.assign(new Error(`no complete answer within the ${opts.deadlineMs} ms deadline`), { code: 'ETIMEDOUT' }));
    }, opts.deadlineMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // A private-address refusal is permanent for this URL.
      if (err.code === 'EPRIVATE') settle({ kind: 'rejected', status: 0, error: err.message });
      else settle({ kind: 'retry', status: null, error: err.message });
    });
    req.end(opts.body);
  });
}
