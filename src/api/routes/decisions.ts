// The decision log (every check / guard evaluation) and current usage against
// the budget and rate limits.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { decodeCursor, encodeCursor } from '../../db/cursor.ts';
import { listDecisions } from '../../db/decisions.ts';
import { buckets } from '../../policy/guards/budget.ts';
import { renderDecision } from '../../services/approvals.ts';
import type { AppDeps } from '../deps.ts';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../errors.ts';
import { allow } from '../middleware/auth.ts';
import { Ident, QueryInt, errorResponses, jsonResponse } from '../schemas.ts';

const Out = z.object({}).passthrough();

export function decisionRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/decisions',
      summary: 'The decision log: every check and guard evaluation, newest first',
      request: {
        query: z.object({
          agent_id: Ident().optional(),
          action: Ident().optional(),
          decision: z.enum(['allow', 'modify', 'deny', 'require_approval']).optional(),
          since: z.string().datetime({ offset: true }).optional(),
          cursor: z.string().max(200).optional(),
          limit: QueryInt(1, 200).default(50),
        }),
      },
      responses: { 200: jsonResponse(Out), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const auth = c.get('auth');
      allow(auth, 'approver');
      const q = c.req.valid('query');
      const rows = await listDecisions(deps.sql, auth.tenant_id, {
        ...q,
        since: q.since ? new Date(q.since) : undefined,
        before: q.cursor ? decodeCursor(q.cursor) : undefined,
        limit: q.limit + 1,
      });
      const page = rows.slice(0, q.limit);
      const last = page.at(-1);
      return c.json({ data: page.map(renderDecision), next_cursor: rows.length > q.limit && last ? encodeCursor(last) : null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/usage',
      summary: "An agent's spend against its budgets, and its calls in the last minute",
      request: { query: z.object({ agent_id: Ident() }) },
      responses: { 200: jsonResponse(Out), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const auth = c.get('auth');
      allow(auth, 'agent', 'approver');
      const { agent_id } = c.req.valid('query');
      const { policy } = await deps.policies.current(auth.tenant_id);
      const now = deps.clock().getTime();
      const req = { action: '*', agent_id, params: {}, context: {} };
      const budget = policy.guards?.budget ? buckets(policy.guards.budget, req, now) : [];
      const perMinute = policy.guards?.rate_limit?.per_agent?.per_minute;
      const values = await deps.counters.read(
        auth.tenant_id,
        [...budget.map((b) => ({ kind: 'total' as const, key: b.key })), { kind: 'window' as const, key: `rl:agent:${agent_id}`, window_ms: 60_000 }],
        now,
      );
      return c.json(
        {
          agent_id,
          budgets: budget.map((b) => ({ scope: b.label, spent_usd: values[b.key] ?? 0, limit_usd: b.limit })),
          rate: { calls_last_minute: values[`rl:agent:${agent_id}`] ?? 0, limit_per_minute: perMinute ?? null },
        },
        200,
      );
    },
  );

  return app;
}
