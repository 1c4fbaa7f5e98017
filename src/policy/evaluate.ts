// Policy evaluation. Pure: the same request and policy always give the same answer.
// Every matching rule votes; DENY > REQUIRE_APPROVAL > ALLOW. An error while
// evaluating denies, unless the policy says fail_mode: open.
import { globMatch } from './glob.ts';
import type { Condition, Policy, PolicyDecision, Rule } from './schema.ts';

export interface EvaluationRequest {
  action: string;
  agent_id: string;
  params: Record<string, unknown>;
  context: Record<string, unknown>;
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
    if (!new RegExp(c.matches).test(String(value))) return false;
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
