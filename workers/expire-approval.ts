// expire-approval: a delayed job per pending approval (id expire__<approvalId>),
// due at expires_at. Re-reads the row: a decided approval is left alone; a job
// that fires early (clock skew) puts itself back to the deadline. A job that
// finds its approval due sweeps every due approval in one transaction
// (service.expireDue), so when thousands fall due together the jobs behind it
// mostly find theirs done and cost one read.
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { getApprovalById } from '../src/db/approvals.ts';
import type { Sql } from '../src/db/client.ts';
import { ExpireJob } from '../src/queue/queues.ts';
import type { ApprovalService } from '../src/services/approvals.ts';

/** How many due approvals one sweep expires in one transaction. */
export const SWEEP_BATCH = 500;

export function createExpireProcessor(deps: { service: ApprovalService; sql: Sql; clock: () => Date }) {
  return async (job: Job, token?: string) => {
    const parsed = ExpireJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`bad expire job payload: ${parsed.error.message}`);
    const id = parsed.data.approval_id;
    const row = await getApprovalById(deps.sql, id);
    if (!row || row.status !== 'pending') return { changed: false, status: row?.status ?? null };
    let swept = 0;
    if (row.expires_at.getTime() <= deps.clock().getTime()) {
      const ids = await deps.service.expireDue(SWEEP_BATCH);
      swept = ids.length;
      if (ids.includes(id)) return { changed: true, swept };
    }
    // Not due by this clock, or locked by a concurrent sweep or decision: the
    // single-approval path waits for the lock and decides (or reschedules).
    const r = await deps.service.expire(id);
    if (r.due_at) {
      await job.moveToDelayed(r.due_at.getTime(), token);
      throw new DelayedError();
    }
    return { changed: r.changed, status: r.status ?? null, swept };
  };
}
