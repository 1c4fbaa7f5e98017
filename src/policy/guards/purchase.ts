// The purchase guard: a list of rules, each for the actions its globs name.
// For a matching call it reads the amount (and optionally category, vendor,
// currency) from the params and checks
//   amount absent, not a plain number, or negative → deny (fail closed);
//   amount > max_single → deny;  amount > require_approval_above → approval;
//   a blocked category → deny;  a vendor outside vendors.allow, or matching
//   vendors.deny → deny;  a currency other than `currency` → approval;
//   the agent's purchases today (UTC) past daily_count, or their amounts past
//   daily_total → deny.
// The params are the agent's: a category or vendor that is not a string
// denies (it could hide a blocked value inside an array or object), an
// absent vendor denies when there is an allow list, and strings are compared
// normalised (../normalize.ts). Messages name the path and the policy's limit,
// never the call's values.
//
// daily_total and daily_count are held by `fixed` reservations that last the
// whole day: a purchase that is allowed and never reported still counts until
// the day ends; it becomes spend when reported done (at its amount, whatever
// cost_usd the report gives), and a rejected, expired or cancelled approval
// (or a report of failure) frees it — that purchase did not happen. The edge
// refuses a reservation past its limit, so concurrent purchases cannot pass
// either. Pure.
import { lookup, type EvaluationRequest } from '../evaluate.ts';
import { globMatch } from '../glob.ts';
import { normalizeText, plainNumber } from '../normalize.ts';
import type { PurchaseConfig, PurchaseRule } from './config.ts';
import { periods } from './periods.ts';
import { ruleIds } from './rule-keys.ts';
import type { CounterOp, CounterQuery, CounterValues, Finding } from './types.ts';

const EPSILON = 1e-9;
const APPROVAL_RISK = 0.6;

interface Keys {
  total: string;
  count: string;
}

function matching(config: PurchaseConfig, req: EvaluationRequest, now: number): { rule: PurchaseRule; keys: Keys }[] {
  const out: { rule: PurchaseRule; keys: Keys }[] = [];
  const ids = ruleIds(config);
  let day: string | undefined;
  config.forEach((rule, i) => {
    if (!globMatch(rule.actions, req.action)) return;
    day ??= periods(now).day;
    const base = `pur:${ids[i]}:agent:${normalizeText(req.agent_id)}`;
    out.push({ rule, keys: { total: `${base}:total:${day}`, count: `${base}:count:${day}` } });
  });
  return out;
}

export function queries(config: PurchaseConfig, req: EvaluationRequest, now: number): CounterQuery[] {
  const qs: CounterQuery[] = [];
  for (const { rule, keys } of matching(config, req, now)) {
    if (rule.daily_total !== undefined) qs.push({ kind: 'total', key: keys.total });
    if (rule.daily_count !== undefined) qs.push({ kind: 'total', key: keys.count });
  }
  return qs;
}

/** The amount at amount_path, or why it cannot be used. */
export function amountOf(rule: PurchaseRule, req: EvaluationRequest): { amount: number } | { problem: string } {
  const v = lookup(req, rule.amount_path);
  if (v === undefined) return { problem: `${rule.amount_path} is absent` };
  const n = plainNumber(v);
  if (n === undefined) return { problem: `${rule.amount_path} is not a plain number` };
  if (n < 0) return { problem: `${rule.amount_path} is negative` };
  return { amount: n };
}

const deny = (message: string): Finding => ({ guard: 'purchase', decision: 'deny', message: `purchase: ${message}`, risk: 1 });
const approval = (message: string, risk = APPROVAL_RISK): Finding => ({ guard: 'purchase', decision: 'require_approval', message: `purchase: ${message}`, risk });

function checkCategory(rule: PurchaseRule, req: EvaluationRequest, findings: Finding[]): void {
  if (rule.blocked_categories.length === 0 || rule.category_path === undefined) return;
  const v = lookup(req, rule.category_path);
  if (v === undefined) return;
  if (typeof v !== 'string') {
    findings.push(deny(`${rule.category_path} is not a string`));
    return;
  }
  const c = normalizeText(v);
  const hit = rule.blocked_categories.find((b) => normalizeText(b) === c);
  if (hit !== undefined) findings.push(deny(`the category at ${rule.category_path} is blocked (${hit})`));
}

function checkVendor(rule: PurchaseRule, req: EvaluationRequest, findings: Finding[]): void {
  const vendors = rule.vendors;
  if (vendors === undefined || rule.vendor_path === undefined) return;
  const allow = vendors.allow !== undefined && vendors.allow.length > 0 ? vendors.allow : undefined;
  const v = lookup(req, rule.vendor_path);
  if (v === undefined) {
    if (allow) findings.push(deny(`${rule.vendor_path} is absent, and only listed vendors may be paid`));
    return;
  }
  if (typeof v !== 'string') {
    findings.push(deny(`${rule.vendor_path} is not a string`));
    return;
  }
  const denied = vendors.deny?.find((g) => globMatch(g, v));
  if (denied !== undefined) findings.push(deny(`the vendor at ${rule.vendor_path} matches a denied pattern (${denied})`));
  if (allow && !globMatch(allow, v)) findings.push(deny(`the vendor at ${rule.vendor_path} is not on the allow list`));
}

function checkCurrency(rule: PurchaseRule, req: EvaluationRequest, findings: Finding[]): void {
  if (rule.currency === undefined || rule.currency_path === undefined) return;
  const v = lookup(req, rule.currency_path);
  // No currency given: the amount is taken to be in the policy's currency.
  if (v === undefined) return;
  if (typeof v !== 'string') findings.push(approval(`${rule.currency_path} is not a string, so the amount may not be in ${rule.currency}`, 0.5));
  else if (normalizeText(v) !== normalizeText(rule.currency)) findings.push(approval(`the currency at ${rule.currency_path} is not ${rule.currency}`, 0.5));
}

export function evaluate(config: PurchaseConfig, req: EvaluationRequest, counters: CounterValues, now: number): { findings: Finding[]; ops: CounterOp[] } {
  const findings: Finding[] = [];
  const ops: CounterOp[] = [];
  for (const { rule, keys } of matching(config, req, now)) {
    const a = amountOf(rule, req);
    if ('problem' in a) {
      findings.push(deny(a.problem));
      continue;
    }
    const amount = a.amount;
    if (rule.max_single !== undefined && amount > rule.max_single + EPSILON) {
      findings.push(deny(`the amount at ${rule.amount_path} is above max_single ${rule.max_single}`));
    } else if (rule.require_approval_above !== undefined && amount > rule.require_approval_above + EPSILON) {
      findings.push(approval(`the amount at ${rule.amount_path} is above ${rule.require_approval_above}, which needs approval`));
    }
    checkCategory(rule, req, findings);
    checkVendor(rule, req, findings);
    checkCurrency(rule, req, findings);
    const p = periods(now);
    if (rule.daily_total !== undefined) {
      const spent = counters[keys.total] ?? 0;
      if (spent + amount > rule.daily_total + EPSILON) findings.push(deny(`agent ${req.agent_id}'s purchases today would pass daily_total ${rule.daily_total}`));
      else ops.push({ kind: 'reserve', amount, ttl_ms: p.dayTtl, buckets: [{ key: keys.total, limit: rule.daily_total, ttl_ms: p.dayTtl }], fixed: true });
    }
    if (rule.daily_count !== undefined) {
      const n = (counters[keys.count] ?? 0) + 1;
      if (n > rule.daily_count) findings.push(deny(`agent ${req.agent_id} has made ${n - 1} purchases today (daily_count ${rule.daily_count})`));
      else ops.push({ kind: 'reserve', amount: 1, ttl_ms: p.dayTtl, buckets: [{ key: keys.count, limit: rule.daily_count, ttl_ms: p.dayTtl }], fixed: true });
    }
  }
  return { findings, ops };
}
