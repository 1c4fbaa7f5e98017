import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateRequest, type EvaluationRequest } from '../../src/policy/evaluate.ts';
import { detect, luhn, redact, scanString } from '../../src/policy/guards/index.ts';
import { parsePolicy, type Policy, type PolicyInput } from '../../src/policy/schema.ts';

function policy(doc: PolicyInput): Policy {
  const r = parsePolicy(doc);
  if (!r.ok) throw new Error(`policy did not parse: ${JSON.stringify(r.problems)}`);
  return r.policy;
}

const sensitive = (cfg: Record<string, unknown> = {}) => policy({ defaults: { decision: 'allow' }, guards: { sensitive_data: cfg as never } }).guards!.sensitive_data!;
const req = (params: Record<string, unknown>): EvaluationRequest => ({ action: 'email.send', agent_id: 'bot', params, context: {} });
const NOW = Date.UTC(2025, 5, 15, 12);
const detectors = (s: string) => scanString(s).map((f) => f.detector);
const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

describe('luhn', () => {
  it('accepts valid card numbers and refuses a changed last digit', () => {
    expect(luhn('4111111111111111')).toBe(true);
    expect(luhn('4111111111111112')).toBe(false);
    expect(luhn('5500000000000004')).toBe(true);
    expect(luhn('378282246310005')).toBe(true);
    expect(luhn('378282246310006')).toBe(false);
  });

  it('refuses anything that is not all digits', () => {
    expect(luhn('4111-1111')).toBe(false);
    expect(luhn('')).toBe(false);
  });
});

describe('detectors', () => {
  it('finds Luhn-valid card numbers with spaces, dashes or none, and only those', () => {
    expect(detectors('card 4111 1111 1111 1111 ok')).toEqual(['credit_card']);
    expect(detectors('4111-1111-1111-1111')).toEqual(['credit_card']);
    expect(detectors('5500000000000004')).toEqual(['credit_card']);
    expect(detectors('amex 3782 822463 10005')).toEqual(['credit_card']);
    expect(detectors('4111 1111 1111 1112')).toEqual([]);
    expect(detectors('order 1234567890123')).toEqual([]); // 13 digits but a first digit no card has, or no Luhn
    expect(detectors('1700000000000')).toEqual([]); // a millisecond timestamp
  });

  it('finds a card even when other digit groups touch it', () => {
    const spans = scanString('ref 12 4111 1111 1111 1111 99');
    expect(spans).toHaveLength(1);
    expect('ref 12 4111 1111 1111 1111 99'.slice(spans[0]!.start, spans[0]!.end)).toBe('4111 1111 1111 1111');
  });

  it('finds US SSNs in a valid format and skips impossible areas, groups and serials', () => {
    expect(detectors('ssn 078-05-1120')).toEqual(['us_ssn']);
    expect(detectors('123 45 6789')).toEqual(['us_ssn']);
    expect(detectors('000-12-3456')).toEqual([]);
    expect(detectors('666-12-3456')).toEqual([]);
    expect(detectors('912-12-3456')).toEqual([]);
    expect(detectors('123-00-4567')).toEqual([]);
    expect(detectors('123-45-0000')).toEqual([]);
    expect(detectors('123-45 6789')).toEqual([]);
    expect(detectors('2024-01-15')).toEqual([]);
  });

  it('finds email addresses and not things that only look a bit like them', () => {
    expect(detectors('write to jane.doe+x@mail.example.co.uk today')).toEqual(['email']);
    expect(detectors('user@localhost')).toEqual([]);
    expect(detectors('@handle and a@b')).toEqual([]);
  });

  it('finds E.164 and common NANP phone numbers but not plain short numbers', () => {
    expect(detectors('+14155552671')).toEqual(['phone']);
    expect(detectors('+447911123456')).toEqual(['phone']);
    expect(detectors('(415) 555-2671')).toEqual(['phone']);
    expect(detectors('call 415-555-2671 or 415.555.2671')).toEqual(['phone', 'phone']);
    expect(detectors('+1 415 555 2671')).toEqual(['phone']);
    expect(detectors('order 12345, qty 42, id 4155552671')).toEqual([]);
    expect(detectors('version 1.2.3')).toEqual([]);
  });

  it('finds AWS access key ids', () => {
    expect(detectors('key=AKIAIOSFODNN7EXAMPLE')).toEqual(['aws_access_key']);
    expect(detectors('ASIAY34FZKBOKMUTVV7A')).toEqual(['aws_access_key']);
    expect(detectors('AKIAIOSFODNN7EXAMPL')).toEqual([]);
    expect(detectors('AKIAiosfodnn7example')).toEqual([]);
  });

  it('finds private-key blocks, even a truncated one', () => {
    expect(detectors('x -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- y')).toEqual(['private_key']);
    expect(detectors('-----BEGIN PRIVATE KEY-----\nMIIEv')).toEqual(['private_key']);
    expect(detectors('-----BEGIN PUBLIC KEY-----\nMIIB')).toEqual([]);
  });

  it('finds JWTs whose header decodes to JSON with alg, and not other dotted words', () => {
    expect(detectors(`token ${JWT}`)).toContain('jwt');
    expect(detectors('archive_name.tar.gz')).toEqual([]);
    expect(detectors('abcdefghij.klmnop.qrstuv')).toEqual([]);
  });

  it('finds bearer tokens and API-key shapes, keeping the scheme readable', () => {
    expect(detectors('Bearer abc.def')).toEqual(['bearer_token']);
    expect(detectors('sk-proj-abcdefghijklmnopqrstuvwx')).toEqual(['bearer_token']);
    expect(detectors('ghp_' + 'A1b2C3d4'.repeat(5))).toEqual(['bearer_token']);
    expect(detectors('xoxb-123456789012-abcdef')).toEqual(['bearer_token']);
    expect(detectors('xoxp-123456789012-abcdef')).toEqual(['bearer_token']);
    expect(detectors('Bearer tokens are short-lived')).toEqual([]);
    expect(detectors('task-list and sk-short')).toEqual([]);
    const s = 'Authorization: Bearer abc.def';
    const [span] = scanString(s);
    expect(s.slice(span!.start, span!.end)).toBe('abc.def');
  });

  it('finds custom named patterns and values under sensitive field names, anywhere in params', () => {
    const cfg = sensitive({ custom: [{ name: 'employee_id', pattern: 'EMP-\\d{6}' }] });
    const found = detect({ staff: [{ id: 'EMP-123456' }], creds: { Password: 'hunter2', API_KEY: { nested: true }, 'api-key': 'x' } }, cfg);
    expect(found.map((f) => [f.detector, f.path])).toEqual([
      ['employee_id', 'params.staff.0.id'],
      ['field', 'params.creds.Password'],
      ['field', 'params.creds.API_KEY'],
      ['field', 'params.creds.api-key'],
    ]);
  });

  it('finds emails in nested arrays and numbers that are card numbers', () => {
    const found = detect({ to: [['a@example.com'], { cc: ['b@example.org'] }], pan: 4111111111111111 }, sensitive());
    expect(found.map((f) => [f.detector, f.path])).toEqual([
      ['email', 'params.to.0.0'],
      ['email', 'params.to.1.cc.0'],
      ['credit_card', 'params.pan'],
    ]);
  });

  it('runs only the detectors the config names', () => {
    const found = detect({ a: 'a@example.com', b: '+14155552671' }, sensitive({ detectors: ['phone'], field_names: [] }));
    expect(found.map((f) => f.detector)).toEqual(['phone']);
  });

  it('never puts the matched value in a finding', () => {
    const found = detect({ a: 'x 4111 1111 1111 1111 y', b: 'me@example.com' }, sensitive());
    const json = JSON.stringify(found);
    expect(json).not.toContain('4111');
    expect(json).not.toContain('me@example.com');
  });

  it('scans a long string without matches in linear time', () => {
    const long = 'a'.repeat(200_000) + '1 '.repeat(50_000);
    const t = process.hrtime.bigint();
    expect(scanString(long)).toEqual([]);
    expect(Number(process.hrtime.bigint() - t) / 1e6).toBeLessThan(1000);
  });
});

describe('redact', () => {
  it('masks only the sensitive span of a string and whole values under sensitive fields, in a deep copy', () => {
    const params = { note: 'pay 4111 1111 1111 1111 for bob@example.com now', auth: { token: { a: 1 } }, keep: 7 };
    const { params: out, redacted_paths } = redact(params, detect(params, sensitive()));
    expect(out).toEqual({ note: 'pay [REDACTED:credit_card] for [REDACTED:email] now', auth: { token: '[REDACTED:field]' }, keep: 7 });
    expect(redacted_paths).toEqual(['params.note', 'params.auth.token']);
    expect(params.note).toContain('4111'); // the original is untouched
  });

  it('merges overlapping findings into one mask', () => {
    const params = { h: `Bearer ${JWT}` };
    const { params: out } = redact(params, detect(params, sensitive()));
    expect(out.h).toMatch(/^Bearer \[REDACTED:[a-z_]+\]$/);
  });

  it('keeps a "__proto__" key a plain key', () => {
    const params = JSON.parse('{"__proto__": {"email": "x@example.com"}}') as Record<string, unknown>;
    const { params: out } = redact(params, detect(params, sensitive()));
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"email":"[REDACTED:email]"}}');
  });
});

describe('the sensitive_data guard in a decision', () => {
  it('redact makes the decision modify and carries the masked params and their paths', () => {
    const p = policy({ defaults: { decision: 'allow' }, guards: { sensitive_data: {} } });
    const e = evaluateRequest(p, req({ to: 'bob@example.com', body: 'hi' }), { counters: {}, now: NOW });
    expect(e.decision).toBe('modify');
    expect(e.params).toEqual({ to: '[REDACTED:email]', body: 'hi' });
    expect(e.redacted_paths).toEqual(['params.to']);
    expect(e.reasons).toContainEqual({ source: 'guard', guard: 'sensitive_data', decision: 'modify', message: 'email at params.to (redacted)' });
  });

  it('per_detector overrides on_finding: a card denies, an email is still redacted in the returned params', () => {
    const p = policy({ defaults: { decision: 'allow' }, guards: { sensitive_data: { on_finding: 'require_approval', per_detector: { credit_card: 'deny', email: 'redact' } } } });
    const e = evaluateRequest(p, req({ card: '4111111111111111', to: 'a@example.com' }), { counters: {}, now: NOW });
    expect(e.decision).toBe('deny');
    expect(e.params).toEqual({ card: '[REDACTED:credit_card]', to: '[REDACTED:email]' });
    const a = evaluateRequest(p, req({ ssn: '078-05-1120' }), { counters: {}, now: NOW });
    expect(a.decision).toBe('require_approval');
    expect(a.params).toEqual({ ssn: '[REDACTED:us_ssn]' });
    expect(a.routing).not.toBeNull();
  });

  it('clean params change nothing and carry no params', () => {
    const p = policy({ defaults: { decision: 'allow' }, guards: { sensitive_data: {} } });
    const e = evaluateRequest(p, req({ n: 12, s: 'nothing to see' }), { counters: {}, now: NOW });
    expect(e.decision).toBe('allow');
    expect(e.params).toBeUndefined();
    expect(e.redacted_paths).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// Property: whatever the nesting and the surrounding text, no injected secret
// survives anywhere in the evaluation.

const digits = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n });
const cardNumber = fc.tuple(fc.constantFrom(2, 3, 4, 5, 6), fc.integer({ min: 12, max: 18 }).chain((n) => digits(n))).map(([first, rest]) => {
  const body = [first, ...rest.slice(0, -1)];
  for (let check = 0; check < 10; check++) {
    const s = [...body, check].join('');
    if (luhn(s)) return s;
  }
  throw new Error('unreachable');
});
const formattedCard = fc.tuple(cardNumber, fc.constantFrom('', ' ', '-')).map(([c, sep]) => c.replace(/(\d{4})(?=\d)/g, `$1${sep}`));
const awsKey = fc.tuple(fc.constantFrom('AKIA', 'ASIA'), fc.stringMatching(/^[A-Z0-9]{16}$/)).map(([a, b]) => a + b);
const secret = fc.oneof(formattedCard, fc.emailAddress(), awsKey);
const filler = fc.string({ maxLength: 12 });

// A secret inside some text, at some depth, among other keys and arrays.
const carrier = fc.tuple(filler, secret, filler).map(([a, s, b]) => ({ text: `${a} ${s} ${b}`, secret: s }));
const nested = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    carrier.map((c) => ({ value: c.text as unknown, secrets: [c.secret] })),
    fc.array(tie('node'), { maxLength: 3 }).map((xs) => {
      const ys = xs as { value: unknown; secrets: string[] }[];
      return { value: ys.map((x) => x.value) as unknown, secrets: ys.flatMap((x) => x.secrets) };
    }),
    fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), tie('node'), { maxKeys: 3 }).map((d) => {
      const es = Object.entries(d as Record<string, { value: unknown; secrets: string[] }>);
      return { value: Object.fromEntries(es.map(([k, x]) => [k, x.value])) as unknown, secrets: es.flatMap(([, x]) => x.secrets) };
    }),
  ),
})).node;

describe('redaction never leaks', () => {
  it('the JSON of the whole evaluation contains none of the injected values, whatever each detector decides', () => {
    fc.assert(
      fc.property(nested, fc.constantFrom('redact', 'deny', 'require_approval') as fc.Arbitrary<'redact'>, (tree, onFinding) => {
        const p = policy({ defaults: { decision: 'allow' }, guards: { sensitive_data: { on_finding: onFinding, field_names: [] } } });
        const e = evaluateRequest(p, req({ data: tree.value }), { counters: {}, now: NOW });
        const json = JSON.stringify(e);
        for (const s of tree.secrets) expect(json).not.toContain(s);
        if (tree.secrets.length > 0) {
          expect(e.params).toBeDefined();
          expect(e.decision).toBe(onFinding === 'redact' ? 'modify' : onFinding);
        }
      }),
      { numRuns: 300 },
    );
  });
});
