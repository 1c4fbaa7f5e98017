// The dashboard's pure parts: gauge states, the chart's buckets, the time in a
// decision id, and the feed row's escaping.
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/ids.ts';
import { budgetGauges, gaugeState } from '../../src/services/budget-gauges.ts';
import { parsePolicy } from '../../src/policy/schema.ts';
import { FeedRowView } from '../../src/ui/dashboard.tsx';
import { fillSeries, seriesOrigin } from '../../src/ui/dashboard-data.ts';
import { idTime } from '../../src/ui/dashboard-stream.ts';

describe('gauge states', () => {
  it('turn amber at the warn threshold and red from 95%, or from the threshold when that is higher', () => {
    expect(gaugeState(0.79, 0.8)).toBe('ok');
    expect(gaugeState(0.8, 0.8)).toBe('warn');
    expect(gaugeState(0.949, 0.8)).toBe('warn');
    expect(gaugeState(0.95, 0.8)).toBe('danger');
    expect(gaugeState(1, 0.8)).toBe('danger');
    expect(gaugeState(0.97, 0.98)).toBe('ok');
    expect(gaugeState(0.98, 0.98)).toBe('danger');
  });
});

describe('budget gauges', () => {
  const store = (doc: unknown) => {
    const parsed = parsePolicy(doc);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    return { current: async () => ({ version: 1, policy: parsed.policy }) } as never;
  };
  const now = Date.parse('2026-11-30T10:00:00Z');
  const agents = [{ agent_id: 'a:1', calls: 3 }];

  it("read each agent's day and month buckets and the tenant's, by the budget guard's own key names", async () => {
    const asked: string[] = [];
    const counters = {
      read: async (_t: string, qs: { key: string }[]) => {
        asked.push(...qs.map((q) => q.key));
        return { 'bud:agent:a:1:day:2026-11-30': 9.6, 'bud:tenant:month:2026-11': 10 };
      },
    } as never;
    const v = await budgetGauges({ policies: store({ guards: { budget: { per_agent: { day: 10, month: 100 }, per_tenant: { month: 1000 } } } }), counters }, 't', agents, now);
    expect(asked.sort()).toEqual(['bud:agent:a:1:day:2026-11-30', 'bud:agent:a:1:month:2026-11', 'bud:tenant:month:2026-11']);
    expect(v.agents[0]!.gauges.map((g) => [g.period, g.spent_usd, g.limit_usd, g.state])).toEqual([
      ['day', 9.6, 10, 'danger'],
      ['month', 0, 100, 'ok'],
    ]);
    expect(v.tenant.map((g) => [g.period, g.state])).toEqual([['tenant month', 'ok']]);
    expect(v).toMatchObject({ configured: true, session_only: false, unavailable: false, warn: 0.8, danger: 0.95 });
  });

  it('say when there is no budget guard, only session limits, or no counters to read', async () => {
    const none = await budgetGauges({ policies: store({}), counters: {} as never }, 't', agents, now);
    expect(none).toMatchObject({ configured: false, agents: [{ agent_id: 'a:1', gauges: [] }] });
    const failing = { read: async () => Promise.reject(new Error('redis down')) } as never;
    const session = await budgetGauges({ policies: store({ guards: { budget: { per_agent: { session: 5 } } } }), counters: failing }, 't', agents, now);
    expect(session).toMatchObject({ configured: true, session_only: true, agents: [{ gauges: [] }] });
    const down = await budgetGauges({ policies: store({ guards: { budget: { per_agent: { day: 5 } } } }), counters: failing }, 't', agents, now);
    expect(down.unavailable).toBe(true);
  });
});

describe('the risk chart buckets', () => {
  it('start on a whole step and run to now, empty ones filled with nothing', () => {
    const now = new Date('2026-11-30T10:32:08Z');
    const since = new Date(now.getTime() - 86_400_000);
    const origin = seriesOrigin(since, '24h');
    expect(origin.toISOString()).toBe('2026-11-29T10:00:00.000Z');
    const seen = { at: new Date('2026-11-30T09:00:00Z'), n: 3, avg: 0.2, max: 0.5, denied: 1 };
    const s = fillSeries([seen], origin, now, '24h');
    expect(s).toHaveLength(25);
    expect(s.at(-1)!.at.toISOString()).toBe('2026-11-30T10:00:00.000Z');
    expect(s.at(-2)).toBe(seen);
    expect(s[0]).toMatchObject({ n: 0, avg: null, max: null });
    expect(seriesOrigin(new Date('2026-11-30T10:32:08Z'), '1h').toISOString()).toBe('2026-11-30T10:30:00.000Z');
    expect(seriesOrigin(new Date('2026-11-30T10:32:08Z'), '7d').toISOString()).toBe('2026-11-30T06:00:00.000Z');
  });
});

describe('resuming the live feed', () => {
  it('reads the time out of a uuidv7 decision id, and nothing out of anything else', () => {
    expect(idTime(uuidv7(1_764_498_728_123))).toBe(1_764_498_728_123);
    expect(idTime('8ed8fe88-c959-427d-a293-b928f55fa1d2')).toBeNull();
    expect(idTime('12')).toBeNull();
    expect(idTime(undefined)).toBeNull();
  });
});

describe('a feed row', () => {
  it('escapes what the agent wrote: action, agent id and reasons', async () => {
    const html = String(
      await FeedRowView({
          d: {
            id: '0193a0b0-0000-7000-8000-000000000001',
            kind: 'guard',
            action: '<img src=x onerror=alert(1)>',
            agent_id: '"><script>x()</script>',
            decision: 'deny',
            reasons: [{ source: 'rule', rule: '<b>r</b>', decision: 'deny', message: '<i>m</i>' }],
            risk_score: 1,
            cost_usd: '0.5',
            approval_id: null,
            approval_status: null,
            created_at: new Date('2026-11-30T10:00:00Z'),
          },
        }),
    );
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&quot;&gt;&lt;script&gt;x()&lt;/script&gt;');
    expect(html).toContain('&lt;i&gt;m&lt;/i&gt;');
    expect(html).not.toMatch(/<img|<script|<i>|<b>/);
    expect(html).toContain('<span class="pill deny">denied</span>');
    expect(html).toContain('$0.50');
  });
});
