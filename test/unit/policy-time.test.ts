import { describe, expect, it } from 'vitest';
import { evaluate, evaluateRequest, type EvaluationRequest } from '../../src/policy/evaluate.ts';
import { parsePolicy, type Policy, type PolicyInput } from '../../src/policy/schema.ts';
import { localTime, timeConditionHolds, TimeConditionSchema } from '../../src/policy/time.ts';

const at = (iso: string) => Date.parse(iso);

function policy(doc: PolicyInput): Policy {
  const r = parsePolicy(doc);
  if (!r.ok) throw new Error(`policy did not parse: ${JSON.stringify(r.problems)}`);
  return r.policy;
}

const req = (over: Partial<EvaluationRequest> = {}): EvaluationRequest => ({ action: 'payment.send', agent_id: 'bot', params: {}, context: {}, ...over });

const businessHours = policy({
  defaults: { decision: 'allow' },
  rules: [
    {
      name: 'after-hours-payments',
      match: { action: 'payment.*', time: { tz: 'America/New_York', days: ['mon', 'tue', 'wed', 'thu', 'fri'], between: ['09:00', '17:00'], outside: true } },
      decision: 'require_approval',
    },
  ],
});

const cond = (c: unknown) => TimeConditionSchema.parse(c);

describe('localTime', () => {
  it('reads the wall clock of the zone, not of the machine', () => {
    // 2026-11-27 is a Friday; New York is on EST (UTC−5) after 1 November.
    expect(localTime(at('2026-11-27T21:59:00Z'), 'America/New_York')).toEqual({ weekday: 'fri', hour: 16, minute: 59, date: '2026-11-27', tz: 'America/New_York' });
    expect(localTime(at('2026-11-27T23:30:00Z'), 'Europe/Berlin')).toEqual({ weekday: 'sat', hour: 0, minute: 30, date: '2026-11-28', tz: 'Europe/Berlin' });
  });
});

describe('time condition on a rule', () => {
  it('lets a payment through at 16:59 on a Friday in New York and asks for approval at 17:00', () => {
    expect(evaluate(businessHours, req(), at('2026-11-27T21:59:00Z')).decision).toBe('allow');
    const after = evaluate(businessHours, req(), at('2026-11-27T22:00:00Z'));
    expect(after.decision).toBe('require_approval');
    expect(after.matched_rules).toEqual(['after-hours-payments']);
  });

  it('asks for approval all Saturday and at 08:59 on a Monday, not at 09:00', () => {
    expect(evaluate(businessHours, req(), at('2026-11-28T17:00:00Z')).decision).toBe('require_approval');
    expect(evaluate(businessHours, req(), at('2026-11-30T13:59:00Z')).decision).toBe('require_approval');
    expect(evaluate(businessHours, req(), at('2026-11-30T14:00:00Z')).decision).toBe('allow');
  });

  it('follows the daylight-saving change: 13:30 UTC is before hours on the Friday before it and inside them on the Monday after', () => {
    // US clocks moved forward on Sunday 2026-03-08 (EST UTC−5 → EDT UTC−4).
    expect(evaluate(businessHours, req(), at('2026-03-06T13:30:00Z')).decision).toBe('require_approval'); // 08:30 EST
    expect(evaluate(businessHours, req(), at('2026-03-09T13:30:00Z')).decision).toBe('allow'); // 09:30 EDT
  });

  it('never matches an hour that a spring-forward day skips, and matches both passes of the hour an autumn day repeats', () => {
    const skipped = cond({ tz: 'America/New_York', between: ['02:00', '03:00'] });
    expect(timeConditionHolds(skipped, at('2026-03-08T06:59:00Z'))).toBe(false); // 01:59 EST
    expect(timeConditionHolds(skipped, at('2026-03-08T07:00:00Z'))).toBe(false); // 03:00 EDT
    const repeated = cond({ tz: 'America/New_York', between: ['01:00', '02:00'] });
    expect(timeConditionHolds(repeated, at('2026-11-01T05:30:00Z'))).toBe(true); // 01:30 EDT
    expect(timeConditionHolds(repeated, at('2026-11-01T06:30:00Z'))).toBe(true); // 01:30 EST
    expect(timeConditionHolds(repeated, at('2026-11-01T07:00:00Z'))).toBe(false); // 02:00 EST
  });

  it('handles Europe/Berlin moving to summer time on its own date', () => {
    const morning = cond({ tz: 'Europe/Berlin', between: ['08:00', '09:00'] });
    expect(timeConditionHolds(morning, at('2026-03-28T07:30:00Z'))).toBe(true); // 08:30 CET
    expect(timeConditionHolds(morning, at('2026-03-29T07:30:00Z'))).toBe(false); // 09:30 CEST
    expect(timeConditionHolds(morning, at('2026-03-29T06:30:00Z'))).toBe(true); // 08:30 CEST
  });

  it('wraps a window past midnight: start inclusive, end exclusive', () => {
    const night = cond({ between: ['22:00', '06:00'] });
    expect(timeConditionHolds(night, at('2026-11-27T21:59:00Z'))).toBe(false);
    expect(timeConditionHolds(night, at('2026-11-27T22:00:00Z'))).toBe(true);
    expect(timeConditionHolds(night, at('2026-11-28T00:00:00Z'))).toBe(true);
    expect(timeConditionHolds(night, at('2026-11-28T05:59:00Z'))).toBe(true);
    expect(timeConditionHolds(night, at('2026-11-28T06:00:00Z'))).toBe(false);
  });

  it('inverts with outside, and a days-only condition matches whole days', () => {
    const weekend = cond({ days: ['sat', 'sun'] });
    expect(timeConditionHolds(weekend, at('2026-11-28T00:00:00Z'))).toBe(true);
    expect(timeConditionHolds(weekend, at('2026-11-27T23:59:00Z'))).toBe(false);
    const weekdays = cond({ days: ['sat', 'sun'], outside: true });
    expect(timeConditionHolds(weekdays, at('2026-11-27T23:59:00Z'))).toBe(true);
    const untilMidnight = cond({ between: ['18:00', '24:00'] });
    expect(timeConditionHolds(untilMidnight, at('2026-11-27T23:59:00Z'))).toBe(true);
    expect(timeConditionHolds(untilMidnight, at('2026-11-28T00:00:00Z'))).toBe(false);
  });

  it('reads time from the evaluation context in evaluateRequest', () => {
    const ctx = (iso: string) => ({ counters: {}, now: at(iso) });
    expect(evaluateRequest(businessHours, req(), ctx('2026-11-27T21:59:00Z')).decision).toBe('allow');
    expect(evaluateRequest(businessHours, req(), ctx('2026-11-27T22:00:00Z')).decision).toBe('require_approval');
  });

  it('fails closed when a rule with a time condition is evaluated without a current time', () => {
    const r = evaluate(businessHours, req());
    expect(r.decision).toBe('deny');
    expect(r.reasons[0]!.message).toContain('no current time');
  });
});

describe('time condition validation', () => {
  const problems = (time: unknown) => {
    const r = parsePolicy({ rules: [{ name: 'r', match: { time }, decision: 'deny' }] });
    if (r.ok) throw new Error('expected the policy to be refused');
    return r.problems;
  };

  it('refuses an unknown time zone at its path', () => {
    const ps = problems({ tz: 'Mars/Olympus_Mons', days: ['mon'] });
    expect(ps).toEqual([{ path: 'rules.0.match.time.tz', message: expect.stringContaining('unknown time zone "Mars/Olympus_Mons"') }]);
  });

  it('refuses a time that is not HH:MM, and 24:00 as a start', () => {
    expect(problems({ between: ['9:00', '17:00'] }).map((p) => p.path)).toEqual(['rules.0.match.time.between.0']);
    expect(problems({ between: ['09:00', '17:60'] }).map((p) => p.path)).toEqual(['rules.0.match.time.between.1']);
    expect(problems({ between: ['24:00', '06:00'] }).map((p) => p.path)).toEqual(['rules.0.match.time.between.0']);
  });

  it('refuses a condition with neither days nor between, an empty window and an unknown day', () => {
    expect(problems({ tz: 'UTC' })[0]!.message).toContain('needs days, between, or both');
    expect(problems({ between: ['09:00', '09:00'] }).map((p) => p.path)).toEqual(['rules.0.match.time.between']);
    expect(problems({ days: ['monday'] }).map((p) => p.path)).toEqual(['rules.0.match.time.days.0']);
  });
});
