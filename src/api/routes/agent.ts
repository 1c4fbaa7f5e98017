// check, guard, report: the calls an agent makes before and after it acts.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../../errors.ts';
import { renderDecision } from '../../services/approvals.ts';
import { targetProblem } from '../../webhooks/targets.ts';
import type { AppDeps } from '../deps.ts';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../errors.ts';
import { allow } from '../middleware/auth.ts';
import { CheckBody, CheckResponse, GuardBody, GuardResponse, Ident, errorResponses, jsonBody, jsonResponse } from '../schemas.ts';

const guardRoute = createRoute({
  method: 'post',
  path: '/v1/guard',
  summary: 'Evaluate the policy and, if a human must decide, park the action as an approval',
  request: {
    headers: z.object({ 'idempotency-key': Ident(255).optional() }),
    body: jsonBody(GuardBody),
  },
  responses: {
    200: jsonResponse(GuardResponse, 'decided: allowed, denied, or the approval is no longer pending'),
    202: jsonResponse(GuardResponse, 'pending: a human has to decide'),
    ...errorResponses(400, 401, 403, 413, 415, 422, 503),
  },
});

const checkRoute = createRoute({
  method: 'post',
  path: '/v1/check',
  summary: 'Evaluate the policy only; nothing is parked',
  request: { body: jsonBody(CheckBody) },
  responses: { 200: jsonResponse(CheckResponse), ...errorResponses(400, 401, 403, 413, 415, 503) },
});

const ReportBody = z.strictObject({
  decision_id: z.string().uuid(),
  status: z.enum(['completed', 'failed']),
  result: z.unknown().optional(),
  cost_usd: z.number().min(0).max(1e9).optional(),
  duration_ms: z.number().int().min(0).max(7 * 86_400_000).optional(),
});

const reportRoute = createRoute({
  method: 'post',
  path: '/v1/report',
  summary: 'Report the outcome of an allowed action',
  request: { body: jsonBody(ReportBody) },
  responses: { 200: jsonResponse(z.object({}).passthrough()), ...errorResponses(400, 401, 403, 404, 409) },
});

export function agentRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(guardRoute, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'agent');
    const body = c.req.valid('json');
    const header = c.req.valid('header')['idempotency-key'];
    if (header && body.idempotency_key && header !== body.idempotency_key) {
      throw new AppError('validation_failed', 'Idempotency-Key header and idempotency_key field differ', { field: 'idempotency_key' });
    }
    const key = body.idempotency_key ?? header;
    if (!key) {
      throw new AppError('idempotency_key_missing', 'guard needs an idempotency key: the idempotency_key field or an Idempotency-Key header');
    }
    if (body.callback_url) {
      const problem = targetProblem(body.callback_url, deps.config.HOLDPOINT_WEBHOOK_ALLOW_PRIVATE);
      if (problem) throw new AppError('validation_failed', `callback_url ${problem}`, { field: 'callback_url' });
    }
    const out = await deps.service.guard(auth.tenant_id, {
      action: body.action,
      agent_id: body.agent_id,
      params: body.params,
      context: body.context,
      idempotency_key: key,
      callback_url: body.callback_url ?? null,
      timeout_seconds: body.timeout_seconds,
      cost_usd: body.cost_usd,
      tags: body.tags,
    });
    const { created: _created, ...payload } = out;
    return c.json(payload, out.status === 'pending' ? 202 : 200);
  });

  app.openapi(checkRoute, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'agent');
    const body = c.req.valid('json');
    return c.json(await deps.service.check(auth.tenant_id, body), 200);
  });

  app.openapi(reportRoute, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'agent');
    const body = c.req.valid('json');
    const d = await deps.service.report(auth.tenant_id, body.decision_id, body);
    return c.json(d satisfies ReturnType<typeof renderDecision>, 200);
  });

  return app;
}
