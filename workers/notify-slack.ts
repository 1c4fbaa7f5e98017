// notify-slack: brings an approval's Slack message in line with its row.
// Job ids: notify__<approvalId> (the first post) and slacksync__<id>__<version>
// (each change). Every job does the same idempotent thing:
//   no message yet and still pending  → chat.postMessage, store channel + ts once;
//   message behind the row            → chat.update with the current render;
//   completed / failed, no reply yet  → the result as a reply in its thread.
// chat.postMessage has no idempotency key: a crash after Slack accepted the post
// but before the ts was stored posts it again on retry — the one accepted
// duplicate (see ARCHITECTURE.md). A 429 backs the whole queue off by
// Retry-After; channel / auth errors fail for good and are recorded.
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { renderApproval } from '../src/approvals/render.ts';
import { getApprovalById, votesFor, type ApprovalRow } from '../src/db/approvals.ts';
import type { Sql } from '../src/db/client.ts';
import type { Logger } from '../src/log.ts';
import { SlackJob } from '../src/queue/queues.ts';
import type { ApprovalService } from '../src/services/approvals.ts';
import { approvalMessage, questionMessage, resultThreadMessage } from '../src/slack/blocks.ts';
import { getQuestionById } from '../src/db/questions.ts';
import { questionView } from '../src/services/questions.ts';
import { classifySlackError, type SlackApi } from '../src/slack/client.ts';

export interface NotifySlackDeps {
  sql: Sql;
  slack: SlackApi;
  service: ApprovalService;
  log: Logger;
  /** The worker running this processor, for rateLimit(). */
  worker: () => Worker | undefined;
}

async function load(sql: Sql, id: string) {
  const row = await getApprovalById(sql, id);
  if (!row) return undefined;
  const votes = (await votesFor(sql, [id])).get(id) ?? [];
  return { row, view: renderApproval(row, votes) };
}

async function markSynced(sql: Sql, id: string, version: Date): Promise<void> {
  await sql`
    UPDATE approvals SET slack_synced_at = GREATEST(coalesce(slack_synced_at, '-infinity'::timestamptz), ${version}::timestamptz)
    WHERE id = ${id}`;
}

export function createNotifySlackProcessor(deps: NotifySlackDeps) {
  const { sql, slack } = deps;

  async function sync(id: string): Promise<string> {
    let cur = await load(sql, id);
    if (!cur) return 'missing';
    let { row } = cur;

    if (!row.slack_ts) {
      if (row.slack_error) return 'failed_before';
      // Nobody can act on a decided request; its outcome goes to webhooks and the API.
      if (row.status !== 'pending') return 'decided_before_post';
      const channel = row.routing?.slack_channel;
      if (!channel) return 'no_channel';
      const msg = approvalMessage(cur.view);
      const posted = await slack.postMessage({ channel, text: msg.text, blocks: msg.blocks });
      const [stored] = await sql<ApprovalRow[]>`
        UPDATE approvals SET slack_channel = ${posted.channel}, slack_ts = ${posted.ts},
          slack_synced_at = ${row.updated_at}
        WHERE id = ${id} AND slack_ts IS NULL
        RETURNING *`;
      if (!stored) deps.log.warn('slack message posted twice (another job stored first)', { approval_id: id });
      cur = await load(sql, id);
      if (!cur) return 'missing';
      row = cur.row;
    }

    if (!row.slack_synced_at || row.slack_synced_at.getTime() < row.updated_at.getTime()) {
      const msg = approvalMessage(cur.view);
      await slack.update({ channel: row.slack_channel!, ts: row.slack_ts!, text: msg.text, blocks: msg.blocks });
      await markSynced(sql, id, row.updated_at);
    }

    if ((row.status === 'completed' || row.status === 'failed') && !row.slack_result_ts) {
      const msg = resultThreadMessage(cur.view);
      const reply = await slack.postMessage({ channel: row.slack_channel!, thread_ts: row.slack_ts!, text: msg.text, blocks: msg.blocks });
      await sql`UPDATE approvals SET slack_result_ts = ${reply.ts} WHERE id = ${id} AND slack_result_ts IS NULL`;
    }
    return 'synced';
  }

  /** The same for a question: post while unanswered, then keep it true. */
  async function syncQuestion(id: string): Promise<string> {
    let q = await getQuestionById(sql, id);
    if (!q) return 'missing';
    if (!q.slack_ts) {
      if (q.slack_error) return 'failed_before';
      if (q.status !== 'pending') return 'answered_before_post';
      if (!q.routing.slack_channel) return 'no_channel';
      const msg = questionMessage(questionView(q));
      const posted = await slack.postMessage({ channel: q.routing.slack_channel, text: msg.text, blocks: msg.blocks });
      await sql`UPDATE contact_requests SET slack_channel = ${posted.channel}, slack_ts = ${posted.ts}, slack_synced_at = ${q.updated_at}
                WHERE id = ${id} AND slack_ts IS NULL`;
      q = await getQuestionById(sql, id);
      if (!q) return 'missing';
    }
    if (!q.slack_synced_at || q.slack_synced_at.getTime() < q.updated_at.getTime()) {
      const msg = questionMessage(questionView(q));
      await slack.update({ channel: q.slack_channel!, ts: q.slack_ts!, text: msg.text, blocks: msg.blocks });
      await sql`UPDATE contact_requests SET slack_synced_at = GREATEST(coalesce(slack_synced_at, '-infinity'::timestamptz), ${q.updated_at}::timestamptz) WHERE id = ${id}`;
    }
    return 'synced';
  }

  return async (job: Job) => {
    const parsed = SlackJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`bad notify-slack payload: ${parsed.error.message}`);
    if ('question_id' in parsed.data) {
      const qid = parsed.data.question_id;
      try {
        return { outcome: await syncQuestion(qid) };
      } catch (err) {
        const f = classifySlackError(err);
        if (f.kind === 'rate_limited' && deps.worker()) {
          await deps.worker()!.rateLimit(f.retryAfterMs);
          throw Worker.RateLimitError();
        }
        if (f.kind === 'permanent') {
          await sql`UPDATE contact_requests SET slack_error = ${f.error} WHERE id = ${qid} AND slack_error IS NULL`;
          throw new UnrecoverableError(`slack: ${f.error}`);
        }
        throw err;
      }
    }
    const id = parsed.data.approval_id;
    try {
      return { outcome: await sync(id) };
    } catch (err) {
      const f = classifySlackError(err);
      if (f.kind === 'rate_limited') {
        const w = deps.worker();
        if (w) {
          await w.rateLimit(f.retryAfterMs);
          throw Worker.RateLimitError();
        }
        throw err;
      }
      if (f.kind === 'permanent') {
        const [first] = await sql<{ id: string }[]>`
          UPDATE approvals SET slack_error = ${f.error} WHERE id = ${id} AND slack_error IS NULL RETURNING id`;
        if (first) {
          await deps.service.recordEvent(id, { type: 'slack_failed', actor: 'system', channel: 'slack', data: { error: f.error } });
          deps.log.warn('slack refused the message for good; the approval stays pending', { approval_id: id, error: f.error });
        }
        throw new UnrecoverableError(`slack: ${f.error}`);
      }
      throw err;
    }
  };
}

/** Backoff for Slack jobs: doubles from 500 ms, capped at a minute. */
export function slackBackoffMs(attemptsMade: number): number {
  return Math.min(500 * 2 ** Math.max(0, attemptsMade - 1), 60_000);
}
