// Policy evaluation. Pure: the same request, policy, counters and `now` always
// give the same answer. Every matching rule votes, and so does every guard
// finding; DENY > REQUIRE_APPROVAL > MODIFY > ALLOW. An error while evaluating
// (a guard that throws, counters that could not be read) denies, unless the
// policy says fail_mode: open — and then the evaluation says so.
import { globMatch } from './glob.ts';
import { evaluateGuards, type GuardContext } from './guards/index.ts';
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

// Numeric strings compare as numbers: an agent must not dodge `amount > 1000`
// by sending "5000".
function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const na = num(a);
  const nb = num(b);
  return na !== undefined && nb !== undefined && na === nb;
}

// Compiled once per pattern: policies are evaluated far more often than they change.
const regexps = new Map<string, RegExp>();
function conditionRegExp(pattern: string): RegExp {
  let re = regexps.get(pattern);
  if (!re) {
    re = new RegExp(pattern);
    if (regexps.size > 10_000) regexps.clear();
    regexps.set(pattern, re);
  }
  return re;
}

export function conditionHolds(value: unknown, c: Condition): boolean {
  if (c.exists !== undefined && (value !== undefined) !== c.exists) return false;
  if (c.eq !== undefined && !same(value, c.eq)) return false;
  if (c.ne !== undefined && same(value, c.ne)) return false;
  const n = num(value);
  if (c.gt !== undefined && !(n !== undefined && n > c.gt)) return false;
  if (c.gte !== undefined && !(n !== undefined && n >= c.gte)) return false;
  if (c.lt !== undefined && !(n !== undefined && n < c.lt)) return false;
  if (c.lte !== undefined && !(n !== undefined && n <= c.lte)) return false;
  if (c.in !== undefined && !c.in.some((x) => same(value, x))) return false;
  if (c.not_in !== undefined && c.not_in.some((x) => same(value, x))) return false;
  if (c.matches !== undefined) {
    if (typeof value !== 'string' && typeof value !== 'number') return false;
    if (!conditionRegExp(c.matches).test(String(value))) return false;
  }
  return true;
}

export function ruleMatches(rule: Rule, req: EvaluationRequest): boolean {
  if (!globMatch(rule.match.action, req.action)) return false;
  if (!globMatch(rule.match.agent, req.agent_id)) return false;
  for (const [path, cond] of Object.entries(rule.match.when ?? {})) {
    if (!conditionHolds(lookup(req, path), cond)) return false;
  }
  return true;
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

function evaluateUnsafe(policy: Policy, req: EvaluationRequest): Evaluation {
  const matched = policy.rules.filter((r) => ruleMatches(r, req));
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
  const reasons: Reason[] = matched
    .filter((r) => r.decision === decision)
    .map((r) => ({ source: 'rule', rule: r.name, decision: r.decision, message: r.reason ?? `rule ${r.name} matched` }));
  // The first matching rule that asks for approval routes it.
  const router = matched.find((r) => r.decision === 'require_approval');
  return {
    decision,
    reasons,
    matched_rules: matched.map((r) => r.name),
    routing: decision === 'require_approval' ? routingFor(policy, router) : null,
  };
}

export function evaluate(policy: Policy, req: EvaluationRequest): Evaluation {
  try {
    return evaluateUnsafe(policy, req);
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

  let matched: Rule[] = [];
  try {
    matched = policy.rules.filter((r) => ruleMatches(r, req));
    if (matched.length === 0) {
      const d = policy.defaults.decision;
      votes.push({ reason: { source: 'default', decision: d, message: policy.defaults.reason ?? `no rule matched; default is ${d}` }, risk: 0 });
    }
    for (const r of matched) {
      votes.push({ reason: { source: 'rule', rule: r.name, decision: r.decision, message: r.reason ?? `rule ${r.name} matched` }, risk: RULE_RISK[r.decision] });
    }
  } catch (err) {
    matched = [];
    failure('rule evaluation', errorMessage(err));
  }

  let ops: CounterOp[] = [];
  let findings: Finding[] = [];
  let params: Record<string, unknown> | undefined;
  let redacted_paths: string[] = [];
  try {
    const g = evaluateGuards(policy, req, ctx);
    findings = g.findings;
    ops = g.ops;
    params = g.params;
    redacted_paths = g.redacted_paths;
    for (const f of g.findings) votes.push({ reason: { source: 'guard', guard: f.guard, decision: f.decision, message: f.message }, risk: f.risk });
    for (const f of g.failures) failure(`the ${f.guard} guard`, f.message, f.guard);
  } catch (err) {
    failure('the guards', errorMessage(err));
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
