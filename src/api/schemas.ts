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

const json = z.record(z.string(), z.unknown());

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

export const IdParam = z.object({ id: z.string().uuid().openapi({ param: { name: 'id', in: 'path' } }) });

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
  })
  .openapi('GuardRequest');

export const CheckBody = z
  .strictObject({
    action: Ident(200),
    params: json.default({}),
    agent_id: Ident(200).default('default'),
    context: json.default({}),
    cost_usd: z.number().min(0).max(1e9).optional(),
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
