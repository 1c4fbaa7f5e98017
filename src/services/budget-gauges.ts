// The dashboard's budget gauges: each agent's spend against the limits the
// active policy's budget guard would hold it to, read from the same Redis
// buckets the guard reserves in (src/policy/guards/budget.ts `buckets()`, the
// same reading as GET /v1/usage). Spend is committed spend plus live
// reservations. Per-session limits have one bucket per session id and are not
// gauged here.
import type { BudgetConfig } from '../policy/guards/config.ts';
import { buckets } from '../policy/guards/budget.ts';
import type { CounterStore } from './counters.ts';
import type { PolicyStore } from './policies.ts';

/** When policy says nothing (budget.warn_threshold), a gauge turns amber here. */
export const DEFAULT_WARN = 0.8;
/** …and red here (or at the warn threshold, if that is higher). */
export const DANGER = 0.95;

export type GaugeState = 'ok' | 'warn' | 'danger';

export interface Gauge {
  /** "day", "month" (an agent's) or "tenant day", "tenant month". */
  period: string;
  spent_usd: number;
  limit_usd: number;
  share: number;
  state: GaugeState;
}

export interface AgentGauges {
  agent_id: string;
  calls: number;
  gauges: Gauge[];
}

export interface BudgetView {
  /** False when the policy has no budget guard, or one without per-agent or tenant day/month limits. */
  configured: boolean;
  warn: number;
  danger: number;
  /** Only per-session limits: nothing to gauge per agent. */
  session_only: boolean;
  agents: AgentGauges[];
  tenant: Gauge[];
  /** Redis could not be read: the numbers are missing, not zero. */
  unavailable: boolean;
}

/** ok below the warn share, warn from it, danger from max(DANGER, warn). Pure. */
export function gaugeState(share: number, warn: number): GaugeState {
  if (share + 1e-9 >= Math.max(DANGER, warn)) return 'danger';
  if (share + 1e-9 >= warn) return 'warn';
  return 'ok';
}

const periodOf = (key: string) => (key.startsWith('bud:tenant:') ? `tenant ${key.split(':')[2]}` : key.split(':').at(-2)!);

export async function budgetGauges(
  deps: { policies: PolicyStore; counters: CounterStore },
  tenantId: string,
  agents: readonly { agent_id: string; calls: number }[],
  now: number,
): Promise<BudgetView> {
  const { policy } = await deps.policies.current(tenantId);
  const config: BudgetConfig | undefined = policy.guards?.budget;
  const warn = config?.warn_threshold ?? DEFAULT_WARN;
  const danger = Math.max(DANGER, warn);
  const base = { warn, danger, agents: agents.map((a) => ({ ...a, gauges: [] as Gauge[] })), tenant: [] as Gauge[], unavailable: false };
  if (!config) return { ...base, configured: false, session_only: false };
  // What one agent's next call would count against, session aside (no session id here).
  const per = agents.map((a) => buckets(config, { action: '*', agent_id: a.agent_id, params: {}, context: {} }, now));
  const tenantBuckets = (per[0] ?? buckets(config, { action: '*', agent_id: '-', params: {}, context: {} }, now)).filter((b) => b.key.startsWith('bud:tenant:'));
  const agentBuckets = per.map((bs) => bs.filter((b) => !b.key.startsWith('bud:tenant:')));
  const a = config.per_agent;
  const t = config.per_tenant;
  const configured = [a?.session, a?.day, a?.month, t?.day, t?.month].some((x) => x !== undefined);
  const session_only = config.per_agent?.session !== undefined && config.per_agent.day === undefined && config.per_agent.month === undefined;
  const keys = [...new Set([...agentBuckets.flat(), ...tenantBuckets].map((b) => b.key))];
  let values: Readonly<Record<string, number>> = {};
  let unavailable = false;
  try {
    values = await deps.counters.read(tenantId, keys.map((key) => ({ kind: 'total' as const, key })), now);
  } catch {
    unavailable = true;
  }
  const gauge = (b: { key: string; limit: number }): Gauge => {
    const spent = values[b.key] ?? 0;
    const share = b.limit > 0 ? spent / b.limit : 0;
    return { period: periodOf(b.key), spent_usd: spent, limit_usd: b.limit, share, state: gaugeState(share, warn) };
  };
  return {
    ...base,
    configured,
    session_only,
    unavailable,
    agents: agents.map((a, i) => ({ ...a, gauges: agentBuckets[i]!.map(gauge) })),
    tenant: tenantBuckets.map(gauge),
  };
}
