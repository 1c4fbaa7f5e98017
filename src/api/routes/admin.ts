// Tenant administration: policy, API keys, webhook endpoints and deliveries. Admin keys only.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { WEBHOOK_EVENT_TYPES } from '../../approvals/status.ts';
import { getApprover } from '../../db/approvers.ts';
import { PERMISSIONS, ROLES, insertKey, listKeys, revokeKey, type ApiKeyRow } from '../../db/keys.ts';
import { getWebhookSecrets, rotateWebhookSecret } from '../../db/tenants.ts';
import * as webhooksDb from '../../db/webhooks.ts';
import { AppError } from '../../errors.ts';
import { jobIds } from '../../queue/queues.ts';
import { parsePolicySource, type ActivePolicy } from '../../services/policies.ts';
import { parsePolicy } from '../../policy/schema.ts';
import { targetProblem } from '../../webhooks/targets.ts';
import type { AppDeps } from '../deps.ts';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../errors.ts';
import { allow } from '../middleware/auth.ts';
import { jsonProblem, jsonProblemError } from '../middleware/finite-numbers.ts';
import { IdParam, Ident, JsonObject, PG_INT_MAX, QueryInt, errorResponses, jsonBody, jsonResponse } from '../schemas.ts';

const any = z.object({}).passthrough();

const renderKey = (k: ApiKeyRow) => ({
  id: k.id,
  role: k.role,
  prefix: k.prefix,
  name: k.name,
  approver: k.approver,
  permissions: k.permissions,
  created_at: k.created_at.toISOString(),
  revoked_at: k.revoked_at ? k.revoked_at.toISOString() : null,
});

const renderEndpoint = (e: webhooksDb.EndpointRow) => ({
  id: e.id,
  url: e.url,
  event_types: e.event_types,
  description: e.description,
  created_at: e.created_at.toISOString(),
  disabled_at: e.disabled_at ? e.disabled_at.toISOString() : null,
  disabled_reason: e.disabled_reason,
});

const renderDelivery = (d: webhooksDb.DeliveryRow) => ({
  id: d.id,
  event_id: d.event_id,
  endpoint_id: d.endpoint_id,
  target: d.target,
  url: d.url,
  status: d.status,
  attempts: d.attempts,
  last_status_code: d.last_status_code,
  last_error: d.last_error,
  next_attempt_at: d.next_attempt_at.toISOString(),
  delivered_at: d.delivered_at ? d.delivered_at.toISOString() : null,
  created_at: d.created_at.toISOString(),
});

const POLICY_TYPES = ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain'];

const getPolicy = createRoute({
  method: 'get',
  path: '/v1/policy',
  request: { query: z.object({ version: QueryInt(1, PG_INT_MAX).optional() }) },
  responses: { 200: jsonResponse(any), ...errorResponses(401, 403, 404) },
});
const policyVersions = createRoute({
  method: 'get',
  path: '/v1/policy/versions',
  responses: { 200: jsonResponse(any), ...errorResponses(401, 403) },
});
const putPolicy = createRoute({
  method: 'put',
  path: '/v1/policy',
  summary: 'Replace the tenant policy. Body: the document as JSON (application/json) or YAML (application/yaml, text/yaml)',
  responses: { 200: jsonResponse(any), ...errorResponses(400, 401, 403, 413, 415) },
});

const testPolicy = createRoute({
  method: 'post',
  path: '/v1/policy/test',
  summary: 'Dry run: evaluate a sample request against a draft policy (or the active one) without saving or counting anything',
  request: {
    body: jsonBody(
      z.strictObject({
        policy: z.record(z.string(), z.unknown()).optional(),
        request: z.strictObject({
          action: Ident(200),
          agent_id: Ident(200).default('default'),
          params: JsonObject.default({}),
          context: JsonObject.default({}),
          cost_usd: z.number().min(0).max(1e9).optional(),
        }),
      }),
    ),
  },
  responses: { 200: jsonResponse(any), ...errorResponses(400, 401, 403) },
});

const createKey = createRoute({
  method: 'post',
  path: '/v1/api-keys',
  request: {
    body: jsonBody(
      z.strictObject({
        role: z.enum(ROLES),
        name: z.string().max(200).optional(),
        /** Bind the key to an existing approver: it then decides as that person. */
        approver: Ident().optional(),
        /** `assert_identity`: an integration that authenticated the person itself may name the approver. */
        permissions: z.array(z.enum(PERMISSIONS)).max(PERMISSIONS.length).default([]),
      }),
    ),
  },
  responses: { 201: jsonResponse(any, 'the key is shown once, in `key`'), ...errorResponses(400, 401, 403, 422) },
});
const listKeysRoute = createRoute({ method: 'get', path: '/v1/api-keys', responses: { 200: jsonResponse(any), ...errorResponses(401, 403) } });
const deleteKey = createRoute({
  method: 'delete',
  path: '/v1/api-keys/{id}',
  request: { params: IdParam },
  responses: { 200: jsonResponse(any), ...errorResponses(400, 401, 403, 404) },
});

const createEndpoint = createRoute({
  method: 'post',
  path: '/v1/webhook-endpoints',
  request: {
    body: jsonBody(
      z.strictObject({
        url: z.string().url().max(2000),
        event_types: z.array(z.enum(WEBHOOK_EVENT_TYPES)).max(WEBHOOK_EVENT_TYPES.length).default([]),
        description: z.string().max(500).optional(),
      }),
    ),
  },
  responses: { 201: jsonResponse(any), ...errorResponses(400, 401, 403) },
});
const listEndpoints = createRoute({ method: 'get', path: '/v1/webhook-endpoints', responses: { 200: jsonResponse(any), ...errorResponses(401, 403) } });
const getEndpoint = createRoute({
  method: 'get',
  path: '/v1/webhook-endpoints/{id}',
  request: { params: IdParam },
  responses: { 200: jsonResponse(any), ...errorResponses(400, 401, 403, 404) },
});
const deleteEndpoint = createRoute({
  method: 'delete',
  path: '/v1/webhook-endpoints/{id}',
  request: { params: IdParam },
  responses: { 200: jsonResponse(any), ...errorResponses(400, 401, 403, 404) },
});
const listDeliveries = createRoute({
  method: 'get',
  path: '/v1/webhook-deliveries',
  request: {
    query: z.object({
      status: z.enum(['pending', 'delivered', 'failed', 'dead']).optional(),
      event_id: z.string().uuid().optional(),
      limit: QueryInt(1, 200).default(50),
    }),
  },
  responses: { 200: jsonResponse(any), ...errorResponses(400, 401, 403) },
});
const replayDelivery = createRoute({
  method: 'post',
  path: '/v1/webhook-deliveries/{id}/replay',
  summary: 'Send a dead or failed delivery again, from attempt 1',
  request: { params: IdParam },
  responses: { 202: jsonResponse(any), ...errorResponses(400, 401, 403, 404, 409) },
});

/** How long a rotated-out webhook secret keeps signing, unless the call says otherwise. */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 24 * 3600;

const rotateSecret = createRoute({
  method: 'post',
  path: '/v1/webhook-secret/rotate',
  summary:
    'Give the tenant a new webhook signing secret. For overlap_seconds (default 86400, 24 h; 0: none) every delivery carries signatures with both the new and the old secret, so receivers can switch at their own pace; then only the new one. The new secret is shown once.',
  request: {
    body: {
      required: false,
      content: { 'application/json': { schema: z.strictObject({ overlap_seconds: z.number().int().min(0).max(30 * 86_400).optional() }) } },
    },
  },
  responses: { 200: jsonResponse(any, 'the new secret, in `secret`, is shown once'), ...errorResponses(400, 401, 403) },
});

export function adminRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const { sql } = deps;

  app.openapi(getPolicy, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'approver');
    return c.json(await deps.policies.get(auth.tenant_id, c.req.valid('query').version), 200);
  });

  app.openapi(policyVersions, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'approver');
    return c.json({ data: await deps.policies.versions(auth.tenant_id) }, 200);
  });

  app.openapi(putPolicy, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    const ct = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
    if (!ct || !POLICY_TYPES.includes(ct)) {
      throw new AppError('unsupported_media_type', `send the policy as one of: ${POLICY_TYPES.join(', ')}`);
    }
    const text = await c.req.text();
    if (!text.trim()) throw new AppError('validation_failed', 'policy body is empty');
    if (text.includes('\u0000')) throw jsonProblemError({ code: 'invalid_text', path: [] });
    const doc = parsePolicySource(text, ct);
    // YAML bodies miss the JSON body walk; YAML's "\0" escape is a NUL too.
    const problem = jsonProblem(doc);
    if (problem) throw jsonProblemError(problem);
    const saved = await deps.policies.set(auth.tenant_id, doc, text, `key:${auth.key_prefix}`);
    return c.json(saved, 200);
  });

  app.openapi(testPolicy, async (c) => {
    const auth = c.get('auth');
    // Admin only: a draft runs admin-chosen patterns here, and a dry run reads live counters.
    allow(auth, 'admin');
    const body = c.req.valid('json');
    let policy: ActivePolicy | undefined;
    if (body.policy) {
      const parsed = parsePolicy(body.policy);
      if (!parsed.ok) throw new AppError('validation_failed', 'the draft policy is invalid', { problems: parsed.problems });
      policy = { version: 0, policy: parsed.policy };
    }
    // Counters are read (so budgets and rate limits answer as they would now) but never changed.
    const { active, evaluation } = await deps.evaluator.evaluate(auth.tenant_id, body.request, 'dry-run', { dryRun: true, ...(policy ? { policy } : {}) });
    const { ops: _ops, findings: _findings, ...result } = evaluation;
    return c.json({ ...result, policy_version: body.policy ? null : active.version, dry_run: true }, 200);
  });

  app.openapi(createKey, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    const body = c.req.valid('json');
    if (body.approver && body.role === 'agent') {
      throw new AppError('validation_failed', 'only approver or admin keys carry an approver identity', { field: 'approver' });
    }
    if (body.permissions.length > 0 && body.role === 'agent') {
      throw new AppError('validation_failed', 'agent keys cannot carry permissions: an agent never names who approved', { field: 'permissions' });
    }
    if (body.approver && !(await getApprover(sql, auth.tenant_id, body.approver))) {
      throw new AppError('unknown_approver', `no approver named "${body.approver}"; add the person first (POST /v1/approvers)`, { field: 'approver' });
    }
    const { key, row } = await insertKey(sql, {
      tenant_id: auth.tenant_id,
      role: body.role,
      name: body.name ?? null,
      approver: body.approver ?? null,
      permissions: [...new Set(body.permissions)],
    });
    return c.json({ ...renderKey(row), key }, 201);
  });

  app.openapi(listKeysRoute, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    return c.json({ data: (await listKeys(sql, auth.tenant_id)).map(renderKey) }, 200);
  });

  app.openapi(deleteKey, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    const row = await revokeKey(sql, auth.tenant_id, c.req.valid('param').id);
    if (!row) throw new AppError('not_found', 'API key not found');
    return c.json(renderKey(row), 200);
  });

  app.openapi(createEndpoint, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    const body = c.req.valid('json');
    const problem = targetProblem(body.url, deps.config.HOLDPOINT_WEBHOOK_ALLOW_PRIVATE);
    if (problem) throw new AppError('validation_failed', `url ${problem}`, { field: 'url' });
    const row = await webhooksDb.insertEndpoint(sql, {
      tenant_id: auth.tenant_id,
      url: body.url,
      event_types: body.event_types,
      description: body.description ?? null,
    });
    const secrets = await getWebhookSecrets(sql, deps.secrets, auth.tenant_id, deps.clock());
    // The signing secret is per tenant; returned here so the receiver can be set up in one step.
    return c.json({ ...renderEndpoint(row), secret: secrets!.current }, 201);
  });

  app.openapi(rotateSecret, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    const overlap = (c.req.valid('json') as { overlap_seconds?: number } | undefined)?.overlap_seconds ?? DEFAULT_SECRET_OVERLAP_SECONDS;
    const now = deps.clock();
    const r = await sql.begin((tx) => rotateWebhookSecret(tx, deps.secrets, auth.tenant_id, { overlapMs: overlap * 1000, now }));
    deps.log.info('webhook secret rotated', { tenant_id: auth.tenant_id, by: `key:${auth.key_prefix}`, overlap_seconds: overlap });
    return c.json({ secret: r!.webhook_secret, previous_secret_valid_until: r!.previous_valid_until?.toISOString() ?? null }, 200);
  });

  app.openapi(listEndpoints, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    return c.json({ data: (await webhooksDb.listEndpoints(sql, auth.tenant_id)).map(renderEndpoint) }, 200);
  });

  app.openapi(getEndpoint, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    const row = await webhooksDb.getEndpoint(sql, auth.tenant_id, c.req.valid('param').id);
    if (!row) throw new AppError('not_found', 'webhook endpoint not found');
    return c.json(renderEndpoint(row), 200);
  });

  app.openapi(deleteEndpoint, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    const row = await webhooksDb.getEndpoint(sql, auth.tenant_id, c.req.valid('param').id);
    if (!row) throw new AppError('not_found', 'webhook endpoint not found');
    const gone = await webhooksDb.disableEndpoint(sql, row.id, 'deleted');
    return c.json(renderEndpoint(gone!), 200);
  });

  app.openapi(listDeliveries, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    const q = c.req.valid('query');
    return c.json({ data: (await webhooksDb.listDeliveries(sql, auth.tenant_id, q)).map(renderDelivery) }, 200);
  });

  app.openapi(replayDelivery, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    const id = c.req.valid('param').id;
    if (deps.redis.status !== 'ready') throw new AppError('dependency_unavailable', 'Redis is unavailable; retry the replay shortly');
    const existing = await webhooksDb.getTenantDelivery(sql, auth.tenant_id, id);
    if (!existing) throw new AppError('not_found', 'delivery not found');
    const row = await webhooksDb.resetDelivery(sql, auth.tenant_id, id, deps.clock());
    if (!row) throw new AppError('invalid_state', `only dead or failed deliveries can be replayed; this one is ${existing.status}`);
    // The finished job still holds the deterministic id; drop it so the id can be used again.
    const jobId = jobIds.deliver(row.event_id, row.target);
    await deps.queues.deliver.remove(jobId);
    await deps.queues.deliver.add('deliver', { delivery_id: row.id }, { jobId });
    return c.json(renderDelivery(row), 202);
  });

  return app;
}
