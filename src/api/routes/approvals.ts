// Reading and deciding approvals, and the execution lease (claim / complete / fail).
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { STATUSES } from '../../approvals/status.ts';
import { AppError } from '../../errors.ts';
import type { AppDeps, LiveDeps } from '../deps.ts';
import { keyIsActive } from '../../db/keys.ts';
import type { AppEnv, Auth } from '../env.ts';
import { validationHook } from '../errors.ts';
import { resolveVoter } from '../../identities/voter.ts';
import { allow } from '../middleware/auth.ts';
import { parseLastEventId, takeOpenSlot, tenantStream } from '../stream.ts';
import { ApprovalSchema, IdParam, Ident, QueryInt, errorResponses, jsonBody, jsonResponse } from '../schemas.ts';

const EventSchema = z.object({
  id: z.string(),
  seq: z.number().nullable(),
  approval_id: z.string().nullable(),
  type: z.string(),
  actor: z.string(),
  channel: z.string(),
  data: z.unknown(),
  created_at: z.string(),
  prev_hash: z.string().nullable(),
  hash: z.string().nullable(),
});

const get = createRoute({
  method: 'get',
  path: '/v1/approvals/{id}',
  request: { params: IdParam },
  responses: { 200: jsonResponse(ApprovalSchema), ...errorResponses(400, 401, 404) },
});

const byKey = createRoute({
  method: 'get',
  path: '/v1/approvals/by-key/{idempotency_key}',
  summary: 'The approval for an idempotency key; with ?wait=N, long-polls up to N seconds until it leaves pending',
  request: {
    params: z.object({ idempotency_key: Ident(255) }),
    query: z.object({ wait: z.coerce.number().min(0).max(60).optional() }),
  },
  responses: { 200: jsonResponse(ApprovalSchema), ...errorResponses(400, 401, 404, 429) },
});

const list = createRoute({
  method: 'get',
  path: '/v1/approvals',
  request: {
    query: z.object({
      status: z.enum(STATUSES).optional(),
      action: Ident().optional(),
      agent_id: Ident().optional(),
      cursor: z.string().max(200).optional(),
      limit: QueryInt(1, 200).default(50),
    }),
  },
  responses: {
    200: jsonResponse(z.object({ data: z.array(ApprovalSchema), next_cursor: z.string().nullable() })),
    ...errorResponses(400, 401, 403),
  },
});

const decide = createRoute({
  method: 'post',
  path: '/v1/approvals/{id}/decision',
  request: {
    params: IdParam,
    body: jsonBody(
      z.strictObject({
        decision: z.enum(['approve', 'reject']),
        reason: z.string().max(2000).optional(),
        approver: Ident().optional(),
      }),
    ),
  },
  responses: { 200: jsonResponse(ApprovalSchema), ...errorResponses(400, 401, 403, 404, 409) },
});

const cancel = createRoute({
  method: 'post',
  path: '/v1/approvals/{id}/cancel',
  request: { params: IdParam, body: { required: false, content: { 'application/json': { schema: z.strictObject({ reason: z.string().max(2000).optional() }) } } } },
  responses: { 200: jsonResponse(ApprovalSchema), ...errorResponses(400, 401, 403, 404, 409) },
});

const claim = createRoute({
  method: 'post',
  path: '/v1/approvals/{id}/claim',
  summary: 'Take the execution lease on an approved action (exactly-once execution)',
  request: {
    params: IdParam,
    body: { required: false, content: { 'application/json': { schema: z.strictObject({ lease_seconds: z.number().int().min(1).max(86_400).optional() }) } } },
  },
  responses: {
    200: jsonResponse(z.object({ approval: ApprovalSchema, claim_token: z.string() })),
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

const complete = createRoute({
  method: 'post',
  path: '/v1/approvals/{id}/complete',
  request: {
    params: IdParam,
    body: jsonBody(z.strictObject({ claim_token: z.string().uuid(), result: z.unknown().optional(), cost_usd: z.number().min(0).max(1e9).optional(), duration_ms: z.number().int().min(0).max(7 * 86_400_000).optional() })),
  },
  responses: { 200: jsonResponse(ApprovalSchema), ...errorResponses(400, 401, 403, 404, 409) },
});

const fail = createRoute({
  method: 'post',
  path: '/v1/approvals/{id}/fail',
  request: {
    params: IdParam,
    body: jsonBody(z.strictObject({ claim_token: z.string().uuid(), error: z.unknown().optional(), cost_usd: z.number().min(0).max(1e9).optional(), duration_ms: z.number().int().min(0).max(7 * 86_400_000).optional() })),
  },
  responses: { 200: jsonResponse(ApprovalSchema), ...errorResponses(400, 401, 403, 404, 409) },
});

const events = createRoute({
  method: 'get',
  path: '/v1/approvals/{id}/events',
  summary: 'The audit trail of one approval, each event with its place in the tenant hash chain',
  request: { params: IdParam },
  responses: {
    200: jsonResponse(z.object({ events: z.array(EventSchema), chain: z.object({ intact: z.boolean(), checked: z.number() }).passthrough() })),
    ...errorResponses(400, 401, 404),
  },
});

const actor = (auth: Auth) => `key:${auth.key_prefix}`;

export function approvalRoutes(deps: AppDeps & LiveDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const s = deps.service;

  // The tenant's live feed (Server-Sent Events; see ../stream.ts). Not in the
  // OpenAPI document: it is a stream, not a JSON response.
  app.get('/v1/stream', (c) => {
    const auth = c.get('auth');
    allow(auth, 'approver');
    const release = takeOpenSlot(deps.limits, 'stream', `key:${auth.key_id}`);
    return tenantStream(c, deps, {
      tenantId: auth.tenant_id,
      lastEventId: parseLastEventId(c.req.header('last-event-id')),
      // A revoked key's streams end within a heartbeat.
      stillValid: () => keyIsActive(deps.sql, auth.key_id),
      release,
    });
  });

  app.openapi(get, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'agent', 'approver');
    return c.json(await s.get(auth.tenant_id, c.req.valid('param').id), 200);
  });

  app.openapi(byKey, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'agent', 'approver');
    const { idempotency_key } = c.req.valid('param');
    const { wait } = c.req.valid('query');
    if (!wait) return c.json(await s.getByKey(auth.tenant_id, idempotency_key), 200);
    const release = takeOpenSlot(deps.limits, 'poll', `key:${auth.key_id}`);
    try {
      return c.json(await s.waitByKey(auth.tenant_id, idempotency_key, wait * 1000), 200);
    } finally {
      release();
    }
  });

  app.openapi(list, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'approver');
    return c.json(await s.list(auth.tenant_id, c.req.valid('query')), 200);
  });

  app.openapi(decide, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'approver');
    const body = c.req.valid('json');
    const voter = await resolveVoter(deps.sql, auth, body.approver);
    const approval = await s.decide(auth.tenant_id, c.req.valid('param').id, {
      decision: body.decision,
      reason: body.reason,
      approver: voter.approver,
      asserted_by: voter.asserted_by,
      channel: 'api',
    });
    return c.json(approval, 200);
  });

  app.openapi(cancel, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'agent');
    const body = c.req.valid('json') as { reason?: string };
    return c.json(await s.cancel(auth.tenant_id, c.req.valid('param').id, actor(auth), body.reason), 200);
  });

  app.openapi(claim, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'agent');
    const body = c.req.valid('json') as { lease_seconds?: number };
    return c.json(await s.claim(auth.tenant_id, c.req.valid('param').id, actor(auth), body.lease_seconds), 200);
  });

  app.openapi(complete, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'agent');
    const body = c.req.valid('json');
    return c.json(await s.complete(auth.tenant_id, c.req.valid('param').id, actor(auth), body.claim_token, body.result, body.cost_usd, body.duration_ms), 200);
  });

  app.openapi(fail, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'agent');
    const body = c.req.valid('json');
    return c.json(await s.fail(auth.tenant_id, c.req.valid('param').id, actor(auth), body.claim_token, body.error, body.cost_usd, body.duration_ms), 200);
  });

  app.openapi(events, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'agent', 'approver');
    return c.json(await s.events(auth.tenant_id, c.req.valid('param').id), 200);
  });

  return app;
}
