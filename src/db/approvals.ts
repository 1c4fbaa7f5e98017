import type { ApprovalPatch, Vote } from '../approvals/transition.ts';
import type { Status } from '../approvals/status.ts';
import type { Routing } from '../policy/evaluate.ts';
import type { Tx } from './client.ts';
import { decisionInsert, type NewDecision } from './decisions.ts';
import { deliveryTargets } from './webhooks.ts';

export interface ApprovalRow {
  id: string;
  tenant_id: string;
  idempotency_key: string;
  request_hash: string;
  action: string;
  agent_id: string;
  params: Record<string, unknown>;
  context: Record<string, unknown>;
  reasons: unknown[];
  status: Status;
  required_approvals: number;
  timeout_seconds: number;
  on_timeout: 'reject' | 'approve';
  expires_at: Date;
  callback_url: string | null;
  routing: Routing;
  policy_version: number | null;
  decision_id: string | null;
  slack_channel: string | null;
  slack_ts: string | null;
  slack_synced_at: Date | null;
  slack_result_ts: string | null;
  slack_error: string | null;
  decided_at: Date | null;
  decided_by: string | null;
  decision_reason: string | null;
  decision_channel: string | null;
  decision_option: string | null;
  claim_token: string | null;
  claim_expires_at: Date | null;
  claimed_at: Date | null;
  result: unknown;
  error: unknown;
  completed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface VoteRow extends Vote {
  approval_id: string;
  reason: string | null;
  channel: string;
  created_at: Date;
}

export type NewApproval = Omit<
  ApprovalRow,
  | 'status'
  | 'slack_channel'
  | 'slack_ts'
  | 'slack_synced_at'
  | 'slack_result_ts'
  | 'slack_error'
  | 'decided_at'
  | 'decided_by'
  | 'decision_reason'
  | 'decision_channel'
  | 'decision_option'
  | 'claim_token'
  | 'claim_expires_at'
  | 'claimed_at'
  | 'result'
  | 'error'
  | 'completed_at'
  | 'updated_at'
>;

export async function getApproval(tx: Tx, tenantId: string, id: string): Promise<ApprovalRow | undefined> {
  const [row] = await tx<ApprovalRow[]>`
    SELECT * FROM approvals WHERE id = ${id} AND tenant_id = ${tenantId}`;
  return row;
}

/** Reads by id alone: for workers, which act on ids from jobs. */
export async function getApprovalById(tx: Tx, id: string): Promise<ApprovalRow | undefined> {
  const [row] = await tx<ApprovalRow[]>`SELECT * FROM approvals WHERE id = ${id}`;
  return row;
}

export async function getApprovalByKey(tx: Tx, tenantId: string, key: string): Promise<ApprovalRow | undefined> {
  const [row] = await tx<ApprovalRow[]>`
    SELECT * FROM approvals WHERE tenant_id = ${tenantId} AND idempotency_key = ${key}`;
  return row;
}

type RowWithVotes = ApprovalRow & { votes: (Omit<VoteRow, 'created_at'> & { created_at: string })[] };

/** The approval's votes as one json column of the same SELECT (alias `a`). */
const votesColumn = (tx: Tx) => tx`coalesce((
      SELECT json_agg(json_build_object('approval_id', v.approval_id, 'approver', v.approver, 'vote', v.vote,
                                        'reason', v.reason, 'channel', v.channel, 'created_at', v.created_at)
                      ORDER BY v.created_at)
      FROM approval_votes v WHERE v.approval_id = a.id), '[]'::json) AS votes`;

function splitVotes(found: RowWithVotes | undefined): { row: ApprovalRow; votes: VoteRow[] } | undefined {
  if (!found) return undefined;
  const { votes, ...row } = found;
  return { row: row as ApprovalRow, votes: votes.map((v) => ({ ...v, created_at: new Date(v.created_at) })) };
}

/**
 * Locks the row for the rest of the transaction (decisions on one approval take
 * turns) and reads its votes, in one round trip.
 */
export async function lockApproval(tx: Tx, id: string): Promise<{ row: ApprovalRow; votes: VoteRow[] } | undefined> {
  const [found] = await tx<RowWithVotes[]>`
    SELECT a.*, ${votesColumn(tx)}
    FROM approvals a WHERE a.id = ${id} FOR UPDATE OF a`;
  return splitVotes(found);
}

/** The approval and its votes in one round trip (the long-poll's read after a wake-up). */
export async function getApprovalWithVotes(tx: Tx, tenantId: string, id: string): Promise<{ row: ApprovalRow; votes: VoteRow[] } | undefined> {
  const [found] = await tx<RowWithVotes[]>`
    SELECT a.*, ${votesColumn(tx)}
    FROM approvals a WHERE a.id = ${id} AND a.tenant_id = ${tenantId}`;
  return splitVotes(found);
}

const JSON_COLUMNS = new Set(['result', 'error']);

/**
 * Applies a transition's patch if the row is still in `from`. Returns the new
 * row, or undefined when somebody else moved it first.
 */
export async function updateApproval(tx: Tx, id: string, from: Status, patch: ApprovalPatch, now: Date): Promise<ApprovalRow | undefined> {
  const values: Record<string, unknown> = { updated_at: now };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    values[k] = JSON_COLUMNS.has(k) ? tx.json((v ?? null) as never) : v;
  }
  const [row] = await tx<ApprovalRow[]>`
    UPDATE approvals SET ${tx(values as never)}
    WHERE id = ${id} AND status = ${from}
    RETURNING *`;
  return row;
}

export async function upsertVote(tx: Tx, v: Omit<VoteRow, 'created_at'>, now: Date): Promise<void> {
  await tx`
    INSERT INTO approval_votes (approval_id, approver, vote, reason, channel, created_at)
    VALUES (${v.approval_id}, ${v.approver}, ${v.vote}, ${v.reason}, ${v.channel}, ${now})
    ON CONFLICT (approval_id, approver)
    DO UPDATE SET vote = EXCLUDED.vote, reason = EXCLUDED.reason, channel = EXCLUDED.channel, created_at = EXCLUDED.created_at`;
}

export async function votesFor(tx: Tx, approvalIds: readonly string[]): Promise<Map<string, VoteRow[]>> {
  const out = new Map<string, VoteRow[]>();
  if (approvalIds.length === 0) return out;
  const rows = await tx<VoteRow[]>`
    SELECT approval_id, approver, vote, reason, channel, created_at
    FROM approval_votes WHERE approval_id = ANY(${approvalIds as string[]}::uuid[]) ORDER BY created_at`;
  for (const r of rows) {
    const list = out.get(r.approval_id) ?? [];
    list.push(r);
    out.set(r.approval_id, list);
  }
  return out;
}

export interface ListFilter {
  status?: Status | undefined;
  action?: string | undefined;
  agent_id?: string | undefined;
  /** Rows strictly older than this (created_at, id) position. */
  before?: { created_at: Date; id: string } | undefined;
  limit: number;
}

export async function listApprovals(tx: Tx, tenantId: string, f: ListFilter): Promise<ApprovalRow[]> {
  return tx<ApprovalRow[]>`
    SELECT * FROM approvals
    WHERE tenant_id = ${tenantId}
      ${f.status ? tx`AND status = ${f.status}` : tx``}
      ${f.action ? tx`AND action = ${f.action}` : tx``}
      ${f.agent_id ? tx`AND agent_id = ${f.agent_id}` : tx``}
      ${f.before ? tx`AND (created_at, id) < (${f.before.created_at}, ${f.before.id})` : tx``}
    ORDER BY created_at DESC, id DESC
    LIMIT ${f.limit}`;
}

/**
 * Locks up to `limit` pending approvals whose deadline has passed, oldest
 * first, with their votes and their decision's budget buckets, in one round
 * trip. SKIP LOCKED: concurrent sweeps (and a decision holding one row) take
 * disjoint rows instead of queueing on each other.
 */
export async function lockDuePending(
  tx: Tx,
  now: Date,
  limit: number,
): Promise<{ row: ApprovalRow; votes: VoteRow[]; budget_buckets: string[] }[]> {
  const rows = await tx<(RowWithVotes & { budget_buckets: string[] | null })[]>`
    SELECT a.*, ${votesColumn(tx)}, d.budget_buckets
    FROM approvals a LEFT JOIN decisions d ON d.id = a.decision_id
    WHERE a.status = 'pending' AND a.expires_at <= ${now}
    ORDER BY a.expires_at LIMIT ${limit}
    FOR UPDATE OF a SKIP LOCKED`;
  return rows.map(({ budget_buckets, ...r }) => ({ ...splitVotes(r as RowWithVotes)!, budget_buckets: budget_buckets ?? [] }));
}

/** Pending approvals due within `withinMs`: their expiry jobs are re-added in case Redis lost them. */
export async function pendingDueWithin(tx: Tx, withinMs: number, limit: number): Promise<{ id: string; expires_at: Date }[]> {
  return tx<{ id: string; expires_at: Date }[]>`
    SELECT id, expires_at FROM approvals
    WHERE status = 'pending' AND expires_at <= now() + ${withinMs} * interval '1 millisecond'
    ORDER BY expires_at LIMIT ${limit}`;
}

/** Every pending approval, for the boot-time rebuild of expiry jobs. */
export async function allPending(tx: Tx, afterId: string | null, limit: number): Promise<{ id: string; expires_at: Date }[]> {
  return tx<{ id: string; expires_at: Date }[]>`
    SELECT id, expires_at FROM approvals
    WHERE status = 'pending' ${afterId ? tx`AND id > ${afterId}` : tx``}
    ORDER BY id LIMIT ${limit}`;
}

export async function lapsedLeases(tx: Tx, limit: number): Promise<{ id: string }[]> {
  return tx<{ id: string }[]>`
    SELECT id FROM approvals WHERE status = 'executing' AND claim_expires_at <= now()
    ORDER BY claim_expires_at LIMIT ${limit}`;
}

/**
 * Parks a guarded action in one statement (so in one round trip, with no lock
 * held across the network): the decision, the approval, its `requested` event
 * and that event's webhook outbox rows. Returns undefined when the
 * idempotency key is already taken — the caller replays the first outcome.
 */
export async function insertParkedApproval(
  sql: Tx,
  p: {
    decision: NewDecision;
    approval: NewApproval;
    event: { id: string; type: string; actor: string; channel: string; data: Record<string, unknown>; created_at: Date };
    webhook: { type: string; payload: string };
  },
): Promise<{ approval: ApprovalRow; deliveries: { id: string; event_id: string; target: string }[] } | undefined> {
  const { decision: d, approval: a, event: e, webhook: w } = p;
  const rows = await sql<(ApprovalRow & { deliveries: { id: string; event_id: string; target: string }[] })[]>`
    WITH d AS (${decisionInsert(sql, d)} RETURNING id), a AS (
      INSERT INTO approvals (
        id, tenant_id, idempotency_key, request_hash, action, agent_id, params, context, reasons,
        status, required_approvals, timeout_seconds, on_timeout, expires_at, callback_url, routing,
        policy_version, decision_id, created_at, updated_at)
      SELECT ${a.id}, ${a.tenant_id}, ${a.idempotency_key}, ${a.request_hash}, ${a.action}, ${a.agent_id},
        ${sql.json(a.params as never)}, ${sql.json(a.context as never)}, ${sql.json(a.reasons as never)},
        'pending', ${a.required_approvals}, ${a.timeout_seconds}, ${a.on_timeout}, ${a.expires_at},
        ${a.callback_url}, ${sql.json(a.routing as never)}, ${a.policy_version}, d.id,
        ${a.created_at}, ${a.created_at}
      FROM d
      ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
      RETURNING *
    ), e AS (
      INSERT INTO approval_events (id, tenant_id, approval_id, type, actor, channel, data, created_at)
      SELECT ${e.id}, a.tenant_id, a.id, ${e.type}, ${e.actor}, ${e.channel}, ${sql.json(e.data as never)}, ${e.created_at}
      FROM a
      RETURNING id
    ), w AS (
      INSERT INTO webhook_deliveries (tenant_id, event_id, endpoint_id, target, url, payload, next_attempt_at, created_at, updated_at)
      SELECT ${a.tenant_id}::uuid, e.id, t.endpoint_id, t.target, t.url, ${w.payload}::text,
             ${e.created_at}::timestamptz, ${e.created_at}::timestamptz, ${e.created_at}::timestamptz
      FROM e, ${deliveryTargets(sql, a.tenant_id, a.callback_url, w.type)}
      RETURNING id, event_id, target
    )
    SELECT a.*, (SELECT coalesce(json_agg(json_build_object('id', w.id, 'event_id', w.event_id, 'target', w.target)), '[]'::json) FROM w) AS deliveries
    FROM a`;
  const row = rows[0];
  if (!row) return undefined;
  const { deliveries, ...approval } = row;
  return { approval: approval as ApprovalRow, deliveries };
}
