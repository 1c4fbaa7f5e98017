// Starts every BullMQ worker in this process, runs the reconciler once, and
// (re-)upserts its job scheduler — at boot and every reconcile interval (at most
// a minute), so a Redis that lost everything gets the schedule back without a restart.
import { Worker, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Sql } from '../src/db/client.ts';
import type { Keyring } from '../src/secrets/keyring.ts';
import type { Logger } from '../src/log.ts';
import type { Metrics } from '../src/metrics.ts';
import { QUEUE_NAMES, jobIds, type Queues } from '../src/queue/queues.ts';
import type { ApprovalService } from '../src/services/approvals.ts';
import { retryDelayMs } from '../src/webhooks/sign.ts';
import { createDeliverySlots } from '../src/webhooks/slots.ts';
import { createChainProcessor } from './chain-events.ts';
import { createDeliverProcessor } from './deliver-webhook.ts';
import { createNotifySlackProcessor, slackBackoffMs } from './notify-slack.ts';
import type { SlackApi } from '../src/slack/client.ts';
import { createExpireProcessor } from './expire-approval.ts';
import { reconcile, type ReconcileDeps } from './reconcile.ts';

export interface WorkerDeps {
  sql: Sql;
  connection: ConnectionOptions;
  /** Commands outside BullMQ (delivery slots); the runtime's fail-fast producer connection. */
  redis: Redis;
  queues: Queues;
  service: ApprovalService;
  /** Slack, when configured; without it no notify-slack worker runs. */
  slack: SlackApi | null;
  /** Opens sealed webhook secrets (deliver-webhook). */
  secrets: Keyring;
  log: Logger;
  /** Operator metrics (webhook deliveries, reconciler repairs); optional for callers that do not scrape. */
  metrics?: Metrics | undefined;
  clock: () => Date;
  config: {
    HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: boolean;
    HOLDPOINT_WEBHOOK_TIMEOUT_MS: number;
    HOLDPOINT_WEBHOOK_CONCURRENCY: number;
    HOLDPOINT_WEBHOOK_MAX_PER_TARGET: number;
    HOLDPOINT_WEBHOOK_MAX_PER_TENANT: number;
    HOLDPOINT_WEBHOOK_SLOT_WAIT_MS: number;
    HOLDPOINT_WEBHOOK_RETRY_BASE_MS: number;
    HOLDPOINT_WEBHOOK_MAX_ATTEMPTS: number;
    HOLDPOINT_RECONCILE_INTERVAL_MS: number;
  };
}

export interface Workers {
  workers: Worker[];
  reconcileNow(opts?: { rebuildAll?: boolean }): ReturnType<typeof reconcile>;
  close(timeoutMs: number): Promise<void>;
}

// A job that was running when its process was SIGKILLed is picked up again
// when its lock lapses and a stall check notices: at most lockDuration +
// stalledInterval (BullMQ's defaults, 30 s + 30 s, would leave a killed Slack
// post or webhook waiting a minute). Live workers renew locks every 5 s.
const LOCKS = { lockDuration: 10_000, stalledInterval: 5_000 } as const;

export async function startWorkers(deps: WorkerDeps): Promise<Workers> {
  const { connection, queues, log, config } = deps;
  const prefix = queues.prefix;
  const rdeps: ReconcileDeps = {
    sql: deps.sql,
    queues,
    service: deps.service,
    slackEnabled: Boolean(deps.slack),
    log: log.child({ worker: 'reconcile' }),
    clock: deps.clock,
    intervalMs: config.HOLDPOINT_RECONCILE_INTERVAL_MS,
    metrics: deps.metrics,
  };

  const expire = new Worker(QUEUE_NAMES.expire, createExpireProcessor({ service: deps.service, sql: deps.sql, clock: deps.clock }), {
    connection,
    prefix,
    concurrency: 16,
    ...LOCKS,
  });
  const deliver = new Worker(
    QUEUE_NAMES.deliver,
    createDeliverProcessor({
      sql: deps.sql,
      secrets: deps.secrets,
      log: log.child({ worker: 'deliver-webhook' }),
      clock: deps.clock,
      allowPrivate: config.HOLDPOINT_WEBHOOK_ALLOW_PRIVATE,
      deadlineMs: config.HOLDPOINT_WEBHOOK_TIMEOUT_MS,
      // Renewed while the attempt runs; a killed worker's slot lapses within 5 s,
      // before its job's lock does (so the retry never waits on it).
      slots: createDeliverySlots(deps.redis, prefix, {
        perTenant: config.HOLDPOINT_WEBHOOK_MAX_PER_TENANT,
        perTarget: config.HOLDPOINT_WEBHOOK_MAX_PER_TARGET,
        ttlMs: Math.min(5_000, LOCKS.lockDuration / 2),
      }),
      slotWaitMs: config.HOLDPOINT_WEBHOOK_SLOT_WAIT_MS,
      retryBaseMs: config.HOLDPOINT_WEBHOOK_RETRY_BASE_MS,
      maxAttempts: config.HOLDPOINT_WEBHOOK_MAX_ATTEMPTS,
      metrics: deps.metrics,
    }),
    {
      connection,
      prefix,
      concurrency: config.HOLDPOINT_WEBHOOK_CONCURRENCY,
      ...LOCKS,
      settings: {
        // The same delay the processor wrote to next_attempt_at.
        backoffStrategy: (attemptsMade, _type, _err, job) =>
          retryDelayMs(attemptsMade, config.HOLDPOINT_WEBHOOK_RETRY_BASE_MS, String((job?.data as { delivery_id?: string })?.delivery_id)),
      },
    },
  );
  let slackWorker: Worker | undefined;
  const SLACK_JOBS_PER_SECOND = 50;
  if (deps.slack) {
    slackWorker = new Worker(
      QUEUE_NAMES.slack,
      createNotifySlackProcessor({ sql: deps.sql, slack: deps.slack, service: deps.service, log: log.child({ worker: 'notify-slack' }), worker: () => slackWorker }),
      {
        connection,
        prefix,
        concurrency: 4,
        ...LOCKS,
        // A 429 calls worker.rateLimit(Retry-After), which sets the queue's
        // limiter key in Redis; BullMQ only honours that key when fetching if
        // the worker has a limiter. Without one, this worker's other slots and
        // every other worker process kept posting during the back-off. The cap
        // itself is generous (Slack's own limits bite long before it).
        limiter: { max: SLACK_JOBS_PER_SECOND, duration: 1_000 },
        settings: { backoffStrategy: (attemptsMade) => slackBackoffMs(attemptsMade) },
      },
    );
  }
  const chainer = new Worker(QUEUE_NAMES.chain, createChainProcessor({ sql: deps.sql }), { connection, prefix, concurrency: 4, ...LOCKS });
  const sweeper = new Worker(QUEUE_NAMES.reconcile, async () => reconcile(rdeps), { connection, prefix, concurrency: 1, ...LOCKS });

  const workers = [expire, deliver, chainer, sweeper, ...(slackWorker ? [slackWorker] : [])];
  for (const w of workers) {
    w.on('error', (err) => log.warn('worker error', { queue: w.name, err }));
    w.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) log.warn('job failed for good', { queue: w.name, job_id: job.id, err });
    });
  }

  const upsertSchedule = () =>
    queues.reconcile
      .upsertJobScheduler(jobIds.reconcileScheduler, { every: config.HOLDPOINT_RECONCILE_INTERVAL_MS }, { name: 'reconcile', data: { reason: 'schedule' } })
      .catch((err) => log.warn('could not upsert the reconcile scheduler', { err }));
  await upsertSchedule();
  // Every reconcile interval (at most a minute): after a FLUSHALL the schedule is
  // gone, and until it is back nothing repairs what Redis lost. Re-upserting an
  // existing scheduler keeps its next run where it was, so this never delays it.
  const scheduleTimer = setInterval(upsertSchedule, Math.min(60_000, config.HOLDPOINT_RECONCILE_INTERVAL_MS));
  scheduleTimer.unref();

  const boot = reconcile(rdeps, { rebuildAll: true }).catch((err) => {
    log.error('boot reconcile failed; the scheduled one will retry', { err });
  });

  return {
    workers,
    reconcileNow: (opts) => reconcile(rdeps, opts),
    async close(timeoutMs: number) {
      clearInterval(scheduleTimer);
      await boot;
      // worker.close() waits for active jobs with no limit: race it, then force.
      const graceful = Promise.all(workers.map((w) => w.close()));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        graceful.then(() => false),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        log.warn('workers did not finish in time; closing hard (their jobs retry after the lock lapses)');
        await Promise.allSettled(workers.map((w) => w.close(true)));
      }
    },
  };
}
