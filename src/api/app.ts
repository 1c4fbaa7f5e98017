// The HTTP app: one sub-app per resource, errors rendered in one place.
// createApp(deps) builds the real thing; tests call app.request() on it.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { metricsAuthorized, within, type Metrics } from '../metrics.ts';
import { pingRedis } from '../queue/connection.ts';
import type { AppDeps } from './deps.ts';
import type { AppEnv } from './env.ts';
import { errorHandler, validationHook } from './errors.ts';
import { authenticate } from './middleware/auth.ts';
import { finiteNumbers } from './middleware/finite-numbers.ts';
import { requestId } from './middleware/request-id.ts';
import { slackInteractions } from '../slack/interactions.ts';
import { createReplayGuard } from '../slack/replay.ts';
import { adminRoutes } from './routes/admin.ts';
import { agentRoutes } from './routes/agent.ts';
import { approvalRoutes } from './routes/approvals.ts';
import { approverRoutes } from './routes/approvers.ts';
import { humanlayerRoutes } from './routes/humanlayer.ts';
import { decisionRoutes } from './routes/decisions.ts';
import { oversightRoutes } from './routes/oversight.ts';
import { usageRoutes } from './routes/usage.ts';
import { oidcRoutes } from './routes/oidc.ts';
import { uiRoutes } from '../ui/routes.tsx';
import { createFeedHub } from '../services/feeds.ts';
import { createOpenLimits } from './open-limits.ts';
import { createAddressLimiter } from '../services/address-limits.ts';

/** What the operator routes (/metrics, /readyz) need beyond the resource routes. */
type OperatorDeps = {
  metrics: Metrics;
  config: Pick<
    Config,
    | 'HOLDPOINT_METRICS_TOKEN'
    | 'HOLDPOINT_READY_MAX_QUEUE_AGE_MS'
    | 'HOLDPOINT_MAX_STREAMS_PER_KEY'
    | 'HOLDPOINT_MAX_LONG_POLLS_PER_KEY'
    | 'HOLDPOINT_QUEUE_PREFIX'
    | 'HOLDPOINT_TRUSTED_PROXY_HOPS'
    | 'HOLDPOINT_SIGNIN_RATE_LIMIT'
    | 'HOLDPOINT_BAD_KEY_RATE_LIMIT'
    | 'HOLDPOINT_ADDRESS_LIMIT_WINDOW_MS'
  >;
};

export function createApp(appDeps: AppDeps & OperatorDeps) {
  // One live-feed reader per tenant, one set of per-key caps and the per-address limits for this app's routes.
  const cfg = appDeps.config;
  const deps = {
    ...appDeps,
    addresses: createAddressLimiter({
      redis: appDeps.redis,
      prefix: cfg.HOLDPOINT_QUEUE_PREFIX,
      limits: { signin: cfg.HOLDPOINT_SIGNIN_RATE_LIMIT, bad_key: cfg.HOLDPOINT_BAD_KEY_RATE_LIMIT },
      windowMs: cfg.HOLDPOINT_ADDRESS_LIMIT_WINDOW_MS,
      log: appDeps.log,
    }),
    trustedProxyHops: cfg.HOLDPOINT_TRUSTED_PROXY_HOPS,
    feeds: createFeedHub({ sql: appDeps.sql, notifier: appDeps.notifier, log: appDeps.log, heartbeatMs: appDeps.config.HOLDPOINT_STREAM_HEARTBEAT_MS }),
    limits: createOpenLimits({ stream: appDeps.config.HOLDPOINT_MAX_STREAMS_PER_KEY, poll: appDeps.config.HOLDPOINT_MAX_LONG_POLLS_PER_KEY }),
  };
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.onError(errorHandler(deps.log));
  app.notFound((c) => c.json(new AppError('not_found', `no route for ${c.req.method} ${c.req.path}`).toJSON(), 404));

  // First, so every request below has its id, its logger and its access line.
  app.use('*', requestId({ log: deps.log, metrics: deps.metrics }));

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    // Each check is bounded (2 s), so a hung dependency answers 503, not a probe timeout.
    const maxAge = deps.config.HOLDPOINT_READY_MAX_QUEUE_AGE_MS;
    const [pgCheck, redisCheck, queueCheck] = await Promise.allSettled([
      within(deps.sql`SELECT 1`, 2_000, 'Postgres'),
      pingRedis(deps.redis, 2_000),
      maxAge > 0 ? deps.metrics.stalledQueues(maxAge) : Promise.resolve([]),
    ]);
    const pg = pgCheck.status === 'fulfilled' ? 'ok' : 'unavailable';
    const redis = redisCheck.status === 'fulfilled' ? 'ok' : 'unavailable';
    // A due job that waited longer than the limit means no worker is taking that queue's jobs.
    const stalled = queueCheck.status === 'fulfilled'
      ? queueCheck.value.map((s) => ({ queue: s.queue, oldest_waiting_ms: s.oldest_waiting_ms, waiting: s.waiting, overdue_delayed: s.overdue_delayed }))
      : undefined;
    const queues = !stalled ? 'unknown' : stalled.length > 0 ? 'stalled' : 'ok';
    const ok = pg === 'ok' && redis === 'ok' && queues !== 'stalled';
    return c.json({ ok, postgres: pg, redis, queues, ...(stalled?.length ? { stalled } : {}) }, ok ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    if (!metricsAuthorized(c.req.header('authorization'), deps.config.HOLDPOINT_METRICS_TOKEN)) {
      throw new AppError('unauthorized', 'GET /metrics needs Authorization: Bearer <HOLDPOINT_METRICS_TOKEN>');
    }
    const { contentType, body } = await deps.metrics.render();
    return c.body(body, 200, { 'content-type': contentType });
  });

  const maxBody = deps.config.HOLDPOINT_MAX_BODY_BYTES;
  const tooLarge = () => new AppError('payload_too_large', `request body exceeds ${maxBody} bytes`);
  const streamingLimit = bodyLimit({
    maxSize: maxBody,
    onError: () => {
      throw tooLarge();
    },
  });
  // hono/body-limit wraps the raw body stream, which makes @hono/node-server
  // build a whole WHATWG Request for every request (~150–300 µs of CPU each,
  // the largest single cost on the check path). A body with a Content-Length
  // is judged by the header (Node's parser never reads past it); only a
  // chunked body, whose size is unknown until read, goes through the stream.
  const limit: MiddlewareHandler = async (c, next) => {
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next();
    const length = c.req.header('content-length');
    if (length !== undefined && !c.req.header('transfer-encoding')) {
      if (Number(length) > maxBody) throw tooLarge();
      return next();
    }
    return streamingLimit(c, next);
  };
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
      teamId: deps.config.SLACK_TEAM_ID,
      replay: createReplayGuard(deps.redis, deps.config.HOLDPOINT_QUEUE_PREFIX, deps.log),
      log: deps.log,
      clock: deps.clock,
    }),
  );

  // The web inbox: its own session auth (a cookie, not the API key).
  app.use('/ui/*', limit);
  app.route('/', uiRoutes({ ...deps, sessionTtlMs: deps.config.HOLDPOINT_UI_SESSION_HOURS * 3_600_000, publicUrl: deps.config.HOLDPOINT_PUBLIC_URL }));

  app.use('/v1/*', limit);
  app.use('/humanlayer/*', limit);
  const auth = authenticate(deps.sql, { addresses: deps.addresses, trustedProxyHops: deps.trustedProxyHops });
  app.use('/humanlayer/*', auth);
  app.use('/v1/*', auth);
  // Numbers JSON cannot carry (1e309 → Infinity) are refused once, here, for every route below.
  app.use('/v1/*', finiteNumbers());
  app.use('/humanlayer/*', finiteNumbers());
  app.route('/', agentRoutes(deps));
  app.route('/', approvalRoutes(deps));
  app.route('/', adminRoutes(deps));
  app.route('/', approverRoutes(deps));
  app.route('/', humanlayerRoutes(deps));
  app.route('/', decisionRoutes(deps));
  app.route('/', usageRoutes(deps));
  app.route('/', oversightRoutes(deps));
  app.route('/', oidcRoutes(deps));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Holdpoint', version: '0.1.0', description: 'Durable approvals for AI agent actions' },
    security: [{ bearer: [] }],
  });
  return app;
}

export type App = ReturnType<typeof createApp>;
