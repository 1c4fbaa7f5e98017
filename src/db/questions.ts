// contact_requests: free-text questions an agent asks a human (HumanLayer contact requests).
import type { Tx } from './client.ts';

export interface QuestionRow {
  id: string;
  tenant_id: string;
  call_id: string;
  run_id: string;
  request_hash: string;
  msg: string;
  spec: Record<string, unknown>;
  routing: { slack_channel: string | null };
  status: 'pending' | 'answered';
  response: string | null;
  response_option_name: string | null;
  responded_by: string | null;
  response_channel: string | null;
  slack_channel: string | null;
  slack_ts: string | null;
  slack_synced_at: Date | null;
  slack_error: string | null;
  created_at: Date;
  updated_at: Date;
  responded_at: Date | null;
}

export type NewQuestion = Pick<QuestionRow, 'id' | 'tenant_id' | 'call_id' | 'run_id' | 'request_hash' | 'msg' | 'spec' | 'routing' | 'created_at'>;

/** Inserts, or returns undefined when the call_id is taken. */
export async function insertQuestion(tx: Tx, q: NewQuestion): Promise<QuestionRow | undefined> {
  const [row] = await tx<QuestionRow[]>`
    INSERT INTO contact_requests (id, tenant_id, call_id, run_id, request_hash, msg, spec, routing, status, created_at, updated_at)
    VALUES (${q.id}, ${q.tenant_id}, ${q.call_id}, ${q.run_id}, ${q.request_hash}, ${q.msg}, ${tx.json(q.spec as never)},
            ${tx.json(q.routing as never)}, 'pending', ${q.created_at}, ${q.created_at})
    ON CONFLICT (tenant_id, call_id) DO NOTHING
    RETURNING *`;
  return row;
}

export async function getQuestionByCallId(tx: Tx, tenantId: string, callId: string): Promise<QuestionRow | undefined> {
  const [row] = await tx<QuestionRow[]>`SELECT * FROM contact_requests WHERE tenant_id = ${tenantId} AND call_id = ${callId}`;
  return row;
}

export async function getQuestionById(tx: Tx, id: string): Promise<QuestionRow | undefined> {
  const [row] = await tx<QuestionRow[]>`SELECT * FROM contact_requests WHERE id = ${id}`;
  return row;
}

/** Records the one answer; undefined when it was already answered. */
export async function answerQuestion(
  tx: Tx,
  id: string,
  a: { response: string; option: string | null; by: string; channel: string; now: Date },
): Promise<QuestionRow | undefined> {
  const [row] = await tx<QuestionRow[]>`
    UPDATE contact_requests SET status = 'answered', response = ${a.response}, response_option_name = ${a.option},
      responded_by = ${a.by}, response_channel = ${a.channel}, responded_at = ${a.now}, updated_at = ${a.now}
    WHERE id = ${id} AND status = 'pending'
    RETURNING *`;
  return row;
}
