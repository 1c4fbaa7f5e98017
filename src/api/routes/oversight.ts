// Human-oversight records (EU AI Act Art. 14): one approval's, and all of a
// period's as CSV or JSON Lines. Approvers and admins only: the record names
// the people who could decide (e-mail, Slack user), which is not the agent's
// business — an agent that knows who reviews it knows whom to work on. The
// agent keeps GET /v1/approvals/{id} and its events for its own approvals.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { exportStream, type Column } from '../../services/export.ts';
import { createOversight, type OversightRow } from '../../services/oversight.ts';
import type { AppDeps } from '../deps.ts';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../errors.ts';
import { checkPeriod, exportDownload, exportResponses } from '../export-response.ts';
import { allow } from '../middleware/auth.ts';
import { IdParam, errorResponses, jsonResponse } from '../schemas.ts';
import { Instant } from './usage.ts';

/** Approvals per page of the export (each brings its votes and events). */
const OVERSIGHT_PAGE = 200;

/** One row per approval. Stable names: spreadsheets and dashboards read them. */
export const OVERSIGHT_COLUMNS: Column<OversightRow>[] = [
  { name: 'approval_id', value: ({ record: r }) => r.approval_id },
  { name: 'action', value: ({ record: r }) => r.action },
  { name: 'agent_id', value: ({ record: r }) => r.agent_id },
  { name: 'policy_version', value: ({ record: r }) => r.policy_version },
  { name: 'requested_at', value: ({ record: r }) => r.when.requested_at },
  { name: 'expires_at', value: ({ record: r }) => r.when.expires_at },
  { name: 'shown_params', value: ({ record: r }) => r.shown.params },
  { name: 'shown_reasons', value: ({ record: r }) => r.shown.reasons },
  { name: 'risk_score', value: ({ record: r }) => r.shown.risk_score },
  { name: 'redacted_paths', value: ({ record: r }) => r.shown.redacted_paths },
  { name: 'engine_recommendation', value: ({ record: r }) => r.shown.engine_recommendation },
  { name: 'slack_channel', value: ({ record: r }) => r.shown.channels.slack?.channel ?? null },
  { name: 'slack_posted', value: ({ record: r }) => r.shown.channels.slack?.posted ?? null },
  { name: 'could_decide_rule', value: ({ record: r }) => r.could_decide.rule },
  { name: 'could_decide', value: ({ record: r }) => r.could_decide.resolved.map((p) => p.name) },
  { name: 'identities', value: ({ record: r }) => r.could_decide.identities },
  { name: 'slack_user_ids', value: ({ record: r }) => r.could_decide.slack_user_ids },
  { name: 'required_approvals', value: ({ record: r }) => r.could_decide.required_approvals },
  { name: 'timeout_seconds', value: ({ record: r }) => r.could_decide.timeout_seconds },
  { name: 'on_timeout', value: ({ record: r }) => r.could_decide.on_timeout },
  { name: 'votes', value: ({ record: r }) => r.when.votes },
  { name: 'status', value: ({ record: r }) => r.outcome.status },
  { name: 'decided_at', value: ({ record: r }) => r.when.decided_at },
  { name: 'decided_by', value: ({ record: r }) => r.outcome.decided_by },
  { name: 'decision_channel', value: ({ record: r }) => r.outcome.decision_channel },
  { name: 'decision_reason', value: ({ record: r }) => r.outcome.decision_reason },
  { name: 'human_decided', value: ({ record: r }) => r.outcome.human_decided },
  { name: 'overridden', value: ({ record: r }) => r.outcome.overridden },
  { name: 'override_kind', value: ({ record: r }) => r.outcome.override?.kind ?? null },
  { name: 'stopped', value: ({ record: r }) => r.outcome.stopped },
  { name: 'stopped_by', value: ({ record: r }) => r.outcome.stopped_by },
  { name: 'executed', value: ({ record: r }) => r.outcome.executed },
  { name: 'completed_at', value: ({ record: r }) => r.when.completed_at },
  { name: 'chain_intact', value: ({ record: r }) => r.chain.verification.intact },
  { name: 'chain_events', value: ({ record: r }) => r.chain.events.length },
  { name: 'chain_last_hash', value: ({ record: r }) => r.chain.events.at(-1)?.hash ?? null },
];

export function oversightRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const oversight = createOversight({ sql: deps.sql });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/approvals/{id}/oversight',
      summary: 'The human-oversight record of an approval: shown, who could decide, when, outcome, override / stop, chain proof',
      request: { params: IdParam },
      responses: { 200: jsonResponse(z.object({}).passthrough()), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const auth = c.get('auth');
      allow(auth, 'approver');
      return c.json(await oversight.record(auth.tenant_id, c.req.valid('param').id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/oversight/export',
      summary: 'Oversight records of the approvals requested in a period, one row per approval, as CSV or JSON Lines',
      request: {
        query: z.object({
          format: z.enum(['csv', 'jsonl']).default('csv'),
          since: Instant().optional(),
          until: Instant().optional().openapi({ description: 'exclusive' }),
        }),
      },
      responses: exportResponses('one row (CSV, with a header row) or one nested record (JSON Lines) per approval, oldest first'),
    }),
    async (c) => {
      const auth = c.get('auth');
      allow(auth, 'approver');
      const q = c.req.valid('query');
      const since = q.since ? new Date(q.since) : undefined;
      const until = q.until ? new Date(q.until) : undefined;
      checkPeriod(since, until);
      const page = await oversight.pages(auth.tenant_id, { since, until, pageSize: OVERSIGHT_PAGE });
      const body = exportStream<OversightRow>({
        format: q.format,
        columns: OVERSIGHT_COLUMNS,
        pageSize: OVERSIGHT_PAGE,
        page,
        json: (r) => r.record,
        onError: (err) => deps.log.error('oversight export failed mid-stream', { err }),
      });
      return exportDownload(c, body, q.format, 'oversight', deps.clock()) as never;
    },
  );

  return app;
}
