// Every queue name, job id and job payload schema lives here and nowhere else.
//
// Contract: jobs carry ids only; processors re-read Postgres and act only if the
// row still needs it, so a repeated or late job is harmless. Job ids are
// deterministic, so adding a job twice adds it once (BullMQ ignores a known id).
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { z } from 'zod';

export const QUEUE_NAMES = {
  expire: 'expire-approval',
  deliver: 'deliver-webhook',
  reconcile: 'reconcile',
  chain: 'chain-events',
  slack: 'notify-slack',
} as const;

export const ExpireJob = z.strictObject({ approval_id: z.string().uuid() });
export type ExpireJob = z.infer<typeof ExpireJob>;

export const DeliverJob = z.strictObject({ delivery_id: z.string().uuid() });
export type DeliverJob = z.infer<typeof DeliverJob>;

export const ChainJob = z.strictObject({ tenant_id: z.string().uuid() });
export type ChainJob = z.infer<typeof ChainJob>;

/** Bring the approval's Slack message in line with its row: post it, update it, or reply with the result. */
export const SlackJob = z.union([z.strictObject({ approval_id: z.string().uuid() }), z.strictObject({ question_id: z.string().uuid() })]);
export type SlackJob = z.infer<typeof SlackJob>;

export const ReconcileJob = z.strictObject({ reason: z.enum(['boot', 'schedule', 'manual']).default('schedule') });
export type ReconcileJob = z.infer<typeof ReconcileJob>;

export const jobIds = {
  expire: (approvalId: string) => `expire__${approvalId}`,
  deliver: (eventId: string, target: string) => `deliver__${eventId}__${target}`,
  // While one is waiting, more events of the tenant add nothing: it chains them all.
  chain: (tenantId: string) => `chain__${tenantId}`,
  notify: (approvalId: string) => `notify__${approvalId}`,
  /** One per version of the approval (its updated_at), so every change re-renders the message once. */
  slackSync: (approvalId: string, version: Date) => `slacksync__${approvalId}__${version.getTime()}`,
  notifyQuestion: (questionId: string) => `notifyq__${questionId}`,
  slackSyncQuestion: (questionId: string, version: Date) => `slacksyncq__${questionId}__${version.getTime()}`,
  reconcileScheduler: 'reconcile__scheduler',
  reconcileBoot: (bootId: string) => `reconcile__boot__${bootId}`,
};

export interface Queues {
  expire: Queue<ExpireJob>;
  deliver: Queue<DeliverJob>;
  reconcile: Queue<ReconcileJob>;
  chain: Queue<ChainJob>;
  slack: Queue<SlackJob>;
  prefix: string;
  close(): Promise<void>;
}

const KEEP: JobsOptions = {
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 7 * 86_400 },
};

export function createQueues(connection: ConnectionOptions, prefix: string, opts: { maxAttempts: number }): Queues {
  const expire = new Queue<ExpireJob>(QUEUE_NAMES.expire, {
    connection,
    prefix,
    defaultJobOptions: { ...KEEP, attempts: 20, backoff: { type: 'exponential', delay: 1_000 } },
  });
  const deliver = new Queue<DeliverJob>(QUEUE_NAMES.deliver, {
    connection,
    prefix,
    // Backoff is computed by the worker's strategy (retryDelayMs), the same
    // numbers Postgres records as next_attempt_at.
    defaultJobOptions: { ...KEEP, attempts: opts.maxAttempts, backoff: { type: 'holdpoint' } },
  });
  const reconcile = new Queue<ReconcileJob>(QUEUE_NAMES.reconcile, {
    connection,
    prefix,
    defaultJobOptions: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 }, attempts: 1 },
  });
  const chain = new Queue<ChainJob>(QUEUE_NAMES.chain, {
    connection,
    prefix,
    // Removed at once so the next event of the tenant can add the id again.
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 5, backoff: { type: 'exponential', delay: 500 } },
  });
  const slack = new Queue<SlackJob>(QUEUE_NAMES.slack, {
    connection,
    prefix,
    // Retries until Slack answers (backoff capped at a minute by the worker);
    // the processor stops retrying by itself once there is nothing left to show.
    defaultJobOptions: { ...KEEP, attempts: 2_000, backoff: { type: 'holdpoint' } },
  });
  // A Queue with no 'error' listener would throw on a Redis hiccup.
  for (const q of [expire, deliver, reconcile, chain, slack] as Queue[]) q.on('error', () => undefined);
  return {
    expire,
    deliver,
    reconcile,
    chain,
    slack,
    prefix,
    async close() {
      await Promise.allSettled([expire.close(), deliver.close(), reconcile.close(), chain.close(), slack.close()]);
    },
  };
}
