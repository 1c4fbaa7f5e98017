// rate_limit's counts and cooldowns (issue 13): per_session, daily, cooldowns,
// and how on_limit, the counter ops and the engine's decision fit together.
import { describe, expect, it } from 'vitest';
import { evaluateRequest, type EvaluationRequest } from '../../src/policy/evaluate.ts';
import { counterQueries } from '../../src/policy/guards/index.ts';
import * as rl from '../../src/policy/guards/rate-limit.ts';
import { parsePolicy, type Policy, type PolicyInput } from '../../src/policy/schema.ts';

function policy(c: Record<string, unknown>): Policy {
  const r = parsePolicy({ defaults: { decision: 'allow' }, guards: { rate_limit: c } } as PolicyInput);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy;
}
const config = (c: Record<string, unknown>) => policy(c).guards!.rate_limit!;

const NOW = Date.UTC(2025, 5, 1, 22, 0, 0); // 2 h before the UTC day ends
const DAY = 86_400_000;
const req = (over: Partial<EvaluationRequest> = {}): EvaluationRequest => ({ action: 'purchase.book', agent_id: 'bot', params: {}, context: {}, ...over });
const decisions = (r: { findings: { decision: string }[] }) => r.findings.map((f) => f.decision);

describe('per_session', () => {
  const c = config({ per_session: { max: 3 } });

  it('counts calls per agent per context.session_id, any action, kept a month past the last call', () => {
    expect(rl.queries(c, req({ context: { session_id: 's1' } }), NOW)).toEqual([{ kind: 'count', key: 'rl:session:bot:s1' }]);
    const r = rl.evaluate(c, req({ action: 'anything.at_all', context: { session_id: 's1' } }), { 'rl:session:bot:s1': 2 }, NOW);
    expect(r.findings).toEqual([]);
    expect(r.ops).toEqual([{ kind: 'count', key: 'rl:session:bot:s1', amount: 1, limit: 3, ttl_ms: 31 * DAY }]);
  });

  it('the call past max gets on_limit (deny by default), naming the session', () => {
    const r = rl.evaluate(c, req({ context: { session_id: 's1' } }), { 'rl:session:bot:s1': 3 }, NOW);
    expect(r.findings).toEqual([{ guard: 'rate_limit', decision: 'deny', message: 'rate limit: 4 calls by agent bot in session s1 (max 3)', risk: 1 }]);
  });

  it('without a session id nothing is counted', () => {
    expect(rl.queries(c, req(), NOW)).toEqual([]);
    expect(rl.evaluate(c, req({ context: { session_id: '' } }), {}, NOW)).toEqual({ findings: [], ops: [] });
  });

  it('agent spellings share one count (normalised agent id)', () => {
    expect(rl.queries(c, req({ agent_id: ' BOT\u200B', context: { session_id: 's1' } }), NOW)).toEqual([{ kind: 'count', key: 'rl:session:bot:s1' }]);
  });
});

describe('daily', () => {
  const c = config({
    daily: [
      { action: 'purchase.*', max: 10 },
      { action: ['email.*', 'sms.*'], max: 100, per: 'tenant' },
    ],
  });

  it('counts per agent (default) per UTC day for the matching globs, living until the day ends plus a day', () => {
    const r = rl.evaluate(c, req(), {}, NOW);
    expect(r.ops).toEqual([{ kind: 'count', key: 'rl:day:purchase.*:agent:bot:2025-06-01', amount: 1, limit: 10, ttl_ms: 2 * 3_600_000 + DAY }]);
    expect(rl.evaluate(c, req({ action: 'search.web' }), {}, NOW)).toEqual({ findings: [], ops: [] });
  });

  it('per: tenant counts every agent together; a list of globs shares one count', () => {
    expect(rl.queries(c, req({ action: 'sms.send', agent_id: 'a' }), NOW)).toEqual([{ kind: 'count', key: 'rl:day:email.*|sms.*:tenant:2025-06-01' }]);
    expect(rl.queries(c, req({ action: 'email.send', agent_id: 'b' }), NOW)).toEqual([{ kind: 'count', key: 'rl:day:email.*|sms.*:tenant:2025-06-01' }]);
  });

  it('the eleventh call of the day is refused; the next UTC day starts again', () => {
    const r = rl.evaluate(c, req(), { 'rl:day:purchase.*:agent:bot:2025-06-01': 10 }, NOW);
    expect(r.findings).toEqual([{ guard: 'rate_limit', decision: 'deny', message: 'rate limit: 11 calls by agent bot to purchase.* today (max 10)', risk: 1 }]);
    expect(rl.queries(c, req(), NOW + 3 * 3_600_000)).toEqual([{ kind: 'count', key: 'rl:day:purchase.*:agent:bot:2025-06-02' }]);
  });

  it('two entries naming the same globs share one counter and the lower max', () => {
    const twice = config({ daily: [{ action: 'purchase.*', max: 10 }, { action: 'purchase.*', max: 4 }] });
    const r = rl.evaluate(twice, req(), {}, NOW);
    expect(r.ops).toEqual([{ kind: 'count', key: 'rl:day:purchase.*:agent:bot:2025-06-01', amount: 1, limit: 4, ttl_ms: 2 * 3_600_000 + DAY }]);
  });
});

describe('cooldowns', () => {
  const c = config({ cooldowns: [{ action: 'email.*', seconds: 30 }, { action: 'sms.send', seconds: 2.5, per: 'tenant' }] });

  it('a call starts a cooldown keyed by the concrete action, per agent by default', () => {
    expect(rl.evaluate(c, req({ action: 'email.send' }), {}, NOW).ops).toEqual([{ kind: 'gap', key: 'rl:gap:agent:bot:email.send', ttl_ms: 30_000 }]);
    expect(rl.queries(c, req({ action: 'email.draft' }), NOW)).toEqual([{ kind: 'flag', key: 'rl:gap:agent:bot:email.draft' }]);
    expect(rl.evaluate(c, req({ action: 'sms.send' }), {}, NOW).ops).toEqual([{ kind: 'gap', key: 'rl:gap:tenant:sms.send', ttl_ms: 2500 }]);
  });

  it('a call inside the cooldown is refused and starts nothing', () => {
    const r = rl.evaluate(c, req({ action: 'email.send' }), { 'rl:gap:agent:bot:email.send': 1 }, NOW);
    expect(r.findings).toEqual([{ guard: 'rate_limit', decision: 'deny', message: 'cooldown: agent bot called email.send less than 30s ago', risk: 1 }]);
    expect(r.ops).toEqual([]);
  });

  it('the action spelled differently is the same cooldown', () => {
    expect(rl.queries(c, req({ action: 'EMAIL.Send ' }), NOW)).toEqual([{ kind: 'flag', key: 'rl:gap:agent:bot:email.send' }]);
  });

  it('refuses a cooldown of zero or longer than a day', () => {
    expect(parsePolicy({ guards: { rate_limit: { cooldowns: [{ action: 'x', seconds: 0 }] } } }).ok).toBe(false);
    expect(parsePolicy({ guards: { rate_limit: { cooldowns: [{ action: 'x', seconds: 86_401 }] } } }).ok).toBe(false);
    expect(parsePolicy({ guards: { rate_limit: { daily: [{ action: [], max: 1 }] } } }).ok).toBe(false);
  });
});

describe('on_limit and the engine', () => {
  it('on_limit: require_approval sends the call past a count for approval, still counting it, with no limit to refuse it', () => {
    const c = config({ daily: [{ action: 'purchase.*', max: 1 }], on_limit: 'require_approval' });
    const r = rl.evaluate(c, req(), { 'rl:day:purchase.*:agent:bot:2025-06-01': 1 }, NOW);
    expect(decisions(r)).toEqual(['require_approval']);
    expect(r.findings[0]!.risk).toBe(0.6);
    expect(r.ops).toEqual([{ kind: 'count', key: 'rl:day:purchase.*:agent:bot:2025-06-01', amount: 1, limit: null, ttl_ms: 2 * 3_600_000 + DAY }]);
  });

  it('on_limit: require_approval applies to a cooldown too, which it does not restart', () => {
    const c = config({ cooldowns: [{ action: 'email.send', seconds: 30 }], on_limit: 'require_approval' });
    const r = rl.evaluate(c, req({ action: 'email.send' }), { 'rl:gap:agent:bot:email.send': 1 }, NOW);
    expect(decisions(r)).toEqual(['require_approval']);
    expect(r.ops).toEqual([]);
  });

  it('a denied call leaves no count or cooldown op for the edge to apply', () => {
    const p = policy({ daily: [{ action: 'purchase.*', max: 1 }], cooldowns: [{ action: 'purchase.*', seconds: 5 }] });
    const e = evaluateRequest(p, req(), { counters: { 'rl:day:purchase.*:agent:bot:2025-06-01': 1 }, now: NOW });
    expect(e.decision).toBe('deny');
    expect(e.ops).toEqual([]);
    expect(e.reasons[0]).toMatchObject({ source: 'guard', guard: 'rate_limit' });
  });

  it('counterQueries asks for nothing new when the policy uses none of the counts', () => {
    const p = policy({ per_agent: { per_minute: 5 } });
    expect(counterQueries(p, req({ context: { session_id: 's' } }), NOW)).toEqual([{ kind: 'window', key: 'rl:agent:bot', window_ms: 60_000 }]);
  });

  it('counters unavailable: the counts fail closed like every stateful guard', () => {
    const p = policy({ per_session: { max: 5 } });
    const e = evaluateRequest(p, req({ context: { session_id: 's' } }), { counters: null, now: NOW });
    expect(e.decision).toBe('deny');
    expect(e.reasons[0]!.message).toContain('rate_limit');
  });
});
