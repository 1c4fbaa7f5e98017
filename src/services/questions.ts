// Questions an agent asks a human and the one answer each gets (HumanLayer
// contact requests). Keyed by the client's call_id; asked and answered are on
// the tenant's audit chain; Slack shows them like approvals.
import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson } from '../approvals/chain.ts';
import type { Sql } from '../db/client.ts';
import { appendEvent } from '../db/events.ts';
import * as questionsDb from '../db/questions.ts';
import type { QuestionRow } from '../db/questions.ts';
import { applyAgentRequest } from '../approvals/routing.ts';
import { AppError } from '../errors.ts';
import { defaultRouting } from '../policy/evaluate.ts';
import { uuidv7 } from '../ids.ts';
import type { Logger } from '../log.ts';
import { jobIds, type Queues } from '../queue/queues.ts';
import type { PolicyStore } from './policies.ts';

export interface QuestionDeps {
  sql: Sql;
  queues: Queues;
  policies: PolicyStore;
  log: Logger;
  clock: () => Date;
  slackEnabled?: boolean;
  redisReady?: () => boolean;
}

export function createQuestionService(deps: QuestionDeps) {
  const { sql, clock, log } = deps;

  async function slackSoon(q: QuestionRow, first: boolean): Promise<void> {
    if (!deps.slackEnabled || !q.routing.slack_channel) return;
    if (deps.redisReady && !deps.redisReady()) return; // the reconciler posts it later
    const jobId = first ? jobIds.notifyQuestion(q.id) : jobIds.slackSyncQuestion(q.id, q.updated_at);
    await deps.queues.slack.add('sync', { question_id: q.id }, { jobId }).catch((err) => log.warn('could not enqueue the question for Slack', { err }));
  }

  async function record(q: QuestionRow, type: 'question_asked' | 'question_answered', actor: string, channel: 'api' | 'slack', data: Record<string, unknown>, now: Date) {
    await appendEvent(sql, { id: uuidv7(now.getTime()), tenant_id: q.tenant_id, approval_id: null, type, actor, channel, data, created_at: now });
  }

  return {
    /** Asks once per call_id; a retry returns the same question, a different one under the same id is 422. */
    async ask(tenantId: string, input: { call_id: string; run_id: string; msg: string; spec: Record<string, unknown>; slack_channel?: string | null }): Promise<QuestionRow> {
      const hash = createHash('sha256').update(canonicalJson({ run_id: input.run_id, spec: input.spec })).digest('hex');
      const existing = await questionsDb.getQuestionByCallId(sql, tenantId, input.call_id);
      if (existing) {
        if (existing.request_hash !== hash) throw new AppError('idempotency_key_reused', 'this call_id was used for a different question');
        return existing;
      }
      const { policy } = await deps.policies.current(tenantId);
      // The agent picks a channel only among those the policy lets it (as for approvals).
      const asked = applyAgentRequest(defaultRouting(policy), { slack_channel: input.slack_channel });
      if (!asked.ok) throw new AppError(asked.code, asked.message, asked.details);
      const now = clock();
      const row = await sql.begin(async (tx) => {
        const q = await questionsDb.insertQuestion(tx, {
          id: randomUUID(),
          tenant_id: tenantId,
          call_id: input.call_id,
          run_id: input.run_id,
          request_hash: hash,
          msg: input.msg,
          spec: input.spec,
          routing: { slack_channel: asked.routing.slack_channel },
          created_at: now,
        });
        if (q) {
          await appendEvent(tx, {
            id: uuidv7(now.getTime()),
            tenant_id: tenantId,
            approval_id: null,
            type: 'question_asked',
            actor: input.run_id,
            channel: 'api',
            data: { contact_request_id: q.id, call_id: q.call_id, msg: q.msg },
            created_at: now,
          });
        }
        return q;
      });
      if (!row) return this.ask(tenantId, input); // a concurrent twin won: answer as a retry
      await slackSoon(row, true);
      return row;
    },

    async get(tenantId: string, callId: string): Promise<QuestionRow> {
      const q = await questionsDb.getQuestionByCallId(sql, tenantId, callId);
      if (!q) throw new AppError('not_found', `no contact request ${callId}`);
      return q;
    },

    /** The one answer. A second answer is 409 already_decided, carrying the first. */
    async answer(tenantId: string | null, ref: { call_id?: string; id?: string }, a: { response: string; option?: string | null; by: string; channel: 'api' | 'slack' }) {
      const q = ref.id ? await questionsDb.getQuestionById(sql, ref.id) : tenantId && ref.call_id ? await questionsDb.getQuestionByCallId(sql, tenantId, ref.call_id) : undefined;
      if (!q || (tenantId !== null && q.tenant_id !== tenantId)) throw new AppError('not_found', 'no such contact request');
      const now = clock();
      const row = await questionsDb.answerQuestion(sql, q.id, { response: a.response, option: a.option ?? null, by: a.by, channel: a.channel, now });
      if (!row) {
        const current = await questionsDb.getQuestionById(sql, q.id);
        throw new AppError('already_decided', `this question was already answered by ${current?.responded_by ?? 'someone'}`, { contact_request: current });
      }
      await record(row, 'question_answered', a.by, a.channel, { contact_request_id: row.id, call_id: row.call_id, response: a.response, option: a.option ?? null }, now);
      await slackSoon(row, false);
      return row;
    },
  };
}

export type QuestionService = ReturnType<typeof createQuestionService>;

/** What Slack shows of a question. */
export function questionView(q: QuestionRow) {
  const opts = Array.isArray((q.spec as { response_options?: unknown }).response_options)
    ? ((q.spec as { response_options: { name?: unknown; title?: unknown }[] }).response_options)
        .filter((o) => typeof o?.name === 'string')
        .map((o) => ({ name: String(o.name), title: typeof o.title === 'string' ? o.title : undefined }))
    : [];
  return {
    id: q.id,
    run_id: q.run_id,
    msg: q.msg,
    response_options: opts,
    status: q.status,
    response: q.response,
    response_option_name: q.response_option_name,
    responded_by: q.responded_by,
    responded_at: q.responded_at ? q.responded_at.toISOString() : null,
  };
}
