// The tenant's OpenID Connect provider for signing in to the web inbox. Admin keys only.
// The client secret goes in and never comes out.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { ProviderInput, getProvider, redirectUriOf, removeProvider, renderProvider, setProvider } from '../../identities/oidc.ts';
import { AppError } from '../../errors.ts';
import type { AppDeps } from '../deps.ts';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../errors.ts';
import { allow } from '../middleware/auth.ts';
import { errorResponses, jsonBody, jsonResponse } from '../schemas.ts';

const ProviderView = z.object({
  issuer: z.string(),
  client_id: z.string(),
  client_secret_set: z.boolean(),
  display_name: z.string(),
  redirect_uri: z.string().nullable().describe('register this at the provider; null until HOLDPOINT_PUBLIC_URL is set'),
  login_url: z.string().nullable().describe('where people of this tenant sign in'),
  updated_by: z.string().nullable(),
  updated_at: z.string(),
});

const get = createRoute({ method: 'get', path: '/v1/oidc', responses: { 200: jsonResponse(ProviderView), ...errorResponses(401, 403, 404) } });
const put = createRoute({
  method: 'put',
  path: '/v1/oidc',
  summary: "Set the tenant's OpenID Connect provider (issuer, client id and secret). A different issuer or client ends the sessions the old one opened",
  request: { body: jsonBody(ProviderInput) },
  responses: { 200: jsonResponse(ProviderView.extend({ ended_sessions: z.number() })), 201: jsonResponse(ProviderView.extend({ ended_sessions: z.number() })), ...errorResponses(400, 401, 403) },
});
const del = createRoute({
  method: 'delete',
  path: '/v1/oidc',
  summary: 'Stop single sign-on for the tenant and end the sessions it opened',
  responses: { 200: jsonResponse(z.object({ removed: z.literal(true), ended_sessions: z.number() })), ...errorResponses(401, 403, 404) },
});

export function oidcRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const publicUrl = deps.config.HOLDPOINT_PUBLIC_URL;
  const view = (row: Parameters<typeof renderProvider>[0]) => ({
    ...renderProvider(row, redirectUriOf(publicUrl)),
    login_url: publicUrl ? `${publicUrl.replace(/\/+$/, '')}/ui/login?tenant=${row.tenant_id}` : null,
  });

  app.openapi(get, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    const row = await getProvider(deps.sql, auth.tenant_id);
    if (!row) throw new AppError('not_found', 'single sign-on is not set up for this tenant');
    return c.json(view(row), 200);
  });

  app.openapi(put, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    const r = await setProvider(deps.sql, auth.tenant_id, c.req.valid('json'), `key:${auth.key_prefix}`, deps.secrets);
    return c.json({ ...view(r.row), ended_sessions: r.ended_sessions }, r.created ? 201 : 200);
  });

  app.openapi(del, async (c) => {
    const auth = c.get('auth');
    allow(auth, 'admin');
    const r = await removeProvider(deps.sql, auth.tenant_id);
    if (!r) throw new AppError('not_found', 'single sign-on is not set up for this tenant');
    return c.json({ removed: true as const, ended_sessions: r.ended_sessions }, 200);
  });

  return app;
}
