// reconcile: the sweeper that makes Redis disposable. Runs once at every worker
// boot and then on a BullMQ job scheduler. Everything it does is idempotent:
//   1. pending approvals past expires_at → expire them now (through the service)
//   2. executing approvals whose lease lapsed → back to approved
//   3. pending approvals due soon → re-add their expiry jobs (a no-op if present)
//   4. pending webhook deliveries overdue by more than a grace → re-add their jobs
//   5. audit events the chainer has not linked → link them
//   6. (Slack on) pending approvals never posted, and messages behind their row → re-add notify-slack jobs
import type { Queue } from 'bullmq';
import * as approvalsDb from '../src/db/approvals.ts';
import type { Sql } from '../src/db/client.ts';
import { chainAll, tenantsWithUnchained } from '../src/db/events.ts';
import { overdueDeliveries } from '../src/db/webhooks.ts';
import type { Logger } from '../src/log.ts';
import type { Metrics } from '../src/metrics.ts';
import { jobIds, type Queues } from '../src/queue/queues.ts';
import type { ApprovalService } from '../src/services/approvals.ts';

export interface ReconcileDeps {
  sql: Sql;
  queues: Queues;
  service: ApprovalService;
  slackEnabled?: boolean;
  log: Logger;
  clock: () => Date;
  intervalMs: number;
  /** Counts repairs by kind (holdpoint_reconciler_repairs_total). */
  metrics?: Pick<Metrics, 'reconcilerRepaired'> | undefined;
}

export interface ReconcileReport {
  expired: number;
  leases_released: number;
  expiry_jobs_added: number;
  deliveries_requeued: number;
  events_chained: number;
  slack_jobs_added: number;
}

const BATCH = 500;
// Periodic runs leave just-created deliveries to their own jobs; a boot run
// (Redis may have lost everything) re-adds every pending one — ensureJob makes
// that a no-op for jobs that still exist.
const DELIVERY_GRACE_MS = 10_000;

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

/** Adds a job, replacing a finished one that holds the same id (the add would be ignored). */
async function ensureJob(queue: Queue, jobId: string, data: unknown, delay: number): Promise<boolean> {
  const job = await queue.getJob(jobId);
  if (job) {
    const state = await job.getState();
    if (state !== 'completed' && state !== 'failed') return false;
    await job.remove();
  }
  await queue.add(queue.name, data, { jobId, delay: Math.max(0, delay) });
  return true;
}

export async function reconcile(deps: ReconcileDeps, opts: { rebuildAll?: boolean } = {}): Promise<ReconcileReport> {
  const { sql, queues, service } = deps;
  const report: ReconcileReport = { expired: 0, leases_released: 0, expiry_jobs_added: 0, deliveries_requeued: 0, events_chained: 0, slack_jobs_added: 0 };

  // Overdue approvals go in sweeps of BATCH per transaction (rows another
  // sweep or a decision holds are skipped: they are being decided already).
  for (;;) {
    const expired = await service.expireDue(BATCH);
    report.expired += expired.length;
    if (expired.length < BATCH) break;
  }

  const lapsed = await approvalsDb.lapsedLeases(sql, BATCH);
  await pool(lapsed, 8, async ({ id }) => {
    if (await service.releaseLease(id)) report.leases_released++;
  });

  const now = deps.clock().getTime();
  const addExpiry = async ({ id, expires_at }: { id: string; expires_at: Date }) => {
    if (await ensureJob(queues.expire, jobIds.expire(id), { approval_id: id }, expires_at.getTime() - now)) report.expiry_jobs_added++;
  };
  if (opts.rebuildAll) {
    let after: string | null = null;
    for (;;) {
      const page = await approvalsDb.allPending(sql, after, BATCH);
      await pool(page, 16, addExpiry);
      if (page.length < BATCH) break;
      after = page[page.length - 1]!.id;
    }
  } else {
    await pool(await approvalsDb.pendingDueWithin(sql, deps.intervalMs * 2, 5_000), 16, addExpiry);
  }

  const lost = await overdueDeliveries(sql, opts.rebuildAll ? 0 : DELIVERY_GRACE_MS, 5_000);
  await pool(lost, 16, async (d) => {
    if (await ensureJob(queues.deliver, jobIds.deliver(d.event_id, d.target), { delivery_id: d.id }, 0)) report.deliveries_requeued++;
  });

  for (const tenantId of await tenantsWithUnchained(sql)) report.events_chained += await chainAll(sql, tenantId);

  if (deps.slackEnabled) {
    const grace = opts.rebuildAll ? 0 : DELIVERY_GRACE_MS;
    const unposted = await sql<{ id: string }[]>`
      SELECT id FROM approvals
      WHERE status = 'pending' AND slack_ts IS NULL AND slack_error IS NULL
        AND routing->>'slack_channel' IS NOT NULL AND created_at <= now() - ${grace} * interval '1 millisecond'
      ORDER BY created_at LIMIT 5000`;
    await pool(unposted, 16, async ({ id }) => {
      if (await ensureJob(queues.slack, jobIds.notify(id), { approval_id: id }, 0)) report.slack_jobs_added++;
    });
    const behind = await sql<{ id: string; updated_at: Date }[]>`
      SELECT id, updated_at FROM approvals
      WHERE slack_ts IS NOT NULL AND (slack_synced_at IS NULL OR slack_synced_at < updated_at)
        AND updated_at <= now() - ${grace} * interval '1 millisecond'
      ORDER BY updated_at LIMIT 5000`;
    await pool(behind, 16, async ({ id, updated_at }) => {
      if (await ensureJob(queues.slack, jobIds.slackSync(id, updated_at), { approval_id: id }, 0)) report.slack_jobs_added++;
    });
    // The same for questions (HumanLayer contact requests).
    const questions = await sql<{ id: string; updated_at: Date; posted: boolean }[]>`
      SELECT id, updated_at, slack_ts IS NOT NULL AS posted FROM contact_requests
      WHERE updated_at <= now() - ${grace} * interval '1 millisecond'
        AND ((status = 'pending' AND slack_ts IS NULL AND slack_error IS NULL AND routing->>'slack_channel' IS NOT NULL)
          OR (slack_ts IS NOT NULL AND (slack_synced_at IS NULL OR slack_synced_at < updated_at)))
      ORDER BY updated_at LIMIT 5000`;
    await pool(questions, 16, async ({ id, updated_at, posted }) => {
      const jobId = posted ? jobIds.slackSyncQuestion(id, updated_at) : jobIds.notifyQuestion(id);
      if (await ensureJob(queues.slack, jobId, { question_id: id }, 0)) report.slack_jobs_added++;
    });
  }

  const repaired = report.expired + report.leases_released + report.expiry_jobs_added + report.deliveries_requeued + report.slack_jobs_added;
  deps.metrics?.reconcilerRepaired({ ...report });
  if (repaired > 0) deps.log.info('reconciler repaired state', { ...report });
  return report;
}
