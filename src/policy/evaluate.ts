// Policy evaluation. Pure: the same request, policy, counters and `now` always
// give the same answer (within the time budget: the edge's `elapsed()` is the
// one input that can cut an evaluation short). Every matching rule votes, and
// so does every guard finding; DENY > REQUIRE_APPROVAL > MODIFY > ALLOW. An
// error while evaluating (a guard that throws, counters that could not be
// read, the time budget running out) denies, unless the policy says
// fail_mode: open — and then the evaluation says so.
//
// The request is the agent's: everything here is linear in it (RE2 patterns,
// ./regex.ts; linear globs, ./glob.ts), and where the agent could shape a
// value to slip past a rule, the rule errs towards restricting (below).
import { globMatch } from './glob.ts';
import { evaluateGuards, type GuardContext } from './guards/index.ts';
import { EvaluationBudgetExceeded, budgetCheck, budgetMs } from './time-budget.ts';
import { normalizeText, plainNumber } from './normalize.ts';
import { re2Test } from './regex.ts';
import { timeConditionHolds } from './time.ts';
import type { CounterOp, Finding, GuardName } from './guards/types.ts';
import type { Condition, Policy, PolicyDecision, Rule } from './schema.ts';

export interface EvaluationRequest {
  action: string;
  agent_id: string;
  params: Record<string, unknown>;
  context: Record<string, unknown>;
  /** What this call costs in USD, for the budget guard; else the policy's cost table says. */
  cost_usd?: number;
}

export interface Reason {
  source: 'rule' | 'default' | 'engine';
  rule?: string;
  decision: PolicyDecision;
  message: string;
}

export interface Routing {
  slack_channel: string | null;
  approvers: { slack_user_ids: string[]; identities: string[] };
  required_approvals: number;
  timeout_seconds: number;
  on_timeout: 'reject' | 'approve';
  /** The floor for this approval's deadline; the agent cannot go below it. */
  min_timeout_seconds: number;
  /** Channels the agent may pick instead of `slack_channel`; empty: none. */
  agent_may_route_to: string[];
}

export interface Evaluation {
  decision: PolicyDecision;
  reasons: Reason[];
  matched_rules: string[];
  /** Where an approval goes and how it is decided; set when decision is require_approval. */
  routing: Routing | null;
}

const RANK: Record<PolicyDecision, number> = { allow: 0, require_approval: 1, deny: 2 };

/** Reads `params.amount`, `context.user.id`, `agent_id`, `action`. */
export function lookup(req: EvaluationRequest, path: string): unknown {
  const parts = path.split('.');
  let cur: unknown = req;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, p)) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

// Numeric comparisons (gt, gte, lt, lte) take a finite number or a plain
// numeric string ("5000", " -3.5", "1e3"). A value that is present but is
// neither — "5,000", "$5000", "5000 USD", [5000], {"value": 5000}, fullwidth
// digits, null — cannot be compared, and the agent chose it: on a deny or
// require_approval rule the comparison holds (fail closed) and the reason says
// why; on an allow rule it does not hold. An absent value never holds.
//
// String equality (eq, ne, in, not_in) has two views: exact, and normalised
// (./normalize.ts: NFKC, invisible characters removed, trimmed, case folded
// unless `case_sensitive`). Each operator takes the view that makes the rule
// match when in doubt if the rule restricts, and not match if it allows:
//   deny / require_approval: eq, in → normalised;  ne, not_in → exact
//   allow:                   eq, in → exact;       ne, not_in → normalised
// so `ACCT_EVIL` is caught by `eq: acct_evil` on a deny rule and by
// `not_in: [acct_evil]` on an allow rule, and a variant never earns an allow.
// On a restricting rule, eq / in / matches also look inside an array or object
// value (any scalar in it counts), so wrapping a value does not hide it.

/** Does this rule's decision restrict the call (deny, require_approval) or allow it? */
export type RuleStance = 'restrict' | 'allow';
const stanceOf = (d: PolicyDecision): RuleStance => (d === 'allow' ? 'allow' : 'restrict');

function equalExact(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const na = plainNumber(a);
  const nb = plainNumber(b);
  return na !== undefined && nb !== undefined && na === nb;
}

const normal = (v: unknown, caseSensitive: boolean) => (typeof v === 'string' ? normalizeText(v, caseSensitive) : v);

/** Every scalar inside a value (itself, if it is one). */
function scalars(v: unknown, out: unknown[] = []): unknown[] {
  if (Array.isArray(v)) for (const x of v) scalars(x, out);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) scalars(x, out);
  else out.push(v);
  return out;
}

function matchesPattern(value: unknown, pattern: string, stance: RuleStance): boolean {
  if (stance === 'allow') return (typeof value === 'string' || typeof value === 'number') && re2Test(pattern, String(value));
  return scalars(value).some((x) => {
    if (typeof x !== 'string' && typeof x !== 'number') return false;
    const raw = String(x);
    if (re2Test(pattern, raw)) return true;
    const n = normalizeText(raw, true);
    return n !== raw && re2Test(pattern, n);
  });
}

export interface ConditionResult {
  holds: boolean;
  /** A numeric comparison held only because the value was not a plain number (restricting rules). */
  notNumber: boolean;
}

export function checkCondition(value: unknown, c: Condition, stance: RuleStance = 'allow'): ConditionResult {
  const no = { holds: false, notNumber: false };
  if (c.exists !== undefined && (value !== undefined) !== c.exists) return no;
  const cs = c.case_sensitive === true;
  const restrict = stance === 'restrict';
  // The agent's side is normalised once, the policy's per comparison.
  let eq: (x: unknown) => boolean;
  let same: (x: unknown) => boolean;
  if (restrict) {
    const vs = c.eq !== undefined || c.in !== undefined ? scalars(value).map((v) => normal(v, cs)) : [];
    eq = (x) => {
      const nx = normal(x, cs);
      return vs.some((v) => equalExact(v, nx));
    };
    same = (x) => equalExact(value, x);
  } else {
    const nv = normal(value, cs);
    eq = (x) => equalExact(value, x);
    same = (x) => equalExact(nv, normal(x, cs));
  }
  if (c.eq !== undefined && !eq(c.eq)) return no;
  if (c.ne !== undefined && same(c.ne)) return no;
  if (c.in !== undefined && !c.in.some(eq)) return no;
  if (c.not_in !== undefined && c.not_in.some(same)) return no;
  let notNumber = false;
  if (c.gt !== undefined || c.gte !== undefined || c.lt !== undefined || c.lte !== undefined) {
    if (value === undefined) return no;
    const n = plainNumber(value);
    if (n === undefined) {
      if (!restrict) return no;
      notNumber = true;
    } else {
      if (c.gt !== undefined && !(n > c.gt)) return no;
      if (c.gte !== undefined && !(n >= c.gte)) return no;
      if (c.lt !== undefined && !(n < c.lt)) return no;
      if (c.lte !== undefined && !(n <= c.lte)) return no;
    }
  }
  if (c.matches !== undefined && !matchesPattern(value, c.matches, stance)) return no;
  return { holds: true, notNumber };
}

/** Does the condition hold for a value? `stance`: the rule's, see above (default: an allow rule's, the strict reading). */
export function conditionHolds(value: unknown, c: Condition, stance: RuleStance = 'allow'): boolean {
  return checkCondition(value, c, stance).holds;
}

export interface RuleMatch {
  matched: boolean;
  /** Why it matched beyond its plain conditions ("params.amount is not a plain number"). */
  notes: string[];
}

/**
 * `now` (epoch ms, the edge's clock) is needed only by a rule with a time
 * condition; without it such a rule throws, and evaluation fails closed.
 */
export function matchRule(rule: Rule, req: EvaluationRequest, now?: number): RuleMatch {
  const no = { matched: false, notes: [] };
  if (!globMatch(rule.match.action, req.action)) return no;
  if (!globMatch(rule.match.agent, req.agent_id)) return no;
  if (rule.match.time) {
    if (now === undefined) throw new Error(`rule ${rule.name} has a time condition and no current time was given`);
    if (!timeConditionHolds(rule.match.time, now)) return no;
  }
  const stance = stanceOf(rule.decision);
  const notes: string[] = [];
  for (const [path, cond] of Object.entries(rule.match.when ?? {})) {
    const r = checkCondition(lookup(req, path), cond, stance);
    if (!r.holds) return no;
    if (r.notNumber) notes.push(`${path} is not a plain number`);
  }
  return { matched: true, notes };
}

export function ruleMatches(rule: Rule, req: EvaluationRequest, now?: number): boolean {
  return matchRule(rule, req, now).matched;
}

function ruleMessage(rule: Rule, notes: readonly string[]): string {
  if (notes.length === 0) return rule.reason ?? `rule ${rule.name} matched`;
  return rule.reason === undefined ? `rule ${rule.name} matched: ${notes.join('; ')}` : `${rule.reason} (${notes.join('; ')})`;
}

function routingFor(policy: Policy, rule: Rule | undefined): Routing {
  const d = policy.defaults;
  const r = rule?.approval;
  return {
    slack_channel: r?.slack_channel ?? d.slack_channel ?? null,
    approvers: {
      slack_user_ids: r?.approvers?.slack_user_ids ?? d.approvers?.slack_user_ids ?? [],
      identities: r?.approvers?.identities ?? d.approvers?.identities ?? [],
    },
    required_approvals: r?.required_approvals ?? d.required_approvals,
    timeout_seconds: r?.timeout_seconds ?? d.timeout_seconds,
    on_timeout: r?.on_timeout ?? d.on_timeout,
    min_timeout_seconds: r?.min_timeout_seconds ?? d.min_timeout_seconds,
    agent_may_route_to: r?.agent_may_route_to ?? d.agent_may_route_to,
  };
}

/** Where an approval goes when no rule routes it: the policy's defaults. */
export function defaultRouting(policy: Policy): Routing {
  return routingFor(policy, undefined);
}

function evaluateUnsafe(policy: Policy, req: EvaluationRequest, now: number | undefined): Evaluation {
  const results = policy.rules.map((r) => ({ r, m: matchRule(r, req, now) })).filter((x) => x.m.matched);
  const matched = results.map((x) => x.r);
  if (matched.length === 0) {
    const decision = policy.defaults.decision;
    return {
      decision,
      reasons: [{ source: 'default', decision, message: policy.defaults.reason ?? `no rule matched; default is ${decision}` }],
      matched_rules: [],
      routing: decision === 'require_approval' ? routingFor(policy, undefined) : null,
    };
  }
  let decision: PolicyDecision = 'allow';
  for (const r of matched) if (RANK[r.decision] > RANK[decision]) decision = r.decision;
  const reasons: Reason[] = results
    .filter(({ r }) => r.decision === decision)
    .map(({ r, m }) => ({ source: 'rule', rule: r.name, decision: r.decision, message: ruleMessage(r, m.notes) }));
  // The first matching rule that asks for approval routes it.
  const router = matched.find((r) => r.decision === 'require_approval');
  return {
    decision,
    reasons,
    matched_rules: matched.map((r) => r.name),
    routing: decision === 'require_approval' ? routingFor(policy, router) : null,
  };
}

/** Rules only. `now` (epoch ms) is needed by time conditions; without it a rule that has one fails closed. */
export function evaluate(policy: Policy, req: EvaluationRequest, now?: number): Evaluation {
  try {
    return evaluateUnsafe(policy, req, now);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (policy.fail_mode === 'open') {
      return {
        decision: 'allow',
        reasons: [{ source: 'engine', decision: 'allow', message: `allowed because evaluation failed (fail_mode: open): ${message}` }],
        matched_rules: [],
        routing: null,
      };
    }
    return {
      decision: 'deny',
      reasons: [{ source: 'engine', decision: 'deny', message: `denied because evaluation failed (fail closed): ${message}` }],
      matched_rules: [],
      routing: null,
    };
  }
}

// ---------------------------------------------------------------------------
// Rules and guards together.

/** `modify`: go ahead, with the redacted params. */
export type Decision = PolicyDecision | 'modify';

export const DECISION_RANK: Readonly<Record<Decision, number>> = { allow: 0, modify: 1, require_approval: 2, deny: 3 };

/** One contribution to a decision, with who gave it. Never carries a sensitive value. */
export interface EngineReason {
  source: 'rule' | 'guard' | 'default' | 'engine';
  rule?: string;
  guard?: GuardName;
  decision: Decision;
  message: string;
}

export interface RequestEvaluation {
  decision: Decision;
  /**
   * Every reason that contributed, strongest first: all deny, require_approval
   * and modify votes, allow votes only when the decision is allow, and every
   * engine note (a failure that denied or was let through).
   */
  reasons: EngineReason[];
  matched_rules: string[];
  routing: Routing | null;
  /** 1 − Π(1 − risk) over guard findings and matched rules (deny 1, require_approval 0.5, allow 0), in [0, 1]. */
  risk_score: number;
  /**
   * What the edge applies to its counters. Decision not deny: every op (hits,
   * the budget reservation, cooldown flags). Deny: only `flag` ops — a burst's
   * cooldown must start even though the call that tripped it is refused.
   */
  ops: CounterOp[];
  /** The params with sensitive values masked; set whenever anything was redacted, whatever the decision. */
  params?: Record<string, unknown>;
  redacted_paths: string[];
  /** Set when a failure was let through by fail_mode: open and the call is not denied. */
  failed_open?: true;
  findings: Finding[];
}

const RULE_RISK: Record<PolicyDecision, number> = { allow: 0, require_approval: 0.5, deny: 1 };
/** A guard that could not decide and was let through: unknown, so middling. */
const FAILED_OPEN_RISK = 0.5;

interface Vote {
  reason: EngineReason;
  risk: number;
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Rules and guards together: the decision for a check or guard call. */
export function evaluateRequest(policy: Policy, req: EvaluationRequest, ctx: GuardContext): RequestEvaluation {
  const open = policy.fail_mode === 'open';
  const votes: Vote[] = [];
  let failedOpen = false;
  const failure = (what: string, message: string, guard?: GuardName) => {
    const g = guard === undefined ? {} : { guard };
    if (open) {
      failedOpen = true;
      votes.push({ reason: { source: 'engine', ...g, decision: 'allow', message: `${what} failed; let through because fail_mode is open: ${message}` }, risk: FAILED_OPEN_RISK });
    } else {
      votes.push({ reason: { source: 'engine', ...g, decision: 'deny', message: `denied because ${what} failed (fail closed): ${message}` }, risk: 1 });
    }
  };

  const checkpoint = budgetCheck(policy, ctx);
  const overBudget = () => {
    const what = `evaluation exceeded its time budget of ${budgetMs(policy)} ms`;
    if (open) {
      failedOpen = true;
      votes.push({ reason: { source: 'engine', decision: 'allow', message: `${what}; let through because fail_mode is open` }, risk: FAILED_OPEN_RISK });
    } else {
      votes.push({ reason: { source: 'engine', decision: 'deny', message: `denied because ${what} (fail closed)` }, risk: 1 });
    }
  };

  // Rule by rule, asking the budget between them. A budget overrun keeps the
  // votes already cast (a deny found stays a deny, even with fail_mode: open)
  // and skips the rest, guards included.
  const matched: Rule[] = [];
  let exceeded = false;
  try {
    for (const r of policy.rules) {
      checkpoint();
      const m = matchRule(r, req, ctx.now);
      if (!m.matched) continue;
      matched.push(r);
      votes.push({ reason: { source: 'rule', rule: r.name, decision: r.decision, message: ruleMessage(r, m.notes) }, risk: RULE_RISK[r.decision] });
    }
    if (matched.length === 0) {
      const d = policy.defaults.decision;
      votes.push({ reason: { source: 'default', decision: d, message: policy.defaults.reason ?? `no rule matched; default is ${d}` }, risk: 0 });
    }
  } catch (err) {
    if (err instanceof EvaluationBudgetExceeded) {
      exceeded = true;
      overBudget();
    } else {
      // A rule that throws leaves no partial answer: none of the rules vote.
      for (let i = votes.length - 1; i >= 0; i--) if (votes[i]!.reason.source === 'rule') votes.splice(i, 1);
      matched.length = 0;
      failure('rule evaluation', errorMessage(err));
    }
  }

  let ops: CounterOp[] = [];
  let findings: Finding[] = [];
  let params: Record<string, unknown> | undefined;
  let redacted_paths: string[] = [];
  if (!exceeded) {
    try {
      const g = evaluateGuards(policy, req, ctx);
      findings = g.findings;
      ops = g.ops;
      params = g.params;
      redacted_paths = g.redacted_paths;
      for (const f of g.findings) votes.push({ reason: { source: 'guard', guard: f.guard, decision: f.decision, message: f.message }, risk: f.risk });
      for (const f of g.failures) failure(`the ${f.guard} guard`, f.message, f.guard);
      if (g.budget_exceeded) overBudget();
    } catch (err) {
      if (err instanceof EvaluationBudgetExceeded) overBudget();
      else failure('the guards', errorMessage(err));
    }
  }

  let decision: Decision = 'allow';
  for (const v of votes) if (DECISION_RANK[v.reason.decision] > DECISION_RANK[decision]) decision = v.reason.decision;
  const reasons = votes
    .map((v) => v.reason)
    .filter((r) => r.decision !== 'allow' || decision === 'allow' || r.source === 'engine')
    .sort((a, b) => DECISION_RANK[b.decision] - DECISION_RANK[a.decision]);
  let keep = 1;
  for (const v of votes) keep *= 1 - Math.min(1, Math.max(0, v.risk));
  const router = matched.find((r) => r.decision === 'require_approval');
  return {
    decision,
    reasons,
    matched_rules: matched.map((r) => r.name),
    routing: decision === 'require_approval' ? routingFor(policy, router) : null,
    risk_score: Math.min(1, Math.max(0, 1 - keep)),
    ops: decision === 'deny' ? ops.filter((o) => o.kind === 'flag') : ops,
    ...(redacted_paths.length > 0 && params !== undefined ? { params } : {}),
    redacted_paths,
    ...(failedOpen && decision !== 'deny' ? { failed_open: true as const } : {}),
    findings,
  };
}
