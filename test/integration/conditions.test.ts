// Time conditions and custom CEL guards through the API: the edge hands its
// clock to the pure core (the harness's clock is set per test), custom guards
// deny with their reasons, their counters live in the real Redis, and a broken
// expression is refused at PUT with its path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

let h: Harness;
let nowMs = Date.parse('2026-11-27T12:00:00Z');

beforeAll(async () => {
  h = await createHarness({ clock: () => new Date(nowMs) });
});
afterAll(() => h.close());

async function tenantWith(policy: Record<string, unknown>): Promise<TenantKeys> {
  const t = await h.tenant();
  await h.setPolicy(t, { defaults: { decision: 'allow' }, ...policy });
  return t;
}

const check = (t: TenantKeys, body: Record<string, unknown>) => h.call('POST', '/v1/check', t.agent, { agent_id: 'bot', params: {}, ...body });

describe('time conditions', () => {
  it("a business-hours rule reads the edge's clock: a payment at 16:59 on a Friday in New York goes through, at 17:00 it needs approval", async () => {
    const t = await tenantWith({
      rules: [
        {
          name: 'after-hours-payments',
          match: { action: 'payment.*', time: { tz: 'America/New_York', days: ['mon', 'tue', 'wed', 'thu', 'fri'], between: ['09:00', '17:00'], outside: true } },
          decision: 'require_approval',
          reason: 'Payments outside business hours need a human',
        },
      ],
    });
    nowMs = Date.parse('2026-11-27T21:59:00Z'); // Friday 16:59 EST
    const before = await check(t, { action: 'payment.send' });
    expect(before.status).toBe(200);
    expect(before.body.decision).toBe('allow');
    nowMs = Date.parse('2026-11-27T22:00:00Z'); // Friday 17:00 EST
    const after = await check(t, { action: 'payment.send' });
    expect(after.body.decision).toBe('require_approval');
    expect(after.body.reasons).toContainEqual(expect.objectContaining({ rule: 'after-hours-payments', message: 'Payments outside business hours need a human' }));
  });

  it('an unknown time zone is refused at PUT with its path', async () => {
    const t = await h.tenant();
    const r = await h.call('PUT', '/v1/policy', t.admin, { rules: [{ name: 'r', match: { time: { tz: 'America/Gotham', days: ['mon'] } }, decision: 'deny' }] });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('validation_failed');
    expect(r.body.error.details.problems).toEqual([{ path: 'rules.0.match.time.tz', message: expect.stringContaining('unknown time zone') }]);
  });
});

describe('custom guards', () => {
  it('a CEL guard denies a large refund before 08:00 Berlin time, with its reason, and lets it through later', async () => {
    const t = await tenantWith({
      guards: {
        custom: [
          {
            name: 'no-night-refunds',
            expression: 'action.startsWith("refund.") && params.amount > 100 && time.hour < 8',
            decision: 'deny',
            reason: 'Refunds over $100 wait for office hours',
            tz: 'Europe/Berlin',
          },
        ],
      },
    });
    nowMs = Date.parse('2026-11-27T06:30:00Z'); // 07:30 in Berlin
    const night = await check(t, { action: 'refund.issue', params: { amount: 150 } });
    expect(night.body.decision).toBe('deny');
    expect(night.body.reasons).toContainEqual(expect.objectContaining({ source: 'guard', guard: 'custom', message: 'Refunds over $100 wait for office hours' }));
    expect((await check(t, { action: 'refund.issue', params: { amount: 50 } })).body.decision).toBe('allow');
    nowMs = Date.parse('2026-11-27T07:00:00Z'); // 08:00 in Berlin
    expect((await check(t, { action: 'refund.issue', params: { amount: 150 } })).body.decision).toBe('allow');
  });

  it('a counter-based guard denies the fourth refund in an hour for that agent only, and a refused call is not counted', async () => {
    nowMs = Date.parse('2026-11-27T12:00:00Z');
    const t = await tenantWith({
      guards: {
        custom: [
          {
            name: 'refund-flood',
            expression: 'counters.refunds_1h >= 3',
            decision: 'deny',
            reason: 'At most three refunds an hour',
            counters: { refunds_1h: { window_seconds: 3600, action: 'refund.*' } },
          },
        ],
      },
    });
    const decisions: string[] = [];
    for (let i = 0; i < 5; i++) {
      nowMs += 1000;
      decisions.push((await check(t, { action: 'refund.issue', params: { amount: 10 } })).body.decision);
    }
    expect(decisions).toEqual(['allow', 'allow', 'allow', 'deny', 'deny']);
    // Other actions read the counter but do not add to it; another agent has its own.
    expect((await check(t, { action: 'email.send' })).body.decision).toBe('deny');
    expect((await check(t, { action: 'refund.issue', agent_id: 'other' })).body.decision).toBe('allow');
    // An hour later the window is empty again.
    nowMs += 3_600_000;
    expect((await check(t, { action: 'refund.issue' })).body.decision).toBe('allow');
  });

  it('a missing params key fails the guard closed through the API', async () => {
    const t = await tenantWith({ guards: { custom: [{ name: 'big', expression: 'params.amount > 100', decision: 'require_approval' }] } });
    const r = await check(t, { action: 'refund.issue', params: {} });
    expect(r.body.decision).toBe('deny');
    expect(JSON.stringify(r.body.reasons)).toContain('No such key: amount');
  });

  it('an expression that does not parse is refused at PUT with its path, and the previous policy stays', async () => {
    const t = await tenantWith({ guards: { custom: [{ name: 'ok', expression: 'params.amount > 100', decision: 'deny' }] } });
    const r = await h.call('PUT', '/v1/policy', t.admin, { guards: { custom: [{ name: 'bad', expression: 'params.amount >', decision: 'deny' }] } });
    expect(r.status).toBe(400);
    expect(r.body.error.details.problems).toEqual([{ path: 'guards.custom.0.expression', message: expect.stringMatching(/^does not parse/) }]);
    expect((await check(t, { action: 'x', params: { amount: 500 } })).body.decision).toBe('deny');
  });
});
