// The SDK fails closed. `failOpen` opens only when Holdpoint cannot be reached
// (connection refused or reset, DNS, timeout, 503 dependency_unavailable);
// anything else — a 4xx, a 500, a proxy's page, a bug on our side, params
// that JSON cannot carry — throws, and never turns into a permit. Against the
// real app on a loopback port, with small loopback servers standing in for
// what sits between the SDK and Holdpoint.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectionError,
  guardToolCall,
  guardTools,
  Holdpoint,
  HoldpointError,
  InvalidRequest,
  runToolCall,
  ServerError,
  type FetchLike,
  type HoldpointOptions,
} from '../../src/sdk/index.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { freePort } from '../helpers/processes.ts';

let h: Harness;
let t: TenantKeys;
let base: string;
let n = 0;
const key = (what: string) => `fc-${what}-${++n}`;

const POLICY = {
  defaults: { decision: 'allow' },
  rules: [
    { name: 'never-drop', match: { action: 'database.drop*' }, decision: 'deny', reason: 'Dropping databases is never allowed' },
    { name: 'big-payments', match: { action: ['payment.*', 'send_payment', 'sendPayment'], when: { 'params.amount': { gt: 1000 } } }, decision: 'deny', reason: 'No payments over 1000' },
  ],
};

beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
  await h.setPolicy(t, POLICY);
  base = await h.listen();
});

afterAll(async () => {
  await h.close();
});

/** A client whose every HTTP attempt is counted. */
function counted(o: HoldpointOptions = {}) {
  const calls: string[] = [];
  const f: FetchLike = (input, init) => {
    calls.push(`${init?.method ?? 'GET'} ${String(input)}`);
    return (o.fetch ?? fetch)(input, init);
  };
  const hp = new Holdpoint({ baseUrl: base, apiKey: t.agent, retryDelayMs: 5, ...o, fetch: f });
  return { hp, calls };
}

/** A loopback server that answers every request with one canned response. */
async function canned(status: number, body: string, contentType = 'application/json') {
  let count = 0;
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      res.writeHead(status, { 'content-type': contentType }).end(body);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    count: () => count,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

const serverError = (code: string, message: string) => JSON.stringify({ error: { code, message } });

async function outcome<T>(p: Promise<T>): Promise<T | unknown> {
  try {
    return await p;
  } catch (err) {
    return err;
  }
}

describe('failOpen opens for transport failures only', () => {
  it('a 500 internal_error is the server failing, not the network: retried, then ServerError, never a permit', async () => {
    const s = await canned(500, serverError('internal_error', 'internal error'));
    try {
      const { hp } = counted({ baseUrl: s.url, failOpen: true, retries: 2 });
      const c = await outcome(hp.check('payment.send', { params: { amount: 5000 } }));
      expect(c).toBeInstanceOf(ServerError);
      expect(c).not.toBeInstanceOf(ConnectionError);
      expect(c).toMatchObject({ code: 'internal_error', status: 500, attempts: 3 });
      const g = await outcome(hp.guard('payment.send', { idempotencyKey: key('500'), params: { amount: 5000 } }));
      expect(g).toBeInstanceOf(ServerError);
      expect(s.count()).toBe(6);
    } finally {
      await s.close();
    }
  });

  it('a bare 502 or 503 from whatever sits in front is not Holdpoint saying it is unavailable: it fails closed', async () => {
    for (const status of [502, 503, 504]) {
      const s = await canned(status, '<html>Bad Gateway</html>', 'text/html');
      try {
        const { hp } = counted({ baseUrl: s.url, failOpen: true, retries: 1 });
        const err = await outcome(hp.guard('payment.send', { idempotencyKey: key(`bare-${status}`), params: { amount: 5000 } }));
        expect(err).toBeInstanceOf(ServerError);
        expect(err).toMatchObject({ status, code: `http_${status}`, attempts: 2 });
      } finally {
        await s.close();
      }
    }
  });

  it('a 503 dependency_unavailable is an outage: failOpen allows and says so, without failOpen it is a ConnectionError', async () => {
    const s = await canned(503, serverError('dependency_unavailable', 'postgres is unavailable'));
    try {
      const open = counted({ baseUrl: s.url, failOpen: true, retries: 1 }).hp;
      const permit = await open.guard('payment.send', { idempotencyKey: key('503'), params: { amount: 20 } });
      expect(permit).toMatchObject({ failedOpen: true, decisionId: null, params: { amount: 20 } });
      const closed = counted({ baseUrl: s.url, retries: 1 }).hp;
      await expect(closed.check('payment.send')).rejects.toMatchObject({ name: 'ConnectionError', code: 'dependency_unavailable', status: 503, attempts: 2 });
    } finally {
      await s.close();
    }
  });

  it('a 4xx with failOpen is the server’s final word: thrown, not retried, never opened', async () => {
    const s = await canned(429, serverError('rate_limited', 'slow down'));
    try {
      const { hp } = counted({ baseUrl: s.url, failOpen: true, retries: 3 });
      await expect(hp.guard('payment.send', { idempotencyKey: key('429') })).rejects.toMatchObject({ code: 'rate_limited', status: 429, attempts: 1 });
      expect(s.count()).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('a 200 that is not a Holdpoint answer (a captive portal, a proxy page) is unexpected_response, not an allow', async () => {
    const s = await canned(200, '<html>Please sign in to the Wi-Fi</html>', 'text/html');
    try {
      const { hp } = counted({ baseUrl: s.url, failOpen: true });
      await expect(hp.check('payment.send', { params: { amount: 5000 } })).rejects.toMatchObject({ name: 'HoldpointError', code: 'unexpected_response', status: 200 });
      await expect(hp.guard('payment.send', { idempotencyKey: key('portal') })).rejects.toMatchObject({ code: 'unexpected_response' });
    } finally {
      await s.close();
    }
  });

  it('a malformed baseUrl is a configuration error at construction, not an outage that fails open forever', () => {
    for (const baseUrl of ['not a url', 'localhost:8080', 'ftp://holdpoint.internal']) {
      expect(() => new Holdpoint({ baseUrl, apiKey: t.agent, failOpen: true })).toThrow(expect.objectContaining({ name: 'HoldpointError', code: 'config_invalid' }));
    }
  });

  it('an API key that cannot be sent as a header is a configuration error, not an outage that fails open', () => {
    expect(() => new Holdpoint({ baseUrl: base, apiKey: `${t.agent}\n`, failOpen: true })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });

  it('a fetch that throws something other than a network error is a bug: thrown at once, not retried, never opened', async () => {
    let calls = 0;
    const hp = new Holdpoint({
      baseUrl: base,
      apiKey: t.agent,
      failOpen: true,
      retries: 3,
      fetch: () => {
        calls++;
        throw new RangeError('interceptor bug');
      },
    });
    const err = await outcome(hp.guard('payment.send', { idempotencyKey: key('bug'), params: { amount: 5000 } }));
    expect(err).toBeInstanceOf(HoldpointError);
    expect(err).not.toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ code: 'request_failed', attempts: 1, cause: expect.objectContaining({ message: 'interceptor bug' }) });
    expect(calls).toBe(1);
  });

  it('connection refused, a name that does not resolve and timeouts still fail open when asked (the network is what failOpen is for)', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const refused = await new Holdpoint({ baseUrl: dead, apiKey: t.agent, failOpen: true, retries: 0 }).check('email.send');
    expect(refused).toMatchObject({ allowed: true, failedOpen: true, reasons: [expect.objectContaining({ message: expect.stringContaining('connection_failed') })] });
    // .invalid never resolves (RFC 2606).
    const nowhere = new Holdpoint({ baseUrl: 'http://holdpoint.invalid', apiKey: t.agent, retries: 0 });
    await expect(nowhere.check('email.send')).rejects.toMatchObject({ name: 'ConnectionError', code: 'connection_failed' });
    expect(await new Holdpoint({ baseUrl: 'http://holdpoint.invalid', apiKey: t.agent, retries: 0, failOpen: true }).check('email.send')).toMatchObject({ failedOpen: true });
    const hang = http.createServer(() => {});
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    try {
      const hp = new Holdpoint({ baseUrl: `http://127.0.0.1:${(hang.address() as AddressInfo).port}`, apiKey: t.agent, failOpen: true, retries: 0, timeoutMs: 100 });
      expect(await hp.guard('email.send', { idempotencyKey: key('hang') })).toMatchObject({ failedOpen: true });
    } finally {
      hang.closeAllConnections();
      await new Promise<void>((r) => hang.close(() => r()));
    }
  });
});

/** Values JSON cannot carry faithfully, each with where it sits and what the SDK says. */
const cyclic: Record<string, unknown> = { to: 'acct_1' };
cyclic.self = cyclic;
const NOT_JSON: [string, Record<string, unknown>, string, string][] = [
  ['a cycle', { order: cyclic }, 'params.order.self', 'not_serialisable'],
  ['a BigInt', { amount: 5000n }, 'params.amount', 'not_serialisable'],
  ['a function', { to: 'acct_1', amount: () => 5000 }, 'params.amount', 'not_serialisable'],
  ['a symbol', { to: Symbol('acct') }, 'params.to', 'not_serialisable'],
  ['undefined in an array', { amounts: [10, undefined] }, 'params.amounts.1', 'not_serialisable'],
  ['a Map', { limits: new Map([['amount', 5000]]) }, 'params.limits', 'not_serialisable'],
  ['NaN', { amount: Number.NaN }, 'params.amount', 'invalid_number'],
  ['Infinity', { amount: Number.POSITIVE_INFINITY }, 'params.amount', 'invalid_number'],
  ['-Infinity', { nested: { amount: Number.NEGATIVE_INFINITY } }, 'params.nested.amount', 'invalid_number'],
];

describe('params JSON cannot carry are refused before any request', () => {
  it.each(NOT_JSON)('%s: check and guard throw InvalidRequest with the path, send nothing, and failOpen does not open', async (_what, params, path, code) => {
    const { hp, calls } = counted({ failOpen: true });
    for (const p of [hp.check('payment.send', { params }), hp.guard('payment.send', { idempotencyKey: key('nj'), params })] as Promise<unknown>[]) {
      const err = await outcome(p);
      expect(err).toBeInstanceOf(InvalidRequest);
      expect(err).toMatchObject({ code, details: { path } });
      expect((err as InvalidRequest).attempts).toBeUndefined();
    }
    expect(calls).toEqual([]);
  });

  it('an amount of Infinity does not slip past an amount rule as null', async () => {
    const { hp, calls } = counted();
    await expect(hp.guard('payment.send', { idempotencyKey: key('inf'), params: { amount: Infinity } })).rejects.toMatchObject({ name: 'InvalidRequest', code: 'invalid_number' });
    // What JSON would have sent instead is null; the server now treats a present non-number as matching a
    // restricting rule, so even that would not be allowed — but the SDK never gets that far.
    expect((await hp.check('payment.send', { params: JSON.parse(JSON.stringify({ amount: Infinity })) })).allowed).toBe(false);
    expect(calls).toHaveLength(1);
  });

  it("the server's refusals of a NUL character and of nesting past 64 levels are InvalidRequest, sent once, never opened", async () => {
    const { hp, calls } = counted({ failOpen: true });
    const deep = (d: number): unknown => (d === 0 ? 1 : { a: deep(d - 1) });
    await expect(hp.guard('payment.send', { idempotencyKey: key('nul'), params: { memo: 'a\u0000b' } })).rejects.toMatchObject({ name: 'InvalidRequest', code: 'invalid_text', details: { path: 'params.memo' } });
    await expect(hp.check('payment.send', { params: deep(100) as Record<string, unknown> })).rejects.toMatchObject({ name: 'InvalidRequest', code: 'too_deep' });
    expect(calls).toHaveLength(2);
  });

  it('context and the other fields are checked too', async () => {
    const { hp, calls } = counted({ failOpen: true });
    await expect(hp.check('email.send', { context: { user: 10n } })).rejects.toMatchObject({ name: 'InvalidRequest', details: { path: 'context.user' } });
    await expect(hp.guard('email.send', { idempotencyKey: key('ts'), timeoutSeconds: Number.NaN })).rejects.toMatchObject({ name: 'InvalidRequest', details: { path: 'timeout_seconds' } });
    expect(calls).toEqual([]);
  });

  it('undefined object properties are left out, as JSON does, and a Date goes as its ISO string', async () => {
    const { hp } = counted();
    const at = new Date('2026-11-30T08:00:00.000Z');
    const permit = await hp.guard('email.send', { idempotencyKey: key('undef'), params: { to: 'a@example.com', cc: undefined, at } });
    expect(permit.params).toEqual({ to: 'a@example.com', at: '2026-11-30T08:00:00.000Z' });
    await permit.complete();
  });

  it('withGuard and guarded never run fn for params JSON cannot carry', async () => {
    const { hp, calls } = counted({ failOpen: true });
    let runs = 0;
    await expect(hp.withGuard('payment.send', { idempotencyKey: key('wg'), params: { amount: 5000n } }, () => runs++)).rejects.toBeInstanceOf(InvalidRequest);
    const pay = hp.guarded('payment.send', (amount: number) => runs++, { idempotencyKey: (amount) => `fc-guarded-${amount}` });
    await expect(pay(Number.NaN)).rejects.toMatchObject({ name: 'InvalidRequest', details: { path: 'params.args.0' } });
    expect(runs).toBe(0);
    expect(calls).toEqual([]);
  });

  it('a tool call whose arguments overflow to Infinity is an error the model can fix, and nothing is asked or run', async () => {
    const { hp, calls } = counted({ failOpen: true });
    let ran = 0;
    const call = { id: key('call'), type: 'function' as const, function: { name: 'send_payment', arguments: '{"to":"acct_1","amount":1e999}' } };
    const r = await guardToolCall(hp, call);
    expect(r).toMatchObject({ status: 'error', error: expect.objectContaining({ name: 'InvalidRequest', code: 'invalid_number' }) });
    expect(r.status !== 'allowed' && r.message).toMatch(/^The arguments for send_payment .*amount.*\. Nothing was done; call send_payment again/);
    const msg = await runToolCall(hp, call, () => ran++);
    expect(msg.content).toMatch(/Nothing was done/);
    expect(ran).toBe(0);
    expect(calls).toEqual([]);
  });

  it('a Vercel AI tool given input JSON cannot carry throws InvalidRequest and the original execute never runs', async () => {
    const { hp, calls } = counted({ failOpen: true });
    let ran = 0;
    const tools = guardTools(hp, { sendPayment: { execute: async (input: { amount: bigint }, _options: unknown) => (ran++, input) } });
    await expect(tools.sendPayment.execute({ amount: 5000n }, { toolCallId: key('ai') })).rejects.toMatchObject({ name: 'InvalidRequest', details: { path: 'params.amount' } });
    expect(ran).toBe(0);
    expect(calls).toEqual([]);
  });
});

describe('results JSON cannot carry', () => {
  it('permit.complete with a BigInt throws InvalidRequest at once, sends nothing, and the permit can still report', async () => {
    const { hp, calls } = counted();
    const permit = await hp.guard('email.send', { idempotencyKey: key('res') });
    const before = calls.length;
    await expect(permit.complete({ id: 10n })).rejects.toMatchObject({ name: 'InvalidRequest', details: { path: 'result.id' } });
    await expect(permit.fail({ code: Symbol('x') })).rejects.toMatchObject({ name: 'InvalidRequest', details: { path: 'error.code' } });
    expect(calls.length).toBe(before);
    expect(permit.reported).toBe(false);
    await permit.complete({ id: '10' });
    const [row] = await h.rt.sql<{ report_status: string; report_result: unknown }[]>`SELECT report_status, report_result FROM decisions WHERE id = ${permit.decisionId}`;
    expect(row).toEqual({ report_status: 'completed', report_result: { id: '10' } });
  });

  it('withGuard whose fn returns a BigInt still records the completion (saying why the result is missing) and returns the result', async () => {
    const k = key('wgres');
    const { hp } = counted();
    const out = await hp.withGuard('email.send', { idempotencyKey: k }, () => ({ rows: 3n }));
    expect(out).toEqual({ rows: 3n });
    const [row] = await h.rt.sql<{ report_status: string; report_result: unknown }[]>`SELECT report_status, report_result FROM decisions WHERE idempotency_key = ${k}`;
    expect(row).toEqual({ report_status: 'completed', report_result: { result_not_serialisable: expect.stringContaining('result.rows') } });
  });
});
