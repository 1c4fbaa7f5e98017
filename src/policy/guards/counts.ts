// The rate_limit guard's counts and cooldowns (reported as `rate_limit`):
//   per_session — calls per agent per context.session_id, any action;
//   daily       — calls per UTC day by action glob, per agent or tenant-wide;
//   cooldowns   — a minimum gap between two calls of one concrete action.
// Past a count, or inside a cooldown → on_limit (deny or require_approval).
//
// Counts are plain counters (`count` ops), refused atomically by the edge past
// their limit, so of 20 concurrent calls with max 10 exactly 10 go ahead. They
// count calls that were let through — an allowed call, or one parked for
// approval — whether or not it is ever reported, and a rejected approval keeps
// its count (like the per-minute windows); only a request that fails before
// leaving a decision takes its count back. A cooldown is claimed with a `gap`
// op: of concurrent calls, one goes ahead. Keys use the normalised agent id and
// action (../normalize.ts), so spellings share one counter. Pure.
import type { EvaluationRequest } from '../evaluate.ts';
import { globMatch } from '../glob.ts';
import { normalizeText } from '../normalize.ts';
import type { RateLimitConfig } from './config.ts';
import { contextId, periods, SESSION_TTL_MS } from './periods.ts';
import type { CounterOp, CounterQuery, CounterValues, Finding } from './types.ts';

interface Count {
  key: string;
  max: number;
  ttl_ms: number;
  label: string;
}

interface Gap {
  key: string;
  ms: number;
  label: string;
}

/** Does this config use any of the counts or cooldowns? (Lets a policy without them skip this module.) */
export function used(config: RateLimitConfig): boolean {
  return config.per_session !== undefined || config.daily.length > 0 || config.cooldowns.length > 0;
}

const globKey = (action: string | string[]) => (typeof action === 'string' ? action : action.join('|'));

function counts(config: RateLimitConfig, req: EvaluationRequest, now: number): Count[] {
  const a = normalizeText(req.agent_id);
  // Two entries that name the same globs and scope share one counter: the lower max applies.
  const out = new Map<string, Count>();
  const add = (c: Count) => {
    const had = out.get(c.key);
    if (had === undefined || c.max < had.max) out.set(c.key, c);
  };
  const sid = config.per_session ? contextId(req, 'session_id') : undefined;
  if (sid !== undefined) {
    add({ key: `rl:session:${a}:${sid}`, max: config.per_session!.max, ttl_ms: SESSION_TTL_MS, label: `by agent ${req.agent_id} in session ${sid}` });
  }
  if (config.daily.length > 0) {
    const p = periods(now);
    for (const d of config.daily) {
      if (!globMatch(d.action, req.action)) continue;
      const whose = d.per === 'tenant' ? 'tenant' : `agent:${a}`;
      const label = `${d.per === 'tenant' ? 'by the tenant' : `by agent ${req.agent_id}`} to ${globKey(d.action)} today`;
      add({ key: `rl:day:${globKey(d.action)}:${whose}:${p.day}`, max: d.max, ttl_ms: p.dayTtl, label });
    }
  }
  return [...out.values()];
}

function gaps(config: RateLimitConfig, req: EvaluationRequest): Gap[] {
  if (config.cooldowns.length === 0) return [];
  const a = normalizeText(req.agent_id);
  const x = normalizeText(req.action);
  // Keyed by the concrete action: `email.*` with 30 s lets email.send and email.draft each go once per 30 s.
  const out = new Map<string, Gap>();
  for (const c of config.cooldowns) {
    if (!globMatch(c.action, req.action)) continue;
    const key = c.per === 'tenant' ? `rl:gap:tenant:${x}` : `rl:gap:agent:${a}:${x}`;
    const ms = Math.ceil(c.seconds * 1000);
    const had = out.get(key);
    if (had === undefined || ms > had.ms) {
      out.set(key, { key, ms, label: `${c.per === 'tenant' ? 'the tenant' : `agent ${req.agent_id}`} called ${req.action} less than ${c.seconds}s ago` });
    }
  }
  return [...out.values()];
}

export function queries(config: RateLimitConfig, req: EvaluationRequest, now: number): CounterQuery[] {
  return [
    ...counts(config, req, now).map((c): CounterQuery => ({ kind: 'count', key: c.key })),
    ...gaps(config, req).map((g): CounterQuery => ({ kind: 'flag', key: g.key })),
  ];
}

export function evaluate(config: RateLimitConfig, req: EvaluationRequest, counters: CounterValues, now: number): { findings: Finding[]; ops: CounterOp[] } {
  const findings: Finding[] = [];
  const ops: CounterOp[] = [];
  const onLimit = config.on_limit;
  const risk = onLimit === 'deny' ? 1 : 0.6;
  for (const c of counts(config, req, now)) {
    const n = (counters[c.key] ?? 0) + 1;
    if (n <= c.max) {
      ops.push({ kind: 'count', key: c.key, amount: 1, limit: c.max, ttl_ms: c.ttl_ms });
    } else {
      findings.push({ guard: 'rate_limit', decision: onLimit, message: `rate limit: ${n} calls ${c.label} (max ${c.max})`, risk });
      // Past the limit but sent for approval: it still counts, and nothing refuses it.
      ops.push({ kind: 'count', key: c.key, amount: 1, limit: null, ttl_ms: c.ttl_ms });
    }
  }
  for (const g of gaps(config, req)) {
    if ((counters[g.key] ?? 0) > 0) findings.push({ guard: 'rate_limit', decision: onLimit, message: `cooldown: ${g.label}`, risk });
    else ops.push({ kind: 'gap', key: g.key, ttl_ms: g.ms });
  }
  return { findings, ops };
}
