// expire-approval: a delayed job per pending approval (id expire__<approvalId>),
// due at expires_at. Re-reads the row: a decided approval is left alone; a job
// that fires early (clock skew) puts itself back to the deadline.
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { ExpireJob } from '../src/queue/queues.ts';
import type { ApprovalService } from '../src/services/approvals.ts';

export function createExpireProcessor(deps: { service: ApprovalService }) {
  return async (job: Job, token?: string) => {
    const parsed = ExpireJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`bad expire job payload: ${parsed.error.message}`);
    const r = await deps.service.expire(parsed.data.approval_id);
    if (r.due_at) {
      await job.moveToDelayed(r.due_at.getTime(), token);
      throw new DelayedError();
    }
    return { changed: r.changed, status: r.status ?? null };
  };
}
