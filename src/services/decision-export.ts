// The decision log as CSV or JSON Lines, oldest first, in keyset pages: the
// columns (stable — dashboards and spreadsheets read them) and the stream that
// GET /v1/decisions/export and `holdpoint decisions export` both serve.
import type { Sql } from '../db/client.ts';
import { listDecisions, type DecisionFilter, type DecisionRow } from '../db/decisions.ts';
import { exportStream, type Column, type ExportFormat } from './export.ts';

/** Rows per keyset page of an export: one page is all an export holds in memory. */
export const EXPORT_PAGE = 500;

/** The export's columns: the names and order of GET /v1/decisions' fields. Stable: dashboards and spreadsheets read them. */
const num = (v: string | null) => (v === null ? null : Number(v));
export const DECISION_COLUMNS: Column<DecisionRow>[] = [
  { name: 'id', value: (d) => d.id },
  { name: 'created_at', value: (d) => d.created_at },
  { name: 'kind', value: (d) => d.kind },
  { name: 'agent_id', value: (d) => d.agent_id },
  { name: 'action', value: (d) => d.action },
  { name: 'decision', value: (d) => d.decision },
  { name: 'reasons', value: (d) => d.reasons },
  { name: 'policy_version', value: (d) => d.policy_version },
  { name: 'approval_id', value: (d) => d.approval_id },
  { name: 'idempotency_key', value: (d) => d.idempotency_key },
  { name: 'risk_score', value: (d) => d.risk_score },
  { name: 'cost_usd', value: (d) => num(d.cost_usd) },
  { name: 'redacted_paths', value: (d) => d.redacted_paths },
  { name: 'failed_open', value: (d) => d.failed_open },
  { name: 'eval_ms', value: (d) => d.eval_ms },
  { name: 'params', value: (d) => d.params },
  { name: 'context', value: (d) => d.context },
  { name: 'tags', value: (d) => d.tags },
  { name: 'session_id', value: (d) => d.session_id },
  { name: 'run_id', value: (d) => d.run_id },
  { name: 'report_status', value: (d) => d.report_status },
  { name: 'report_result', value: (d) => d.report_result ?? null },
  { name: 'report_cost_usd', value: (d) => num(d.report_cost_usd) },
  { name: 'report_duration_ms', value: (d) => d.report_duration_ms },
  { name: 'reported_at', value: (d) => d.reported_at },
];

export function decisionExport(sql: Sql, tenantId: string, f: DecisionFilter, format: ExportFormat, onError?: (err: unknown) => void): ReadableStream<Uint8Array> {
  return exportStream<DecisionRow>({
    format,
    columns: DECISION_COLUMNS,
    pageSize: EXPORT_PAGE,
    page: (after) => listDecisions(sql, tenantId, { ...f, order: 'asc', after, limit: EXPORT_PAGE }),
    ...(onError ? { onError } : {}),
  });
}
