// deliver-webhook: one job per (event, target), id deliver__<eventId>__<target>.
// Each attempt is signed afresh (Standard Webhooks tolerance is ±5 min) with the
// same webhook-id, and recorded in webhook_deliveries. 2xx delivers; 410
// disables the endpoint; other 4xx fail at once; 5xx / network errors retry
// with backoff until the last attempt, then the delivery is dead (replayable).
//
// Each attempt needs a slot (src/webhooks/slots.ts): one of its tenant's and
// one of its receiver's. A job that finds either full goes back to the delayed
// set for a moment without using an attempt (moveToDelayed + DelayedError),
// so a receiver that hangs holds only its share of the workers and other
// tenants' webhooks keep going out.
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Sql } from '../src/db/client.ts';
import { getWebhookSecrets } from '../src/db/tenants.ts';
import * as webhooksDb from '../src/db/webhooks.ts';
import type { Logger } from '../src/log.ts';
import type { Metrics } from '../src/metrics.ts';
import { SecretKeyError, type Keyring } from '../src/secrets/keyring.ts';
import { DeliverJob } from '../src/queue/queues.ts';
import { postWebhook } from '../src/webhooks/deliver.ts';
import type { DeliverySlots } from '../src/webhooks/slots.ts';
import { retryDelayMs, webhookHeaders } from '../src/webhooks/sign.ts';

export interface DeliverDeps {
  sql: Sql;
  /** Opens the tenant's sealed webhook secrets. */
  secrets: Keyring;
  log: Logger;
  clock: () => Date;
  allowPrivate: boolean;
  /** The whole attempt, connect to the last body byte (HOLDPOINT_WEBHOOK_TIMEOUT_MS). */
  deadlineMs: number;
  /** Concurrency slots per tenant and receiver; without them attempts are not capped. */
  slots?: DeliverySlots | undefined;
  /** How long a job that found no free slot waits before it tries again (jittered up to 1.5×). */
  slotWaitMs?: number;
  retryBaseMs: number;
  maxAttempts: number;
  /** Counts each attempt by result (holdpoint_webhook_deliveries_total). */
  metrics?: Pick<Metrics, 'webhookDelivery'> | undefined;
}

export function createDeliverProcessor(deps: DeliverDeps) {
  const { sql } = deps;
  const count = (result: Parameters<Metrics['webhookDelivery']>[0]) => deps.metrics?.webhookDelivery(result);
  return async (job: Job, token?: string) => {
    const parsed = DeliverJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`bad deliver job payload: ${parsed.error.message}`);
    const d = await webhooksDb.getDelivery(sql, parsed.data.delivery_id);
    if (!d || d.status !== 'pending') return { skipped: d?.status ?? 'missing' };

    if (d.endpoint_id) {
      const [ep] = await sql<{ disabled_at: Date | null; disabled_reason: string | null }[]>`
        SELECT disabled_at, disabled_reason FROM webhook_endpoints WHERE id = ${d.endpoint_id}`;
      if (ep?.disabled_at) {
        await webhooksDb.recordAttempt(sql, d.id, {
          status: 'failed',
          status_code: null,
          error: `endpoint disabled (${ep.disabled_reason ?? 'unknown'})`,
          next_attempt_at: null,
          now: deps.clock(),
        });
        count('endpoint_disabled');
        return { skipped: 'endpoint_disabled' };
      }
    }

    let signing: Awaited<ReturnType<typeof getWebhookSecrets>>;
    try {
      signing = await getWebhookSecrets(sql, deps.secrets, d.tenant_id, deps.clock());
    } catch (err) {
      // A wrong or missing key: never send, never count an attempt. The job
      // retries, and the reconciler re-enqueues it once the key is fixed.
      if (err instanceof SecretKeyError) deps.log.error('cannot open the webhook secret; not delivering', { delivery_id: d.id, tenant_id: d.tenant_id, err });
      throw err;
    }
    if (!signing) throw new UnrecoverableError(`tenant ${d.tenant_id} not found`);
    const keys = signing.previous ? [signing.current, signing.previous] : [signing.current];

    let release: (() => Promise<void>) | undefined;
    if (deps.slots) {
      let taken: Awaited<ReturnType<DeliverySlots['take']>> | undefined;
      try {
        taken = await deps.slots.take(d.tenant_id, d.url);
      } catch (err) {
        // Fail open: a Redis hiccup should not stop deliveries (BullMQ needs Redis anyway to finish the job).
        deps.log.warn('could not take a delivery slot; attempting without one', { delivery_id: d.id, err });
      }
      if (taken && !taken.ok) {
        const wait = deps.slotWaitMs ?? 1_000;
        count('deferred');
        await job.moveToDelayed(Date.now() + wait + Math.floor(Math.random() * wait * 0.5), token);
        throw new DelayedError(`no free ${taken.full} slot for delivery ${d.id}`);
      }
      if (taken?.ok) release = taken.release;
    }
    try {
      return await attempt(d, keys);
    } finally {
      await release?.().catch((err: unknown) => deps.log.debug('could not release a delivery slot (it lapses by itself)', { err }));
    }
  };

  async function attempt(d: webhooksDb.DeliveryRow, keys: string[]) {
    const now = deps.clock();
    const headers = webhookHeaders(keys, d.event_id, Math.floor(now.getTime() / 1000), d.payload);
    const outcome = await postWebhook({
      url: d.url,
      body: d.payload,
      headers,
      deadlineMs: deps.deadlineMs,
      allowPrivate: deps.allowPrivate,
    });
    const at = deps.clock();
    const attempt = d.attempts + 1;

    switch (outcome.kind) {
      case 'delivered':
        await webhooksDb.recordAttempt(sql, d.id, { status: 'delivered', status_code: outcome.status, error: null, next_attempt_at: null, now: at });
        count('delivered');
        return { delivered: true, status: outcome.status };
      case 'gone':
        await webhooksDb.recordAttempt(sql, d.id, { status: 'failed', status_code: 410, error: 'receiver answered 410 Gone', next_attempt_at: null, now: at });
        if (d.endpoint_id) await webhooksDb.disableEndpoint(sql, d.endpoint_id, 'receiver answered 410 Gone');
        count('gone');
        return { delivered: false, status: 410 };
      case 'rejected':
        await webhooksDb.recordAttempt(sql, d.id, {
          status: 'failed',
          status_code: outcome.status || null,
          error: outcome.error ?? `receiver answered ${outcome.status}`,
          next_attempt_at: null,
          now: at,
        });
        count('rejected');
        return { delivered: false, status: outcome.status };
      case 'retry': {
        if (attempt >= deps.maxAttempts) {
          await webhooksDb.recordAttempt(sql, d.id, { status: 'dead', status_code: outcome.status, error: outcome.error, next_attempt_at: null, now: at });
          deps.log.warn('webhook delivery is dead after its last attempt', { delivery_id: d.id, attempts: attempt });
          count('dead');
          return { delivered: false, dead: true };
        }
        const next = new Date(at.getTime() + retryDelayMs(attempt, deps.retryBaseMs, d.id));
        await webhooksDb.recordAttempt(sql, d.id, { status: 'pending', status_code: outcome.status, error: outcome.error, next_attempt_at: next, now: at });
        count('retry');
        // BullMQ retries with the same delay (see backoffStrategy in workers/main.ts).
        throw new Error(`delivery attempt ${attempt} failed: ${outcome.error}`);
      }
    }
  }
}
