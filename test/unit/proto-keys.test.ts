// "__proto__" and "constructor" keys sent by an agent are data at every step
// after the edge: the request hash, the Slack message, the redaction copy.
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/approvals/chain.ts';
import { requestHash } from '../../src/services/approvals.ts';
import { approvalMessage } from '../../src/slack/blocks.ts';
import { detect, redact } from '../../src/policy/guards/index.ts';
import { parsePolicy } from '../../src/policy/schema.ts';

const sent = () => JSON.parse('{"__proto__":{"x":1},"constructor":"y"}') as Record<string, unknown>;

describe('prototype keys are data', () => {
  it('canonical JSON and the request hash include them, so a different __proto__ is a different request', () => {
    expect(canonicalJson(sent())).toBe('{"__proto__":{"x":1},"constructor":"y"}');
    const other = JSON.parse('{"__proto__":{"x":2},"constructor":"y"}');
    expect(requestHash('a', 'b', sent())).not.toBe(requestHash('a', 'b', other));
    expect(requestHash('a', 'b', sent())).not.toBe(requestHash('a', 'b', { constructor: 'y' }));
  });

  it('the Slack message shows them', () => {
    const text = JSON.stringify(approvalMessage({ id: '0190d5a0-0000-7000-8000-000000000001', action: 'pay', agent_id: 'bot', params: sent(), context: {}, status: 'pending', reasons: [], votes: [], required_approvals: 1, expires_at: '2030-01-01T00:00:00.000Z', created_at: '2029-12-31T00:00:00.000Z' } as never).blocks);
    expect(text).toContain('__proto__');
    expect(text).toContain('constructor');
  });

  it('a secret under a "__proto__" key is found and masked in the copy, and the key stays', () => {
    const parsed = parsePolicy({ defaults: { decision: 'allow' }, guards: { sensitive_data: {} } });
    if (!parsed.ok) throw new Error('policy');
    const params = JSON.parse('{"__proto__":"card 4111 1111 1111 1111","constructor":{"__proto__":{"password":"hunter2"}}}');
    const { params: out, redacted_paths } = redact(params, detect(params, parsed.policy.guards!.sensitive_data!));
    expect(Object.keys(out)).toEqual(['__proto__', 'constructor']);
    expect(JSON.stringify(out)).toBe('{"__proto__":"card [REDACTED:credit_card]","constructor":{"__proto__":{"password":"[REDACTED:field]"}}}');
    expect(redacted_paths.sort()).toEqual(['params.__proto__', 'params.constructor.__proto__.password']);
  });
});
