// GET /v1/usage: spend against the budgets and calls against the rate limit
// (from the Redis counters, as the guards see them), and what the decision
// ledger sums to for a session, a run, and each action over a period.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { ledgerKey } from '../../db/decisions.ts';
import { actionTotals, periodTotals, scopeTotals, type ScopeTotals } from '../../db/usage.ts';
import { AppError } from '../../errors.ts';
import { buckets } from '../../policy/guards/budget.ts';
import type { AppDeps } from '../deps.ts';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../errors.ts';
import { checkPeriod } from '../export-response.ts';
import { allow } from '../middleware/auth.ts';
import { Ident, errorResponses, jsonResponse } from '../schemas.ts';

const Out = z.object({}).passthrough();
const DAY_MS = 86_400_000;
/** The longest period per-action totals cover in one request. */
export const MAX_USAGE_PERIOD_DAYS = 366;
/** Per-action rows returned; past it, `truncated` says so (the period totals still cover everything). */
const MAX_ACTIONS = 500;

export const Instant = () => z.string().datetime({ offset: true });

const scopeView = (t: ScopeTotals) => ({
  calls: t.calls,
  allowed: t.allowed,
  denied: t.denied,
  approvals: t.approvals,
  spent_usd: t.spent_usd,
  held_usd: t.held_usd,
  first_at: t.first_at ? t.first_at.toISOString() : null,
  last_at: t.last_at ? t.last_at.toISOString() : null,
});

export function usageRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/usage',
      summary: 'Spend against budgets, calls against the rate limit, and ledger totals for a session, a run and each action',
      request: {
        query: z.object({
          agent_id: Ident().optional(),
          session_id: Ident(100_000).optional(),
          run_id: Ident(100_000).optional(),
          since: Instant().optional(),
          until: Instant().optional(),
        }),
      },
      responses: { 200: jsonResponse(Out), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const auth = c.get('auth');
      allow(auth, 'agent', 'approver');
      const q = c.req.valid('query');
      const nowDate = deps.clock();
      const now = nowDate.getTime();
      // Default: the UTC day (of `until`, else of now) so far.
      const dayOf = q.until ? new Date(new Date(q.until).getTime() - 1) : nowDate;
      const since = q.since ? new Date(q.since) : new Date(Date.UTC(dayOf.getUTCFullYear(), dayOf.getUTCMonth(), dayOf.getUTCDate()));
      const until = q.until ? new Date(q.until) : new Date(Math.max(now, since.getTime()) + 1);
      checkPeriod(since, until);
      if (until.getTime() - since.getTime() > MAX_USAGE_PERIOD_DAYS * DAY_MS) {
        throw new AppError('validation_failed', `a usage period spans at most ${MAX_USAGE_PERIOD_DAYS} days`, { field: 'since', max_days: MAX_USAGE_PERIOD_DAYS });
      }

      const { policy } = await deps.policies.current(auth.tenant_id);
      // The buckets this agent's next call in this session / run would count against.
      const context: Record<string, unknown> = {};
      if (q.session_id) context.session_id = q.session_id;
      if (q.run_id) context.run_id = q.run_id;
      const req = { action: '*', agent_id: q.agent_id ?? '', params: {}, context };
      const all = policy.guards?.budget ? buckets(policy.guards.budget, req, now) : [];
      // Without an agent, only the tenant-wide buckets mean anything.
      const budget = q.agent_id ? all : all.filter((b) => b.key.startsWith('bud:tenant:'));
      const perMinute = policy.guards?.rate_limit?.per_agent?.per_minute;
      const rateKey = q.agent_id ? `rl:agent:${q.agent_id}` : undefined;
      const sessionKey = q.session_id ? ledgerKey(q.session_id) : null;
      const runKey = q.run_id ? ledgerKey(q.run_id) : null;

      const [values, session, run, actions, total] = await Promise.all([
        deps.counters.read(
          auth.tenant_id,
          [...budget.map((b) => ({ kind: 'total' as const, key: b.key })), ...(rateKey ? [{ kind: 'window' as const, key: rateKey, window_ms: 60_000 }] : [])],
          now,
        ),
        sessionKey ? scopeTotals(deps.sql, auth.tenant_id, { session_id: sessionKey }, q.agent_id) : undefined,
        runKey ? scopeTotals(deps.sql, auth.tenant_id, { run_id: runKey }, q.agent_id) : undefined,
        actionTotals(deps.sql, auth.tenant_id, { since, until, agent_id: q.agent_id, limit: MAX_ACTIONS + 1 }),
        periodTotals(deps.sql, auth.tenant_id, { since, until, agent_id: q.agent_id }),
      ]);
      return c.json(
        {
          agent_id: q.agent_id ?? null,
          budgets: budget.map((b) => ({ scope: b.label, spent_usd: values[b.key] ?? 0, limit_usd: b.limit })),
          rate: rateKey ? { calls_last_minute: values[rateKey] ?? 0, limit_per_minute: perMinute ?? null } : null,
          ...(session ? { session: { session_id: q.session_id, ...scopeView(session) } } : {}),
          ...(run ? { run: { run_id: q.run_id, ...scopeView(run) } } : {}),
          actions: {
            since: since.toISOString(),
            until: until.toISOString(),
            ...total,
            by_action: actions.slice(0, MAX_ACTIONS),
            truncated: actions.length > MAX_ACTIONS,
          },
        },
        200,
      );
    },
  );

  return app;
}
