// The `guards` section of the policy document. Validated with zod like the rest
// of the policy (strict objects, every problem with its path). Pure.
import { z } from 'zod';
import { re2Pattern } from '../regex.ts';
import { CustomGuardsSchema } from './custom.ts';

const glob = z.string().min(1).max(200);
const globList = z.array(glob).max(500);
const money = z.number().finite().nonnegative();
const limit = z.number().finite().positive();
const seconds = (max: number) => z.number().int().min(1).max(max);
/** A cooldown: may be fractional (5.5 s), at most a day. */
const gapSeconds = z.number().finite().gt(0).max(86_400);
const count = z.number().int().min(1).max(1_000_000_000);
/** A dotted path read with evaluate.ts's lookup(): `params.amount`, `params.order.vendor`, `context.user`. */
const valuePath = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^.]+(\.[^.]+)*$/, 'a dotted path such as params.amount');
/** One glob or a list of globs (a `daily` / `cooldowns` entry's `action`). */
const globs = z.union([glob, z.array(glob).min(1).max(100)]);
/** Whose calls a count or cooldown adds up: each agent's own (default), or the whole tenant's. */
const perAgentDefault = z.enum(['agent', 'tenant']).default('agent');

export const BudgetSchema = z.strictObject({
  /** USD per call by action glob, used when the request carries no cost_usd. */
  cost_table: z.record(glob, money).default({}),
  per_agent: z
    .strictObject({
      session: limit.optional(),
      /** Spend per agent per context.run_id (as session uses context.session_id). */
      run: limit.optional(),
      day: limit.optional(),
      month: limit.optional(),
    })
    .optional(),
  per_tenant: z.strictObject({ day: limit.optional(), month: limit.optional() }).optional(),
  /** A single call costing more than this (the cost table, or cost_usd when higher) is denied. */
  max_call_cost: money.optional(),
  /**
   * Cumulative spend by action glob: each matching entry is its own bucket,
   * added up for the tenant's agents together (per: tenant, the default) or for
   * each agent (per: agent).
   */
  per_action: z
    .record(
      glob,
      z
        .strictObject({
          day: limit.optional(),
          month: limit.optional(),
          session: limit.optional(),
          run: limit.optional(),
          per: z.enum(['tenant', 'agent']).default('tenant'),
        })
        .refine((b) => b.day !== undefined || b.month !== undefined || b.session !== undefined || b.run !== undefined, 'a per_action entry needs at least one of day, month, session, run'),
    )
    .default({}),
  /** Spend after this call at or above this share of a limit → require approval. */
  warn_threshold: z.number().gt(0).max(1).optional(),
  /** How long an allowed call that is never reported holds its cost. */
  reservation_ttl_seconds: seconds(30 * 86_400).default(3600),
});

const perMinute = z.strictObject({ per_minute: z.number().int().min(1).max(1_000_000) });

export const RateLimitSchema = z.strictObject({
  per_agent: perMinute.optional(),
  per_action: perMinute.optional(),
  per_agent_action: perMinute.optional(),
  burst: z
    .strictObject({
      max: z.number().int().min(1).max(1_000_000),
      window_seconds: seconds(3600),
      cooldown_seconds: seconds(86_400).default(60),
    })
    .optional(),
  max_identical_calls: z.strictObject({ count: z.number().int().min(1).max(100_000), window_seconds: seconds(86_400) }).optional(),
  /** Calls per agent per context.session_id, any action. */
  per_session: z.strictObject({ max: count }).optional(),
  /** Calls per UTC day by action glob. */
  daily: z.array(z.strictObject({ action: globs, max: count, per: perAgentDefault })).max(100).default([]),
  /** Minimum gap between two calls of one concrete action name. */
  cooldowns: z.array(z.strictObject({ action: globs, seconds: gapSeconds, per: perAgentDefault })).max(100).default([]),
  on_limit: z.enum(['deny', 'require_approval']).default('deny'),
});

export const BUILTIN_DETECTORS = ['credit_card', 'us_ssn', 'email', 'phone', 'aws_access_key', 'private_key', 'jwt', 'bearer_token'] as const;
export type BuiltinDetector = (typeof BUILTIN_DETECTORS)[number];
/** The detector name of a value found under a sensitive field name. */
export const FIELD_DETECTOR = 'field';

export const DEFAULT_FIELD_NAMES = ['password', 'secret', 'api_key', 'token', 'authorization'];

const onFinding = z.enum(['deny', 'require_approval', 'redact']);
export type OnFinding = z.output<typeof onFinding>;

export const SensitiveDataSchema = z
  .strictObject({
    detectors: z.array(z.enum(BUILTIN_DETECTORS)).max(BUILTIN_DETECTORS.length).default([...BUILTIN_DETECTORS]),
    custom: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'a lower_snake_case name'),
          pattern: re2Pattern(500),
        }),
      )
      .max(50)
      .default([]),
    /** Keys (case-insensitive; `-` and `_` ignored) whose values are sensitive whatever they hold. */
    field_names: z.array(z.string().min(1).max(100)).max(200).default(DEFAULT_FIELD_NAMES),
    on_finding: onFinding.default('redact'),
    per_detector: z.record(z.string().min(1).max(63), onFinding).default({}),
  })
  .superRefine((s, ctx) => {
    const known = new Set<string>([...BUILTIN_DETECTORS, FIELD_DETECTOR]);
    s.custom.forEach((c, i) => {
      if (known.has(c.name)) ctx.addIssue({ code: 'custom', path: ['custom', i, 'name'], message: `"${c.name}" is already a detector name` });
      known.add(c.name);
    });
    for (const name of Object.keys(s.per_detector)) {
      if (!known.has(name)) ctx.addIssue({ code: 'custom', path: ['per_detector', name], message: `unknown detector "${name}"` });
    }
  });

const scopeLists = {
  allow: globList.optional(),
  deny: globList.optional(),
  require_approval: globList.optional(),
  otherwise: z.enum(['deny', 'require_approval']).optional(),
  read_only: z.boolean().optional(),
};

export const DEFAULT_READ_PATTERNS = ['*.get', '*.list', '*.read', '*.search', 'read.*', 'search.*'];

/**
 * Verbs that make an action a read when they open its last dotted segment as a
 * whole word: snake_case (`get_user`), camelCase (`listUsers`), kebab-case —
 * unless a write word follows (see WRITE_WORDS in ./scope.ts), so `getaway.book`
 * and `list_delete` are not reads.
 */
export const DEFAULT_READ_VERBS = ['get', 'list', 'read', 'search', 'fetch', 'find', 'query', 'lookup', 'describe', 'view', 'show', 'count'];

const word = z.string().regex(/^[a-z][a-z0-9]{0,39}$/, 'a lower-case word');

export const ScopeSchema = z.strictObject({
  ...scopeLists,
  read_patterns: globList.default(DEFAULT_READ_PATTERNS),
  read_verbs: z.array(word).max(100).default(DEFAULT_READ_VERBS),
  /**
   * Agent id (or glob) → lists that add to the tenant's for that agent: deny
   * and require_approval are unions, read_only is OR, otherwise the stricter,
   * and an allow list narrows (the action must be in every allow list). Every
   * matching key applies. An override can only restrict.
   */
  agents: z.record(glob, z.strictObject(scopeLists)).default({}),
});

const nameList = z.array(z.string().min(1).max(200)).max(1000);

export const PurchaseRuleSchema = z
  .strictObject({
    actions: z.array(glob).min(1).max(100),
    /** Required: an absent amount, or one that is not a plain number, denies. */
    amount_path: valuePath,
    category_path: valuePath.optional(),
    vendor_path: valuePath.optional(),
    currency_path: valuePath.optional(),
    /** With currency_path: a call in another currency needs approval. */
    currency: z.string().min(1).max(20).optional(),
    max_single: money.optional(),
    require_approval_above: money.optional(),
    blocked_categories: nameList.default([]),
    vendors: z.strictObject({ allow: globList.optional(), deny: globList.optional() }).optional(),
    /** Sum of amounts per agent per UTC day. */
    daily_total: money.optional(),
    /** Purchases per agent per UTC day. */
    daily_count: count.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.currency !== undefined && p.currency_path === undefined) {
      ctx.addIssue({ code: 'custom', path: ['currency_path'], message: 'currency needs currency_path (where the call says its currency)' });
    }
    if (p.blocked_categories.length > 0 && p.category_path === undefined) {
      ctx.addIssue({ code: 'custom', path: ['category_path'], message: 'blocked_categories needs category_path' });
    }
    if (p.vendors !== undefined && p.vendor_path === undefined) {
      ctx.addIssue({ code: 'custom', path: ['vendor_path'], message: 'vendors needs vendor_path' });
    }
  });

export const DEFAULT_HARD_DELETE_PATH = 'params.permanent';

export const DeletionRuleSchema = z.strictObject({
  actions: z.array(glob).min(1).max(100),
  /** Required: a string, or an array of strings (a bulk delete); anything else denies. */
  resource_path: valuePath,
  /** Set → every resource must match one of these. */
  allow_patterns: globList.optional(),
  deny_patterns: globList.optional(),
  /** Exact names (normalised). */
  protected: nameList.default([]),
  require_approval_always: z.boolean().default(false),
  max_bulk_delete: count.optional(),
  /** Resources deleted per agent per UTC day. */
  max_per_day: count.optional(),
  soft_delete_only: z.boolean().default(false),
  hard_delete_path: valuePath.default(DEFAULT_HARD_DELETE_PATH),
  /** Per agent per concrete action. */
  cooldown_seconds: gapSeconds.optional(),
});

export const GuardsSchema = z.strictObject({
  budget: BudgetSchema.optional(),
  rate_limit: RateLimitSchema.optional(),
  sensitive_data: SensitiveDataSchema.optional(),
  scope: ScopeSchema.optional(),
  purchase: z.array(PurchaseRuleSchema).max(50).optional(),
  deletion: z.array(DeletionRuleSchema).max(50).optional(),
  /** CEL expressions written by the admin (./custom.ts). */
  custom: CustomGuardsSchema.optional(),
});

export type GuardsConfig = z.output<typeof GuardsSchema>;
export type BudgetConfig = z.output<typeof BudgetSchema>;
export type RateLimitConfig = z.output<typeof RateLimitSchema>;
export type SensitiveDataConfig = z.output<typeof SensitiveDataSchema>;
export type ScopeConfig = z.output<typeof ScopeSchema>;
export type PurchaseRule = z.output<typeof PurchaseRuleSchema>;
export type PurchaseConfig = PurchaseRule[];
export type DeletionRule = z.output<typeof DeletionRuleSchema>;
export type DeletionConfig = DeletionRule[];
export type PerActionBudget = BudgetConfig['per_action'][string];
export type DailyCount = RateLimitConfig['daily'][number];
export type Cooldown = RateLimitConfig['cooldowns'][number];
export type { CustomGuardConfig } from './custom.ts';
