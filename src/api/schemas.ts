// Request and response schemas shared by the routes; the OpenAPI document is generated from these.
import { z } from '@hono/zod-openapi';
import { STATUSES } from '../approvals/status.ts';

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'validation_failed' }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

/**
 * A JSON object kept exactly as sent. zod's z.record and passthrough objects
 * copy by assignment, and assigning a "__proto__" key sets the prototype
 * instead: the key would vanish, and the approver would not see what the agent
 * sent. This checks the shape and keeps the parsed object itself (JSON.parse
 * makes "__proto__" an own, plain key; the body walk has bounded its depth).
 */
export const JsonObject = z
  .custom<Record<string, unknown>>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), { message: 'Invalid input: expected object' })
  .openapi({ type: 'object', additionalProperties: {} });

const json = JsonObject;

export const VoteSchema = z.object({
  approver: z.string(),
  vote: z.enum(['approve', 'reject']),
  reason: z.string().nullable(),
  channel: z.string(),
  created_at: z.string(),
});

export const ApprovalSchema = z
  .object({
    id: z.string().uuid(),
    idempotency_key: z.string(),
    action: z.string(),
    agent_id: z.string(),
    params: json,
    context: json,
    status: z.enum(STATUSES),
    reasons: z.array(z.unknown()),
    required_approvals: z.number().int(),
    votes: z.array(VoteSchema),
    routing: z.unknown(),
    on_timeout: z.enum(['reject', 'approve']),
    created_at: z.string(),
    expires_at: z.string(),
    decided_at: z.string().nullable(),
    decided_by: z.string().nullable(),
    decision_reason: z.string().nullable(),
    decision_channel: z.string().nullable(),
    decision_option: z.string().nullable().optional(),
    claim_expires_at: z.string().nullable(),
    callback_url: z.string().nullable(),
    result: z.unknown(),
    error: z.unknown(),
    completed_at: z.string().nullable(),
    policy_version: z.number().int().nullable(),
    decision_id: z.string().nullable(),
  })
  .openapi('Approval');

/** Identifiers: printable, no control characters, bounded. */
export const Ident = (max = 200) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');

/** The largest value a Postgres integer column holds. */
export const PG_INT_MAX = 2_147_483_647;

/**
 * An integer in a query string, validated exactly: decimal digits only (no
 * `1e3`, `0x10`, blanks or signs), within [min, max] — so a value past what the
 * column holds is a 400 naming the field, not a Postgres overflow.
 */
export const QueryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,10}$/, 'must be a whole number written in decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .openapi({ type: 'integer', minimum: min, maximum: max });

export const IdParam = z.object({ id: z.string().uuid().openapi({ param: { name: 'id', in: 'path' } }) });

/** One tag: a label the agent puts on its call. A safe charset, so a tag never needs escaping in a URL, a CSV cell or a log line. */
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,63}$/;
export const MAX_TAGS = 20;
export const Tag = z.string().regex(TAG_PATTERN, 'a tag is 1–64 characters of letters, digits and _ . : / - (not starting with . : / -)');

/**
 * The agent's labels for a call (`["search", "team:growth"]`): stored on the
 * decision, filterable, exported. Never a policy input — evaluation does not
 * see them — so a tag can unlock nothing. Duplicates are dropped.
 */
export const Tags = z
  .array(Tag)
  .max(MAX_TAGS)
  .transform((tags) => [...new Set(tags)])
  .openapi({ type: 'array', items: { type: 'string', pattern: TAG_PATTERN.source }, maxItems: MAX_TAGS, example: ['search', 'team:growth'] });

export const GuardBody = z
  .strictObject({
    action: Ident(200).openapi({ example: 'payment.send' }),
    params: json.default({}),
    agent_id: Ident(200).default('default'),
    context: json.default({}),
    idempotency_key: Ident(255).optional(),
    callback_url: z.string().url().max(2000).nullable().optional(),
    timeout_seconds: z.number().int().min(1).max(30 * 86_400).optional(),
    cost_usd: z.number().min(0).max(1e9).optional(),
    tags: Tags.optional(),
  })
  .openapi('GuardRequest');

export const CheckBody = z
  .strictObject({
    action: Ident(200),
    params: json.default({}),
    agent_id: Ident(200).default('default'),
    context: json.default({}),
    cost_usd: z.number().min(0).max(1e9).optional(),
    tags: Tags.optional(),
  })
  .openapi('CheckRequest');

export const ReasonsSchema = z.array(z.unknown());

export const GuardResponse = z
  .object({
    status: z.enum(['allowed', 'denied', ...STATUSES]),
    reasons: ReasonsSchema,
    decision_id: z.string(),
    policy_version: z.number().int().nullable(),
    risk_score: z.number().nullable(),
    params: json.optional().openapi({ description: 'present when sensitive values were redacted: use these params' }),
    redacted_paths: z.array(z.string()),
    approval: ApprovalSchema.nullable(),
  })
  .openapi('GuardResponse');

export const CheckResponse = z
  .object({
    decision: z.enum(['allow', 'modify', 'deny', 'require_approval']),
    reasons: ReasonsSchema,
    decision_id: z.string(),
    policy_version: z.number().int(),
    matched_rules: z.array(z.string()),
    risk_score: z.number(),
    params: json,
    redacted_paths: z.array(z.string()),
    failed_open: z.boolean(),
  })
  .openapi('CheckResponse');

export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [s, { description: 'error', content: { 'application/json': { schema: ErrorSchema } } }]),
  );

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

export const jsonResponse = <T extends z.ZodType>(schema: T, description = 'ok') => ({
  description,
  content: { 'application/json': { schema } },
});
