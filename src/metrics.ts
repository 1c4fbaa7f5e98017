// Operator signals: the Prometheus metrics of one runtime, and the queue probe
// that both /metrics and /readyz read.
//
// Every runtime has its own prom-client Registry (tests build many runtimes in
// one process; the global default registry would mix them). Counters and
// histograms are updated where things happen; the gauges below are computed at
// scrape time, from Postgres (cheap, indexed, cached a few seconds) and from
// BullMQ. Labels are bounded: route templates, channels, queue names, outcomes —
// never ids, keys or tenants.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Job, Queue } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Sql } from './db/client.ts';
import type { Logger } from './log.ts';
import type { Queues } from './queue/queues.ts';

/** How a human vote ended: it decided, counted toward a quorum, repeated itself, or was refused. */
export type DecisionOutcome = 'approved' | 'rejected' | 'voted' | 'duplicate' | 'refused';
/** `deferred` is not an attempt: the job found its tenant's or receiver's slots full and waits a moment. */
export type WebhookResult = 'delivered' | 'retry' | 'dead' | 'rejected' | 'gone' | 'endpoint_disabled' | 'deferred';

export interface QueueStat {
  queue: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  /** Since the oldest job in the wait list became due; 0 when the list is empty. */
  oldest_waiting_ms: number;
}

/** Rejects after `ms` (the timer never keeps the process alive). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const APPROVALS_TTL_MS = 5_000;
const QUEUES_TTL_MS = 1_000;
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Remembers a scrape-time value for `ttl` ms and shares one in-flight read
 * between concurrent callers; a failed read is not remembered.
 */
function cached<T>(ttl: number, read: () => Promise<T>): () => Promise<T> {
  let at = 0;
  let value: Promise<T> | undefined;
  return () => {
    const now = Date.now();
    if (value && now - at < ttl) return value;
    at = now;
    value = read();
    value.catch(() => {
      at = 0;
    });
    return value;
  };
}

export function createMetrics(deps: { sql: Sql; queues: Queues; log: Logger }) {
  const registry = new Registry();
  const registers = [registry];

  const decisions = new Counter({
    name: 'holdpoint_decisions_total',
    help: 'Human votes on approvals, by channel (api, slack, web, webhook) and outcome (approved, rejected, voted, duplicate, refused)',
    labelNames: ['channel', 'outcome'] as const,
    registers,
  });
  const timeToDecision = new Histogram({
    name: 'holdpoint_time_to_decision_seconds',
    help: 'From an approval being parked to the vote that approved or rejected it',
    labelNames: ['channel', 'outcome'] as const,
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400, 43_200, 86_400],
    registers,
  });
  const http = new Histogram({
    name: 'holdpoint_http_request_duration_seconds',
    help: 'HTTP requests by route template, method and status, until the response headers',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const webhookDeliveries = new Counter({
    name: 'holdpoint_webhook_deliveries_total',
    help: 'Webhook delivery attempts by result (delivered, retry, dead, rejected, gone, endpoint_disabled; deferred: no free slot, not an attempt)',
    labelNames: ['result'] as const,
    registers,
  });
  const reconcilerRepairs = new Counter({
    name: 'holdpoint_reconciler_repairs_total',
    help: 'What the reconciler repaired, by kind',
    labelNames: ['kind'] as const,
    registers,
  });

  // Only the live statuses: each has a partial index (approvals_pending_deadline,
  // approvals_lease), so this is two index-only scans even when the table holds
  // millions of finished approvals. Counting every status would be a full scan.
  const approvalCounts = cached(APPROVALS_TTL_MS, async () => {
    const [row] = await within(
      deps.sql<{ pending: number; executing: number }[]>`
        SELECT (SELECT count(*) FROM approvals WHERE status = 'pending')::int AS pending,
               (SELECT count(*) FROM approvals WHERE status = 'executing')::int AS executing`,
      PROBE_TIMEOUT_MS,
      'counting approvals',
    );
    return row!;
  });
  new Gauge({
    name: 'holdpoint_approvals',
    help: 'Approvals in a live status (pending, executing), counted in Postgres at scrape time (cached 5 s)',
    labelNames: ['status'] as const,
    registers,
    async collect() {
      this.reset();
      try {
        const c = await approvalCounts();
        this.set({ status: 'pending' }, c.pending);
        this.set({ status: 'executing' }, c.executing);
      } catch (err) {
        deps.log.debug('metrics: cannot count approvals', { err });
      }
    },
  });

  // A job that ran before (a retry after backoff, a stalled job put back) has no
  // record of when it became due again, so its age counts from when this process
  // first saw that attempt at the head of the wait list: late by at most one
  // scrape, never early.
  const firstSeen = new Map<string, { key: string; at: number }>();
  function dueAt(queue: string, job: Job, now: number): number {
    // opts.delay, not job.delay: BullMQ zeroes job.delay when it promotes a delayed job.
    if (!job.processedOn && !job.attemptsMade && !job.attemptsStarted) return job.timestamp + (job.opts.delay ?? 0);
    const key = `${job.id}:${job.attemptsStarted}:${job.attemptsMade}`;
    const seen = firstSeen.get(queue);
    if (seen?.key === key) return seen.at;
    firstSeen.set(queue, { key, at: now });
    return now;
  }

  async function probe(q: Queue): Promise<QueueStat> {
    const c = await q.getJobCounts('waiting', 'active', 'delayed', 'failed');
    const now = Date.now();
    let oldest = 0;
    if ((c.waiting ?? 0) > 0) {
      // The wait list is LPUSHed and consumed from the tail: the tail is next and oldest.
      const [job] = await q.getJobs(['wait'], 0, 0, true);
      if (job) oldest = Math.max(0, now - dueAt(q.name, job, now));
    }
    return { queue: q.name, waiting: c.waiting ?? 0, active: c.active ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0, oldest_waiting_ms: oldest };
  }

  const allQueues = (): Queue[] => [deps.queues.expire, deps.queues.deliver, deps.queues.chain, deps.queues.slack, deps.queues.reconcile] as Queue[];
  const queueStats = cached(QUEUES_TTL_MS, () => within(Promise.all(allQueues().map(probe)), PROBE_TIMEOUT_MS, 'reading queue depths'));

  new Gauge({
    name: 'holdpoint_queue_jobs',
    help: 'BullMQ jobs per queue and state (waiting, active, delayed, failed), read at scrape time',
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      this.reset();
      try {
        for (const s of await queueStats()) {
          for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) this.set({ queue: s.queue, state }, s[state]);
        }
      } catch (err) {
        deps.log.debug('metrics: cannot read queue depths', { err });
      }
    },
  });
  new Gauge({
    name: 'holdpoint_queue_oldest_waiting_seconds',
    help: 'Per queue, how long the oldest job in the wait list has been due; 0 when none waits',
    labelNames: ['queue'] as const,
    registers,
    async collect() {
      this.reset();
      try {
        for (const s of await queueStats()) this.set({ queue: s.queue }, s.oldest_waiting_ms / 1000);
      } catch {
        // logged by holdpoint_queue_jobs
      }
    },
  });

  // The process metrics start with the first scrape: prom-client's collectors
  // (GC observer, event-loop monitor) cannot be stopped, and tests build many
  // runtimes that are never scraped.
  let defaults = false;

  return {
    registry,
    /** The text exposition of every metric, for GET /metrics. */
    async render(): Promise<{ contentType: string; body: string }> {
      if (!defaults) {
        defaults = true;
        collectDefaultMetrics({ register: registry, prefix: 'holdpoint_' });
      }
      return { contentType: registry.contentType, body: await registry.metrics() };
    },

    /** A human vote was recorded (or refused) by the approval service. */
    vote(v: { channel: string; outcome: DecisionOutcome; created_at?: Date | undefined; decided_at?: Date | undefined }): void {
      decisions.inc({ channel: v.channel, outcome: v.outcome });
      if ((v.outcome === 'approved' || v.outcome === 'rejected') && v.created_at && v.decided_at) {
        timeToDecision.observe({ channel: v.channel, outcome: v.outcome }, Math.max(0, (v.decided_at.getTime() - v.created_at.getTime()) / 1000));
      }
    },

    httpRequest(method: string, route: string, status: number, seconds: number): void {
      http.observe({ method, route, status: String(status) }, seconds);
    },

    webhookDelivery(result: WebhookResult): void {
      webhookDeliveries.inc({ result });
    },

    reconcilerRepaired(report: Record<string, number>): void {
      for (const [kind, n] of Object.entries(report)) if (n > 0) reconcilerRepairs.inc({ kind }, n);
    },

    /** Depth and oldest due job of every queue (cached 1 s, bounded by 2 s). */
    queueStats,

    /**
     * For /readyz: the queues whose oldest due job has waited longer than
     * `maxAgeMs` — in the wait list, or still delayed past its time because no
     * worker is there to promote it. Bounded by 2 s; rejects when Redis is down.
     */
    async stalledQueues(maxAgeMs: number): Promise<(QueueStat & { overdue_delayed: number })[]> {
      const stats = await queueStats();
      const byName = new Map(allQueues().map((q) => [q.name, q]));
      const cutoff = Math.floor(Date.now() - maxAgeMs);
      const checked = await within(
        Promise.all(
          stats.map(async (s) => ({ ...s, overdue_delayed: s.delayed > 0 ? await byName.get(s.queue)!.getDelayedCount(cutoff) : 0 })),
        ),
        PROBE_TIMEOUT_MS,
        'reading overdue jobs',
      );
      return checked.filter((s) => s.oldest_waiting_ms > maxAgeMs || s.overdue_delayed > 0);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * GET /metrics with HOLDPOINT_METRICS_TOKEN set needs `Authorization: Bearer <token>`.
 * Compared as sha-256 digests in constant time, so neither content nor length leaks.
 */
export function metricsAuthorized(header: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m[1]!), digest(token));
}
