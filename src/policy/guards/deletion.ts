// The deletion guard: a list of rules, each for the actions its globs name.
// For a matching call it reads the resource(s) at resource_path — a string,
// or an array of strings (a bulk delete); anything else denies — and checks
//   more resources than max_bulk_delete → deny;
//   any resource protected (exact name, normalised), matching deny_patterns,
//   or (when allow_patterns is set) matching none of them → deny;
//   soft_delete_only and hard_delete_path holding anything but false → deny;
//   require_approval_always → approval;
//   the agent's deletions today (UTC) past max_per_day → deny;
//   the same agent and action again within cooldown_seconds → deny.
// One pass over the resources, each normalised once (../normalize.ts) and
// matched with the linear glob matcher, so a 10,000-element array costs
// 10,000 small steps; the time budget is asked every few hundred. Messages
// name the path, counts and the policy's own names, never a resource.
//
// max_per_day is held by a `fixed` reservation that lasts the day (a deletion
// allowed and never reported still counts), freed by a rejected, expired or
// cancelled approval; the cooldown is a `gap` (of concurrent deletions, one
// goes ahead). Pure.
import { lookup, type EvaluationRequest } from '../evaluate.ts';
import { globMatch, globMatchRaw } from '../glob.ts';
import { normalizeText } from '../normalize.ts';
import { NO_CHECKPOINT, type Checkpoint } from '../time-budget.ts';
import type { DeletionConfig, DeletionRule } from './config.ts';
import { periods } from './periods.ts';
import { ruleIds } from './rule-keys.ts';
import type { CounterOp, CounterQuery, CounterValues, Finding } from './types.ts';

const APPROVAL_RISK = 0.6;
const CHECK_EVERY = 256;
/** How many of the policy's names a message lists before "…". */
const NAMES_SHOWN = 5;

interface Keys {
  day: string;
  gap: string;
}

function matching(config: DeletionConfig, req: EvaluationRequest, now: number): { rule: DeletionRule; keys: Keys }[] {
  const out: { rule: DeletionRule; keys: Keys }[] = [];
  const ids = ruleIds(config);
  config.forEach((rule, i) => {
    if (!globMatch(rule.actions, req.action)) return;
    const a = normalizeText(req.agent_id);
    out.push({ rule, keys: { day: `del:${ids[i]}:agent:${a}:day:${periods(now).day}`, gap: `del:${ids[i]}:gap:${a}:${normalizeText(req.action)}` } });
  });
  return out;
}

export function queries(config: DeletionConfig, req: EvaluationRequest, now: number): CounterQuery[] {
  const qs: CounterQuery[] = [];
  for (const { rule, keys } of matching(config, req, now)) {
    if (rule.max_per_day !== undefined) qs.push({ kind: 'total', key: keys.day });
    if (rule.cooldown_seconds !== undefined) qs.push({ kind: 'flag', key: keys.gap });
  }
  return qs;
}

/** The resources at resource_path, or why they cannot be judged. */
export function resourcesOf(rule: DeletionRule, req: EvaluationRequest): { resources: readonly string[] } | { problem: string } {
  const v = lookup(req, rule.resource_path);
  if (v === undefined) return { problem: `${rule.resource_path} is absent` };
  if (typeof v === 'string') return { resources: [v] };
  if (!Array.isArray(v)) return { problem: `${rule.resource_path} is not a string or an array of strings` };
  for (const r of v) if (typeof r !== 'string') return { problem: `${rule.resource_path} holds something other than strings` };
  return { resources: v as string[] };
}

// Patterns and names come from the policy (few, reused): normalise them once per rule.
interface Prepared {
  protected: Map<string, string>;
  deny: { raw: string; glob: string }[];
  allow: string[] | undefined;
}
const prepared = new WeakMap<DeletionRule, Prepared>();
function prepare(rule: DeletionRule): Prepared {
  let p = prepared.get(rule);
  if (p === undefined) {
    p = {
      protected: new Map(rule.protected.map((n) => [normalizeText(n), n])),
      deny: (rule.deny_patterns ?? []).map((g) => ({ raw: g, glob: normalizeText(g) })),
      allow: rule.allow_patterns !== undefined && rule.allow_patterns.length > 0 ? rule.allow_patterns.map((g) => normalizeText(g)) : undefined,
    };
    prepared.set(rule, p);
  }
  return p;
}

const deny = (message: string): Finding => ({ guard: 'deletion', decision: 'deny', message: `deletion: ${message}`, risk: 1 });
const list = (names: Set<string>) => [...names].slice(0, NAMES_SHOWN).join(', ') + (names.size > NAMES_SHOWN ? ', …' : '');
const of = (n: number, total: number) => (total === 1 ? 'the resource' : `${n} of ${total} resources`);

/** One pass over the resources: how many are protected, denied, or outside the allow list. */
function judge(rule: DeletionRule, path: string, resources: readonly string[], checkpoint: Checkpoint): Finding[] {
  const p = prepare(rule);
  let isProtected = 0;
  let denied = 0;
  let outside = 0;
  const protectedHit = new Set<string>();
  const denyHit = new Set<string>();
  for (let i = 0; i < resources.length; i++) {
    if (i % CHECK_EVERY === CHECK_EVERY - 1) checkpoint();
    const r = normalizeText(resources[i]!);
    const name = p.protected.get(r);
    if (name !== undefined) {
      isProtected++;
      protectedHit.add(name);
    }
    const d = p.deny.find((g) => globMatchRaw(g.glob, r));
    if (d !== undefined) {
      denied++;
      denyHit.add(d.raw);
    }
    if (p.allow && !p.allow.some((g) => globMatchRaw(g, r))) outside++;
  }
  const n = resources.length;
  const findings: Finding[] = [];
  if (isProtected > 0) findings.push(deny(`${of(isProtected, n)} at ${path} ${isProtected === 1 ? 'is' : 'are'} protected (${list(protectedHit)})`));
  if (denied > 0) findings.push(deny(`${of(denied, n)} at ${path} ${denied === 1 ? 'matches' : 'match'} a denied pattern (${list(denyHit)})`));
  if (outside > 0) findings.push(deny(`${of(outside, n)} at ${path} ${outside === 1 ? 'matches' : 'match'} no allowed pattern`));
  return findings;
}

export function evaluate(
  config: DeletionConfig,
  req: EvaluationRequest,
  counters: CounterValues,
  now: number,
  checkpoint: Checkpoint = NO_CHECKPOINT,
): { findings: Finding[]; ops: CounterOp[] } {
  const findings: Finding[] = [];
  const ops: CounterOp[] = [];
  for (const { rule, keys } of matching(config, req, now)) {
    const got = resourcesOf(rule, req);
    if ('problem' in got) {
      findings.push(deny(got.problem));
      continue;
    }
    const n = got.resources.length;
    if (rule.max_bulk_delete !== undefined && n > rule.max_bulk_delete) findings.push(deny(`${n} resources at ${rule.resource_path} in one call (max_bulk_delete ${rule.max_bulk_delete})`));
    findings.push(...judge(rule, rule.resource_path, got.resources, checkpoint));
    if (rule.soft_delete_only) {
      const hard = lookup(req, rule.hard_delete_path);
      if (hard !== undefined && hard !== false) findings.push(deny(`only soft deletes are allowed, and ${rule.hard_delete_path} is set`));
    }
    if (rule.require_approval_always) findings.push({ guard: 'deletion', decision: 'require_approval', message: 'deletion: every deletion here needs approval', risk: APPROVAL_RISK });
    if (rule.max_per_day !== undefined && n > 0) {
      const done = counters[keys.day] ?? 0;
      const ttl = periods(now).dayTtl;
      if (done + n > rule.max_per_day) findings.push(deny(`agent ${req.agent_id} has deleted ${done} resources today; ${n} more would pass max_per_day ${rule.max_per_day}`));
      else ops.push({ kind: 'reserve', amount: n, ttl_ms: ttl, buckets: [{ key: keys.day, limit: rule.max_per_day, ttl_ms: ttl }], fixed: true });
    }
    if (rule.cooldown_seconds !== undefined) {
      if ((counters[keys.gap] ?? 0) > 0) findings.push(deny(`agent ${req.agent_id} ran ${req.action} less than ${rule.cooldown_seconds}s ago (cooldown_seconds)`));
      else ops.push({ kind: 'gap', key: keys.gap, ttl_ms: Math.ceil(rule.cooldown_seconds * 1000) });
    }
  }
  return { findings, ops };
}
