// The people who may decide (admin keys): list, add (minting a bound approver
// key, shown once), remove (revoking their keys).
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { addApprover, listApprovers, NewApproverSchema, removeApprover } from '../../identities/approvers.ts';
import type { AppDeps } from '../deps.ts';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../errors.ts';
import { allow } from '../middleware/auth.ts';
import { Ident, errorResponses, jsonBody, jsonResponse } from '../schemas.ts';

const ApproverSchema = z
  .object({
    name: z.string(),
    email: z.string().nullable(),
    slack_user_id: z.string().nullable(),
    oidc_subject: z.string().nullable(),
    created_by: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('Approver');

const list = createRoute({
  method: 'get',
  path: '/v1/approvers',
  responses: { 200: jsonResponse(z.object({ data: z.array(ApproverSchema) })), ...errorResponses(401, 403) },
});

const add = createRoute({
  method: 'post',
  path: '/v1/approvers',
  summary: 'Add a person who may decide; answers the approver and a key bound to them (shown once)',
  request: { body: jsonBody(NewApproverSchema) },
  responses: {
    201: jsonResponse(z.object({ approver: ApproverSchema, api_key: z.string().nullable() })),
    ...errorResponses(400, 401, 403, 409),
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/v1/approvers/{name}',
  summary: 'Remove an approver; every key bound to them is revoked',
  // Ident: no control characters (no approver name has one, and Postgres cannot compare a NUL).
  request: { params: z.object({ name: Ident(200) }) },
  responses: { 200: jsonResponse(z.object({ approver: ApproverSchema, revoked_keys: z.number().int() })), ...errorResponses(400, 401, 403, 404) },
});

export function approverRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(list, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    return c.json({ data: await listApprovers(deps.sql, auth.tenant_id) }, 200);
  });

  app.openapi(add, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    return c.json(await addApprover(deps.sql, auth.tenant_id, c.req.valid('json'), `key:${auth.key_prefix}`), 201);
  });

  app.openapi(remove, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    return c.json(await removeApprover(deps.sql, auth.tenant_id, c.req.valid('param').name), 200);
  });

  return app;
}
