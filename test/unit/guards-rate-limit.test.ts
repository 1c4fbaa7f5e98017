import { describe, expect, it } from 'vitest';
import * as rl from '../../src/policy/guards/rate-limit.ts';
import { paramsHash } from '../../src/policy/guards/index.ts';
import type { EvaluationRequest } from '../../src/policy/evaluate.ts';
import { parsePolicy, type PolicyInput } from '../../src/policy/schema.ts';

function config(c: Record<string, unknown>) {
  const r = parsePolicy({ guards: { rate_limit: c } } as PolicyInput);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy.guards!.rate_limit!;
}

const NOW = Date.UTC(2025, 5, 1);
const req = (over: Partial<EvaluationRequest> = {}): EvaluationRequest => ({ action: 'search.web', agent_id: 'bot', params: { q: 'x' }, context: {}, ...over });
const full = config({
  per_agent: { per_minute: 60 },
  per_action: { per_minute: 100 },
  per_agent_action: { per_minute: 10 },
  burst: { max: 20, window_seconds: 10, cooldown_seconds: 60 },
  max_identical_calls: { count: 3, window_seconds: 300 },
});
const same = `rl:same:bot|search.web|${paramsHash({ q: 'x' })}`;
const decisions = (r: { findings: { decision: string }[] }) => r.findings.map((f) => f.decision);

describe('rate limit queries', () => {
  it('asks for every window and the cooldown flag, under tenant-relative keys', () => {
    expect(rl.queries(full, req(), NOW)).toEqual([
      { kind: 'window', key: 'rl:agent:bot', window_ms: 60_000 },
      { kind: 'window', key: 'rl:action:search.web', window_ms: 60_000 },
      { kind: 'window', key: 'rl:aa:bot|search.web', window_ms: 60_000 },
      { kind: 'window', key: 'rl:burst:bot', window_ms: 10_000 },
      { kind: 'window', key: same, window_ms: 300_000 },
      { kind: 'flag', key: 'rl:cool:bot' },
    ]);
  });

  it('the identical-call key does not depend on the order of params keys', () => {
    expect(paramsHash({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(paramsHash({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(paramsHash({ a: 1 })).not.toBe(paramsHash({ a: 2 }));
  });
});

describe('rate limit evaluation', () => {
  it('under every limit: no finding, and a hit on every window', () => {
    const r = rl.evaluate(full, req(), {}, NOW);
    expect(r.findings).toEqual([]);
    expect(r.ops).toEqual(rl.queries(full, req(), NOW).flatMap((q) => (q.kind === 'window' ? [{ kind: 'hit', key: q.key, window_ms: q.window_ms, amount: 1 }] : [])));
  });

  it('the call after the per-minute limit is stopped; the one that reaches it is not', () => {
    expect(decisions(rl.evaluate(full, req(), { 'rl:agent:bot': 59 }, NOW))).toEqual([]);
    const over = rl.evaluate(full, req(), { 'rl:agent:bot': 60 }, NOW);
    expect(over.findings).toEqual([{ guard: 'rate_limit', decision: 'deny', message: 'rate limit: agent bot made 61 calls in the last minute (max 60)', risk: 1 }]);
    expect(decisions(rl.evaluate(full, req(), { 'rl:action:search.web': 100 }, NOW))).toEqual(['deny']);
    expect(decisions(rl.evaluate(full, req(), { 'rl:aa:bot|search.web': 10 }, NOW))).toEqual(['deny']);
  });

  it('a burst denies and raises the cooldown flag for cooldown_seconds', () => {
    const r = rl.evaluate(full, req(), { 'rl:burst:bot': 20 }, NOW);
    expect(decisions(r)).toEqual(['deny']);
    expect(r.findings[0]!.message).toMatch(/^burst: agent bot made 21 calls in 10s \(max 20\); cooling down for 60s$/);
    expect(r.ops).toContainEqual({ kind: 'flag', key: 'rl:cool:bot', ttl_ms: 60_000 });
    expect(rl.evaluate(full, req(), { 'rl:burst:bot': 19 }, NOW).ops.some((o) => o.kind === 'flag')).toBe(false);
  });

  it('while the cooldown flag is up every call is denied, even a quiet one', () => {
    const r = rl.evaluate(full, req(), { 'rl:cool:bot': 1 }, NOW);
    expect(r.findings).toEqual([{ guard: 'rate_limit', decision: 'deny', message: 'agent bot is cooling down after a burst', risk: 1 }]);
  });

  it('identical calls are stopped at count + 1, and different params are not', () => {
    expect(decisions(rl.evaluate(full, req(), { [same]: 2 }, NOW))).toEqual([]);
    const loop = rl.evaluate(full, req(), { [same]: 3 }, NOW);
    expect(loop.findings).toEqual([{ guard: 'rate_limit', decision: 'deny', message: 'loop: agent bot on search.web made the same call 4 times in 300s (max 3)', risk: 1 }]);
    expect(decisions(rl.evaluate(full, req({ params: { q: 'y' } }), { [same]: 3 }, NOW))).toEqual([]);
  });

  it('on_limit: require_approval asks a human instead of denying, but a burst still denies', () => {
    const soft = config({ per_agent: { per_minute: 1 }, burst: { max: 5, window_seconds: 10 }, on_limit: 'require_approval' });
    expect(decisions(rl.evaluate(soft, req(), { 'rl:agent:bot': 1 }, NOW))).toEqual(['require_approval']);
    expect(decisions(rl.evaluate(soft, req(), { 'rl:burst:bot': 5 }, NOW))).toEqual(['deny']);
  });
});
