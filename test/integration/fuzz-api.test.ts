// Every route in /openapi.json, fuzzed: arbitrary JSON bodies (mostly shaped
// by the route's own schema, so handlers run), headers, path and query values,
// sent with valid keys of every role. No answer is a 5xx, and a 4xx writes
// nothing: the row counts of every table a request could touch are the same
// before and after. (Slack's /slack/interactions and /ui are outside the
// document; slack.test.ts and the inbox tests cover them.)
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

// Runs per route. ~40 routes × 30 ≈ 1,200 requests: several seconds on a busy machine.
const RUNS = Number(process.env.HOLDPOINT_FUZZ_RUNS ?? 30);
const TABLES = ['approvals', 'decisions', 'approval_events', 'api_keys', 'webhook_endpoints', 'contact_requests', 'approvers', 'policies'] as const;
const COUNTS = `SELECT ${TABLES.map((t) => `(SELECT count(*)::int FROM ${t}) AS ${t}`).join(', ')}`;

type Schema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  additionalProperties?: boolean | Schema;
};
type Param = { name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema: Schema };
type Operation = { parameters?: Param[]; requestBody?: { content: Record<string, { schema: Schema }> } };
type Doc = { paths: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, Schema> } };

let h: Harness;
let t: TenantKeys;
let doc: Doc;
/** Ids and names that exist, so generated requests reach rows and not only 404s. */
const known = { ids: [] as string[], names: [] as string[] };

// Values that have broken servers before: NUL, control and bidi characters,
// lone surrogates, huge and tiny numbers, prototype keys, padding.
const NASTY_STRINGS = ['', ' ', 'a\u0000b', '\u0000', '\u0007', '\u202e', '\ud800', '😀', '%00', '../..', '__proto__', 'constructor', '-'.repeat(36), 'x'.repeat(300), '1e309', 'null', 'NaN', '2147483648'];
const nastyString = fc.oneof(fc.constantFrom(...NASTY_STRINGS), fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }));
const nastyNumber = fc.oneof(fc.constantFrom(0, -1, 1.5, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, 1e308, -1e308, 5e-324), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer());
const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) });
const wild: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 4 },
  { arbitrary: nastyString, weight: 3 },
  { arbitrary: nastyNumber, weight: 2 },
  { arbitrary: fc.constantFrom(JSON.parse('{"__proto__":{"x":1},"constructor":"y"}'), nested(70), [], {}, null, true), weight: 1 },
);

function resolve(s: Schema): Schema {
  if (!s.$ref) return s;
  const name = s.$ref.split('/').pop()!;
  return doc.components?.schemas?.[name] ?? {};
}

/**
 * Values of a JSON Schema. Wild: now and then something else entirely, at any
 * depth, and unknown fields besides. Tame: only what the schema allows, from
 * values that name real rows — so the handler behind the validator runs too.
 */
function fromSchema(raw: Schema, depth = 0, tame = false): fc.Arbitrary<unknown> {
  const s = resolve(raw);
  const shaped = shapedBy(s, depth, tame);
  return tame ? shaped : fc.oneof({ arbitrary: shaped, weight: 24 }, { arbitrary: wild, weight: 1 });
}

function shapedBy(s: Schema, depth: number, tame = false): fc.Arbitrary<unknown> {
  if (depth > 4) return tame ? fc.constant({}) : wild;
  const alts = s.anyOf ?? s.oneOf;
  if (alts?.length) return fc.oneof(...alts.map((a) => fromSchema(a, depth + 1, tame)));
  if (s.allOf?.length) return fromSchema(s.allOf[0]!, depth + 1, tame);
  if (s.enum?.length) return fc.constantFrom(...s.enum);
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (types.length > 1) return fc.oneof(...types.map((type) => shapedBy({ ...s, type }, depth, tame)));
  const min = s.minimum ?? (tame ? 0 : -10);
  const max = Math.min(s.maximum ?? 1_000, 1_000);
  switch (types[0]) {
    case 'string':
      if (s.format === 'uuid') return tame ? fc.constantFrom(...known.ids) : fc.oneof(fc.uuid(), fc.constantFrom(...known.ids));
      if (s.format === 'uri' || s.format === 'url') return tame ? fc.constant('http://127.0.0.1:9/hook') : fc.constantFrom('http://127.0.0.1:9/hook', 'https://example.com/cb', 'http://[::1]:9/x', 'ftp://x', 'javascript:alert(1)', 'not a url');
      if (s.format === 'date-time') return fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.constantFrom('-200000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-02-30T00:00:00Z'));
      if (tame) return fc.constantFrom('payment.send', 'bot', 'alice', 'pay.review', ...known.names);
      return fc.oneof(
        { arbitrary: fc.constantFrom('payment.send', 'default', 'bot', 'alice', 'pay.review', ...known.names), weight: 6 },
        { arbitrary: fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 30, 30) }), weight: 4 },
        { arbitrary: nastyString, weight: 1 },
      );
    case 'integer':
      if (tame) return fc.integer({ min, max });
      return fc.oneof({ arbitrary: fc.integer({ min, max }), weight: 4 }, { arbitrary: nastyNumber, weight: 1 });
    case 'number':
      if (tame) return fc.double({ min, max, noNaN: true });
      return fc.oneof({ arbitrary: fc.double({ min, max, noNaN: true }), weight: 4 }, { arbitrary: nastyNumber, weight: 1 });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(s.items ? fromSchema(s.items, depth + 1, tame) : tame ? fc.constant(1) : wild, { maxLength: 3 });
    case 'object': {
      const props = Object.entries(s.properties ?? {});
      if (props.length === 0) {
        if (tame) return fc.dictionary(fc.constantFrom('amount', 'to', 'note'), fc.oneof(fc.integer(), fc.string({ maxLength: 10 })), { maxKeys: 3 });
        return fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'a\u0000')), wild, { maxKeys: 4 });
      }
      const required = new Set(s.required ?? []);
      const record = fc.record(Object.fromEntries(props.map(([k, v]) => [k, fromSchema(v, depth + 1, tame)])), {
        requiredKeys: props.map(([k]) => k).filter((k) => required.has(k)),
      });
      if (tame) return record;
      // Now and then an unknown field besides.
      return fc.tuple(record, fc.option(fc.tuple(fc.string({ maxLength: 8 }), wild), { freq: 6 })).map(([r, extra]) => (extra ? { ...(r as object), [extra[0]]: extra[1] } : r));
    }
    default:
      return tame ? fc.constant(null) : wild;
  }
}

/** A value for a path or query parameter: the schema's, or arbitrary text. */
function paramValue(p: Param, tame: boolean): fc.Arbitrary<string> {
  // A long-poll on a pending approval would hold the request for a minute: keep waits short (or invalid).
  if (p.name === 'wait') return tame ? fc.constantFrom('0', '0.05') : fc.constantFrom('0', '0.05', '-1', 'abc', '61', '1e999', '');
  const shaped = shapedBy(resolve(p.schema), 0, tame).map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? ''));
  const known_ = [...known.ids, ...known.names];
  if (tame) return fc.oneof(shaped, fc.constantFrom(...known_));
  return fc.oneof({ arbitrary: shaped, weight: 3 }, { arbitrary: nastyString, weight: 1 }, { arbitrary: fc.constantFrom(...known_), weight: 3 });
}

// Header values a fetch Request accepts: no NUL, CR or LF.
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 40 });

/** A lone surrogate cannot be percent-encoded; a client would send U+FFFD for it. */
const wellFormed = (v: string) => Buffer.from(v, 'utf8').toString('utf8');

/** Bytes for a body: JSON of a value, or text that is not quite JSON. */
function bodyText(schema: Schema | undefined, tame: boolean): fc.Arbitrary<string | undefined> {
  if (tame) return (schema ? fromSchema(schema, 0, true) : fc.constant({})).map((v) => JSON.stringify(v));
  const value = schema ? fromSchema(schema) : wild;
  return fc.oneof(
    { arbitrary: value.map((v) => JSON.stringify(v) ?? 'null'), weight: 20 },
    { arbitrary: fc.constantFrom('{"a": 1e309}', '{"params": {"a": 1e999}}', '{', '', 'null', '[]', '"x"', `${'['.repeat(3_000)}${']'.repeat(3_000)}`, '{"__proto__": {"x": 1}}', '\u0000'), weight: 2 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  );
}

function requestFor(path: string, method: string, op: Operation) {
  const params = op.parameters ?? [];
  const schema = op.requestBody?.content['application/json']?.schema;
  const hasBody = method !== 'get' && method !== 'delete';
  // Half the requests are tame (valid for the schema), half wild.
  return fc.boolean().chain((tame) =>
    fc.record({
      tame: fc.constant(tame),
      role: fc.oneof({ arbitrary: fc.constantFrom<'agent' | 'approver' | 'admin'>('agent', 'approver', 'admin'), weight: 12 }, { arbitrary: fc.constant<'bogus'>('bogus'), weight: tame ? 0 : 1 }),
      path: fc.tuple(...params.filter((p) => p.in === 'path').map((p) => paramValue(p, tame).map((v) => [p.name, v] as const)), fc.constant(['', ''] as const)),
      query: fc.tuple(...params.filter((p) => p.in === 'query').map((p) => fc.option(paramValue(p, tame).map((v) => [p.name, v] as const), { freq: 2 })), fc.constant(null)),
      extraQuery: tame
        ? fc.constant(null)
        : fc.option(fc.tuple(fc.constantFrom('limit', 'cursor', 'x', 'version'), fc.oneof(nastyString, fc.constant(Buffer.from(`2026-01-01T00:00:00.000Z|${'-'.repeat(36)}`).toString('base64url'))))),
      headers: tame
        ? fc.constant({ 'content-type': 'application/json' })
        : fc.record(
            {
              'idempotency-key': fc.oneof(fc.uuid(), headerText),
              'content-type': fc.oneof(
                { arbitrary: fc.constant('application/json'), weight: 12 },
                { arbitrary: fc.constantFrom('application/json; charset=utf-8', 'text/plain', 'application/yaml', 'application/x-www-form-urlencoded', 'application/vnd.api+json'), weight: 2 },
              ),
              'x-request-id': headerText,
              'last-event-id': headerText,
            },
            { requiredKeys: ['content-type'] },
          ),
      body: hasBody ? bodyText(schema, tame) : fc.constant(undefined),
    }),
  );
}

beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
  await h.setPolicy(t, {
    defaults: { decision: 'allow' },
    rules: [{ name: 'payments', match: { action: 'payment.*' }, decision: 'require_approval' }],
    guards: { rate_limit: { per_agent: { per_minute: 100_000 } }, budget: { cost_table: { 'payment.*': 1 }, per_agent: { day: 1_000_000 } } },
  });
  doc = (await (await h.app.request('/openapi.json')).json()) as Doc;
  // Rows to aim at: a pending approval, a decided one, a question, an approver, an endpoint.
  const g = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: { amount: 1 }, idempotency_key: 'fuzz-known' });
  const done = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', params: { amount: 2 }, idempotency_key: 'fuzz-decided' });
  await h.call('POST', `/v1/approvals/${done.body.approval.id}/decision`, t.approver, { decision: 'approve' });
  await h.call('POST', '/humanlayer/v1/contact_requests', t.agent, { run_id: 'r', call_id: 'fuzz-question', spec: { msg: 'ok?' } });
  await h.call('POST', '/humanlayer/v1/function_calls', t.agent, { run_id: 'r', call_id: 'fuzz-call', spec: { fn: 'payment.send', kwargs: {} } });
  await h.as(t, 'alice');
  const ep = await h.call('POST', '/v1/webhook-endpoints', t.admin, { url: 'http://127.0.0.1:9/hook' });
  known.ids.push(g.body.approval.id, done.body.approval.id, done.body.decision_id, ep.body.id);
  known.names.push('fuzz-known', 'fuzz-decided', 'fuzz-question', 'fuzz-call', 'alice');
});

afterAll(async () => {
  await h?.close();
});

async function counts(): Promise<Record<string, number>> {
  const [row] = await h.rt.sql.unsafe<Record<string, number>[]>(COUNTS);
  return { ...row! };
}

describe('fuzzing every route in /openapi.json', () => {
  it('the document lists the routes this test walks', () => {
    const ops = Object.values(doc.paths).flatMap((o) => Object.keys(o));
    expect(ops.length).toBeGreaterThan(30);
  });

  // The operations are read from the app's own document, so a new route is fuzzed without editing this file.
  const operations: [string, string][] = [];
  beforeAll(() => {
    for (const [path, ops] of Object.entries(doc.paths)) for (const method of Object.keys(ops)) operations.push([method, path]);
  });

  it('no request gets a 5xx, and a refused request writes nothing', async () => {
    const seen = new Map<string, Set<number>>();
    for (const [method, path] of operations) {
      const op = doc.paths[path]![method]!;
      await fc.assert(
        fc.asyncProperty(requestFor(path, method, op), async (r) => {
          let url = path;
          for (const [name, value] of r.path) if (name) url = url.replace(`{${name}}`, encodeURIComponent(wellFormed(value)));
          const q = new URLSearchParams();
          for (const entry of r.query) if (entry) q.append(entry[0], entry[1]);
          if (r.extraQuery) q.append(r.extraQuery[0], r.extraQuery[1]);
          if (q.size) url += `?${q}`;
          const key = r.role === 'bogus' ? 'hp_admin_notakey' : t[r.role];
          const before = await counts();
          const res = await h.app.request(url, {
            method: method.toUpperCase(),
            headers: { authorization: `Bearer ${key}`, ...r.headers },
            body: r.body,
          });
          const text = await res.text();
          const what = `${method.toUpperCase()} ${url} as ${r.role} → ${res.status} ${text.slice(0, 300)}\nbody: ${r.body?.slice(0, 300)}`;
          expect(res.status, what).toBeLessThan(500);
          if (res.status >= 400) expect(await counts(), what).toEqual(before);
          let statuses = seen.get(`${method} ${path}`);
          if (!statuses) seen.set(`${method} ${path}`, (statuses = new Set()));
          statuses.add(res.status);
        }),
        { numRuns: RUNS },
      );
    }
    // The handlers ran, not only the validators: some requests got through.
    const succeeded = [...seen.values()].filter((s) => [...s].some((x) => x < 300)).length;
    if (process.env.HOLDPOINT_FUZZ_VERBOSE) console.log([...seen].map(([op, st]) => `${op}: ${[...st].sort().join(" ")}`).join("\n"));
    const summary = [...seen].map(([op, st]) => `${op}: ${[...st].sort().join(' ')}`).join('\n');
    expect(succeeded, summary).toBeGreaterThan(operations.length / 2);
  });
});
