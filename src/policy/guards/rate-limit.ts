// The rate_limit guard: calls per minute per agent, per action and per
// agent+action (sliding windows), burst detection with a cooldown, and
// max_identical_calls — the same agent, action and params hash too often in a
// window is a stuck loop. Counter values are the hits before this call, so this
// call is number value + 1. Keys use the normalised agent id and action
// (../normalize.ts), so `PAYMENT.send` and `payment.send` share one counter:
// the agent cannot spread its calls over spellings. Counts per session and per
// day, and per-action cooldowns, live in ./counts.ts. Pure.
import type { EvaluationRequest } from '../evaluate.ts';
import { normalizeText } from '../normalize.ts';
import { paramsHash } from './canonical.ts';
import type { RateLimitConfig } from './config.ts';
import * as counts from './counts.ts';
import type { CounterOp, CounterQuery, CounterValues, Finding } from './types.ts';

const MINUTE_MS = 60_000;

interface Window {
  key: string;
  window_ms: number;
  max: number;
  kind: 'limit' | 'burst' | 'identical';
  label: string;
}

function windows(config: RateLimitConfig, req: EvaluationRequest): Window[] {
  const { agent_id: agent, action } = req;
  const a = normalizeText(agent);
  const x = normalizeText(action);
  const out: Window[] = [];
  if (config.per_agent) out.push({ key: `rl:agent:${a}`, window_ms: MINUTE_MS, max: config.per_agent.per_minute, kind: 'limit', label: `agent ${agent}` });
  if (config.per_action) out.push({ key: `rl:action:${x}`, window_ms: MINUTE_MS, max: config.per_action.per_minute, kind: 'limit', label: `action ${action}` });
  if (config.per_agent_action) {
    out.push({ key: `rl:aa:${a}|${x}`, window_ms: MINUTE_MS, max: config.per_agent_action.per_minute, kind: 'limit', label: `agent ${agent} on ${action}` });
  }
  if (config.burst) {
    out.push({ key: `rl:burst:${a}`, window_ms: config.burst.window_seconds * 1000, max: config.burst.max, kind: 'burst', label: `agent ${agent}` });
  }
  if (config.max_identical_calls) {
    const m = config.max_identical_calls;
    out.push({ key: `rl:same:${a}|${x}|${paramsHash(req.params)}`, window_ms: m.window_seconds * 1000, max: m.count, kind: 'identical', label: `agent ${agent} on ${action}` });
  }
  return out;
}

const cooldownKey = (agent: string) => `rl:cool:${normalizeText(agent)}`;

export function queries(config: RateLimitConfig, req: EvaluationRequest, now: number): CounterQuery[] {
  const qs: CounterQuery[] = windows(config, req).map((w) => ({ kind: 'window', key: w.key, window_ms: w.window_ms }));
  if (config.burst) qs.push({ kind: 'flag', key: cooldownKey(req.agent_id) });
  if (counts.used(config)) qs.push(...counts.queries(config, req, now));
  return qs;
}

/**
 * Ops: a hit on every window (applied only if the call goes ahead) and, when a
 * burst is detected, a cooldown flag — which the edge must apply even though
 * the call is denied (evaluateRequest keeps only flag ops on a deny).
 */
export function evaluate(config: RateLimitConfig, req: EvaluationRequest, counters: CounterValues, now: number): { findings: Finding[]; ops: CounterOp[] } {
  const findings: Finding[] = [];
  const ops: CounterOp[] = [];
  const onLimit = config.on_limit;
  const limitRisk = onLimit === 'deny' ? 1 : 0.6;
  if (config.burst && (counters[cooldownKey(req.agent_id)] ?? 0) > 0) {
    findings.push({ guard: 'rate_limit', decision: 'deny', message: `agent ${req.agent_id} is cooling down after a burst`, risk: 1 });
  }
  for (const w of windows(config, req)) {
    const n = (counters[w.key] ?? 0) + 1;
    ops.push({ kind: 'hit', key: w.key, window_ms: w.window_ms, amount: 1 });
    if (n <= w.max) continue;
    const secs = w.window_ms / 1000;
    if (w.kind === 'burst') {
      const cooldown = config.burst!.cooldown_seconds;
      findings.push({ guard: 'rate_limit', decision: 'deny', message: `burst: ${w.label} made ${n} calls in ${secs}s (max ${w.max}); cooling down for ${cooldown}s`, risk: 1 });
      ops.push({ kind: 'flag', key: cooldownKey(req.agent_id), ttl_ms: cooldown * 1000 });
    } else if (w.kind === 'identical') {
      findings.push({ guard: 'rate_limit', decision: onLimit, message: `loop: ${w.label} made the same call ${n} times in ${secs}s (max ${w.max})`, risk: limitRisk });
    } else {
      findings.push({ guard: 'rate_limit', decision: onLimit, message: `rate limit: ${w.label} made ${n} calls in the last minute (max ${w.max})`, risk: limitRisk });
    }
  }
  if (counts.used(config)) {
    const c = counts.evaluate(config, req, counters, now);
    findings.push(...c.findings);
    ops.push(...c.ops);
  }
  return { findings, ops };
}
