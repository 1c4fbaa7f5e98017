// The tenant policy document (YAML or JSON). Validated with zod; every problem
// is reported with its path. Patterns (`matches`, custom detectors) must
// compile on RE2 (./regex.ts), so nothing in a policy can make evaluation
// backtrack.
import { z } from 'zod';
import { approverNameProblem } from '../approvals/identity.ts';
import { toProblems, type Problem } from '../validation.ts';
import { GuardsSchema } from './guards/config.ts';
import { re2Pattern } from './regex.ts';
import { TimeConditionSchema } from './time.ts';

const glob = z.string().min(1).max(200);
const globs = z.union([glob, z.array(glob).min(1).max(100)]);
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const ConditionSchema = z
  .strictObject({
    eq: scalar.optional(),
    ne: scalar.optional(),
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
    in: z.array(scalar).max(1000).optional(),
    not_in: z.array(scalar).max(1000).optional(),
    matches: re2Pattern(500, 0).optional(),
    exists: z.boolean().optional(),
    /** eq, ne, in, not_in on strings fold case unless this is true (they always normalise Unicode and whitespace). */
    case_sensitive: z.boolean().optional(),
  })
  .refine((c) => Object.keys(c).some((k) => k !== 'case_sensitive'), 'a condition needs at least one operator');

// An identity list names people (approver records), never a name the engine
// writes (`key:…`, `slack:…`, `system`): those could otherwise be claimed.
const identity = z.string().min(1).max(200).superRefine((name, ctx) => {
  const problem = approverNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const ApproversSchema = z.strictObject({
  slack_user_ids: z.array(z.string().min(1)).max(100).default([]),
  identities: z.array(identity).max(100).default([]),
});

const channel = z.string().min(1).max(200);
/** The shortest deadline any approval may have, whatever the agent asks (seconds). */
export const MIN_TIMEOUT_DEFAULT = 60;

export const ApprovalRouteSchema = z.strictObject({
  slack_channel: z.string().min(1).max(200).optional(),
  approvers: ApproversSchema.optional(),
  required_approvals: z.number().int().min(1).max(20).optional(),
  timeout_seconds: z.number().int().min(1).max(30 * 86_400).optional(),
  on_timeout: z.enum(['reject', 'approve']).optional(),
  /** No deadline below this, whoever asks (default: defaults.min_timeout_seconds, else 60). */
  min_timeout_seconds: z.number().int().min(1).max(30 * 86_400).optional(),
  /** Channels the agent may pick for this route (guard slack_channel, HumanLayer channel); none unless listed. */
  agent_may_route_to: z.array(channel).max(100).optional(),
});

/** How long one evaluation may take before fail_mode decides (ms). */
export const DEFAULT_EVALUATION_BUDGET_MS = 50;

export const DECISIONS = ['allow', 'deny', 'require_approval'] as const;
export type PolicyDecision = (typeof DECISIONS)[number];

export const RuleSchema = z.strictObject({
  name: z.string().min(1).max(200),
  description: z.string().max(2000).optional(),
  match: z
    .strictObject({
      action: globs.optional(),
      agent: globs.optional(),
      when: z.record(z.string().min(1).max(200), ConditionSchema).optional(),
      /** The request's time (the edge's clock) in a zone: days and hours, or outside them (./time.ts). */
      time: TimeConditionSchema.optional(),
    })
    .default({}),
  decision: z.enum(DECISIONS),
  reason: z.string().max(1000).optional(),
  approval: ApprovalRouteSchema.optional(),
});

export const PolicySchema = z
  .strictObject({
    version: z.union([z.number(), z.string()]).optional(),
    description: z.string().max(2000).optional(),
    fail_mode: z.enum(['closed', 'open']).default('closed'),
    /** Wall-clock budget for one evaluation (rules and guards), default 50 ms; past it, fail_mode decides. */
    evaluation_budget_ms: z.number().int().min(1).max(10_000).optional(),
    defaults: z
      .strictObject({
        decision: z.enum(DECISIONS).default('require_approval'),
        reason: z.string().max(1000).optional(),
        timeout_seconds: z.number().int().min(1).max(30 * 86_400).default(900),
        on_timeout: z.enum(['reject', 'approve']).default('reject'),
        required_approvals: z.number().int().min(1).max(20).default(1),
        slack_channel: z.string().min(1).max(200).optional(),
        approvers: ApproversSchema.optional(),
        min_timeout_seconds: z.number().int().min(1).max(30 * 86_400).default(MIN_TIMEOUT_DEFAULT),
        agent_may_route_to: z.array(channel).max(100).default([]),
      })
      .default({
        decision: 'require_approval',
        timeout_seconds: 900,
        on_timeout: 'reject',
        required_approvals: 1,
        min_timeout_seconds: MIN_TIMEOUT_DEFAULT,
        agent_may_route_to: [],
      }),
    rules: z.array(RuleSchema).max(1000).default([]),
    // Slack user id → approver identity, so a Slack click counts as that person
    // (and `approvers.identities` applies to Slack too).
    // Prefer approver records (`holdpoint approver add --slack-user`); they win over this map.
    slack_users: z.record(z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'a Slack user id like U01ABC'), identity).default({}),
    // budget, rate_limit, sensitive_data, scope: see ./guards/config.ts.
    guards: GuardsSchema.optional(),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.rules.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `duplicate rule name "${r.name}"` });
      seen.add(r.name);
    });
    // A route's own deadline must respect its floor: the floor is the promise.
    const check = (timeout: number, min: number, path: (string | number)[]) => {
      if (timeout < min) ctx.addIssue({ code: 'custom', path, message: `timeout_seconds ${timeout} is below min_timeout_seconds ${min}` });
    };
    check(p.defaults.timeout_seconds, p.defaults.min_timeout_seconds, ['defaults', 'timeout_seconds']);
    p.rules.forEach((r, i) => {
      const a = r.approval;
      if (!a) return;
      check(a.timeout_seconds ?? p.defaults.timeout_seconds, a.min_timeout_seconds ?? p.defaults.min_timeout_seconds, ['rules', i, 'approval', 'timeout_seconds']);
    });
  });

export type Policy = z.output<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;
export type Rule = z.output<typeof RuleSchema>;
export type Condition = z.output<typeof ConditionSchema>;
export type ApprovalRoute = z.output<typeof ApprovalRouteSchema>;

/**
 * The policy a tenant has before it sets one: every action needs a human.
 * An approval engine that allows everything by default would be a trap.
 */
export const DEFAULT_POLICY: Policy = PolicySchema.parse({});

export type PolicyProblem = Problem;

export function parsePolicy(doc: unknown): { ok: true; policy: Policy } | { ok: false; problems: PolicyProblem[] } {
  const r = PolicySchema.safeParse(doc);
  if (r.success) return { ok: true, policy: r.data };
  return {
    ok: false,
    problems: toProblems(r.error.issues),
  };
}
