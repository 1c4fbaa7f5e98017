// The HTTP app: one sub-app per resource, errors rendered in one place.
// createApp(deps) builds the real thing; tests call app.request() on it.
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { AppError } from '../errors.ts';
import { pingRedis } from '../queue/connection.ts';
import type { AppDeps } from './deps.ts';
import type { AppEnv } from './env.ts';
import { errorHandler, validationHook } from './errors.ts';
import { authenticate } from './middleware/auth.ts';
import { slackInteractions } from '../slack/interactions.ts';
import { adminRoutes } from './routes/admin.ts';
import { agentRoutes } from './routes/agent.ts';
import { approvalRoutes } from './routes/approvals.ts';
import { humanlayerRoutes } from './routes/humanlayer.ts';
import { decisionRoutes } from './routes/decisions.ts';
import { uiRoutes } from '../ui/routes.tsx';

export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.onError(errorHandler(deps.log));
  app.notFound((c) => c.json(new AppError('not_found', `no route for ${c.req.method} ${c.req.path}`).toJSON(), 404));

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    const checks = await Promise.allSettled([deps.sql`SELECT 1`, pingRedis(deps.redis, 2_000)]);
    const [pg, redis] = checks.map((r) => (r.status === 'fulfilled' ? 'ok' : 'unavailable'));
    const ok = pg === 'ok' && redis === 'ok';
    return c.json({ ok, postgres: pg, redis }, ok ? 200 : 503);
  });

  const limit = bodyLimit({
    maxSize: deps.config.HOLDPOINT_MAX_BODY_BYTES,
    onError: () => {
      throw new AppError('payload_too_large', `request body exceeds ${deps.config.HOLDPOINT_MAX_BODY_BYTES} bytes`);
    },
  });
  app.use('/slack/*', limit);
  app.route(
    '/',
    slackInteractions({
      sql: deps.sql,
      service: deps.service,
      questions: deps.questions,
      policies: deps.policies,
      slack: deps.slack,
      signingSecret: deps.config.SLACK_SIGNING_SECRET,
      log: deps.log,
      clock: deps.clock,
    }),
  );

  // The web inbox: its own session auth (a cookie, not the API key).
  app.use('/ui/*', limit);
  app.route('/', uiRoutes({ ...deps, sessionTtlMs: deps.config.HOLDPOINT_UI_SESSION_HOURS * 3_600_000, publicUrl: deps.config.HOLDPOINT_PUBLIC_URL }));

  app.use('/v1/*', limit);
  app.use('/humanlayer/*', limit);
  app.use('/humanlayer/*', authenticate(deps.sql));
  app.use('/v1/*', authenticate(deps.sql));
  app.route('/', agentRoutes(deps));
  app.route('/', approvalRoutes(deps));
  app.route('/', adminRoutes(deps));
  app.route('/', humanlayerRoutes(deps));
  app.route('/', decisionRoutes(deps));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Holdpoint', version: '0.1.0', description: 'Durable approvals for AI agent actions' },
    security: [{ bearer: [] }],
  });
  return app;
}

export type App = ReturnType<typeof createApp>;
