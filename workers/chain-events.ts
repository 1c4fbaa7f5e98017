// chain-events: links a tenant's new audit events into its hash chain, off the
// write path. One job id per tenant (chain__<tenantId>), so a burst of events
// is linked in a few batches; the reconciler and every read of the trail chain
// whatever a job missed.
import { UnrecoverableError, type Job } from 'bullmq';
import type { Sql } from '../src/db/client.ts';
import { chainAll } from '../src/db/events.ts';
import { ChainJob } from '../src/queue/queues.ts';

export function createChainProcessor(deps: { sql: Sql }) {
  return async (job: Job) => {
    const parsed = ChainJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`bad chain job payload: ${parsed.error.message}`);
    return { chained: await chainAll(deps.sql, parsed.data.tenant_id) };
  };
}
