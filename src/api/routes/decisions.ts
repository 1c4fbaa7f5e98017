// The decision log (every check / guard evaluation): the list, and its export
// as CSV or JSON Lines.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { decodeCursor, encodeCursor } from '../../db/cursor.ts';
import { ledgerKey, listDecisions, type DecisionFilter } from '../../db/decisions.ts';
import { renderDecision } from '../../services/approvals.ts';
import { decisionExport } from '../../services/decision-export.ts';
import type { AppDeps } from '../deps.ts';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../errors.ts';
import { checkPeriod, exportDownload, exportResponses } from '../export-response.ts';
import { allow } from '../middleware/auth.ts';
import { Ident, QueryInt, Tag, errorResponses, jsonResponse } from '../schemas.ts';
import { Instant } from './usage.ts';

const Out = z.object({}).passthrough();

/** The filters the log and its export share. */
const Filters = {
  agent_id: Ident().optional(),
  action: Ident().optional(),
  decision: z.enum(['allow', 'modify', 'deny', 'require_approval']).optional(),
  since: Instant().optional(),
  until: Instant().optional().openapi({ description: 'exclusive' }),
  tag: Tag.optional(),
  approval_id: z.string().uuid().optional(),
  session_id: Ident(100_000).optional(),
  run_id: Ident(100_000).optional(),
};

type FilterQuery = { [K in keyof typeof Filters]?: string | undefined };

export function filterOf(q: FilterQuery): DecisionFilter {
  return {
    agent_id: q.agent_id,
    action: q.action,
    decision: q.decision,
    since: q.since ? new Date(q.since) : undefined,
    until: q.until ? new Date(q.until) : undefined,
    tag: q.tag,
    approval_id: q.approval_id,
    session_id: q.session_id ? (ledgerKey(q.session_id) ?? undefined) : undefined,
    run_id: q.run_id ? (ledgerKey(q.run_id) ?? undefined) : undefined,
  };
}

export function decisionRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/decisions',
      summary: 'The decision log: every check and guard evaluation, newest first',
      request: {
        query: z.object({
          ...Filters,
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
        ...filterOf(q),
        after: q.cursor ? decodeCursor(q.cursor) : undefined,
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
      path: '/v1/decisions/export',
      summary: 'The decision log as a CSV or JSON Lines download, oldest first, streamed',
      request: { query: z.object({ ...Filters, format: z.enum(['csv', 'jsonl']).default('csv') }) },
      responses: exportResponses('the log, one row (CSV, with a header row) or one JSON object (JSON Lines) per decision'),
    }),
    async (c) => {
      const auth = c.get('auth');
      // The log holds what every agent asked: people who review, not agents.
      allow(auth, 'approver');
      const q = c.req.valid('query');
      const f = filterOf(q);
      checkPeriod(f.since, f.until);
      const body = decisionExport(deps.sql, auth.tenant_id, f, q.format, (err) => deps.log.error('decision export failed mid-stream', { err }));
      return exportDownload(c, body, q.format, 'decisions', deps.clock()) as never;
    },
  );

  return app;
}
