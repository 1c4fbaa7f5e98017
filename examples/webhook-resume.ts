// A job that parks instead of blocking, and a webhook receiver that resumes it
// on `approval.approved`. On start it asks to pay a big invoice with a
// callback URL pointing here; Holdpoint parks it, and this process keeps the
// job in memory, keyed by its idempotency key. When a human approves, the
// signed webhook arrives: verify it with the SDK's `verifyWebhook`, drop
// duplicates (deliveries are at least once; `webhook-id` is stable across
// retries), then `guard` again with the same key — which claims the approval,
// so the job runs once even if two receivers get the same event — run it and
// report it.
//
//   WEBHOOK_SECRET=whsec_... HOLDPOINT_API_KEY=<agent key> npx tsx examples/webhook-resume.ts
//
// Env: HOLDPOINT_URL (default http://localhost:8080), HOLDPOINT_API_KEY (an
// agent key), WEBHOOK_SECRET (the tenant's whsec_… secret), PORT (default
// 9000), CALLBACK_URL (default http://127.0.0.1:$PORT/hook; Holdpoint must be
// able to reach it, and refuses private addresses unless it runs with
// HOLDPOINT_WEBHOOK_ALLOW_PRIVATE=true). Stops on SIGINT / SIGTERM.
//
// A real service keeps parked jobs in its own database, not a Map: on restart
// it would `guard` each unfinished job again with its key, which returns the
// decision made meanwhile.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
// In your own project: import { Holdpoint, ... } from 'holdpoint/client';
import { ActionClaimed, ApprovalPending, Holdpoint, HoldpointError, verifyWebhook, type WebhookEvent } from '../src/sdk/index.ts';

const baseUrl = process.env.HOLDPOINT_URL ?? 'http://localhost:8080';
const apiKey = process.env.HOLDPOINT_API_KEY;
const secret = process.env.WEBHOOK_SECRET;
if (!apiKey || !secret?.startsWith('whsec_')) {
  console.error('set HOLDPOINT_API_KEY to an agent key and WEBHOOK_SECRET to the tenant webhook secret (whsec_...)');
  process.exit(2);
}
const port = Number(process.env.PORT ?? 9000);
const callbackUrl = process.env.CALLBACK_URL ?? `http://127.0.0.1:${port}/hook`;
const hp = new Holdpoint({ baseUrl, apiKey, agentId: 'billing-bot' });

interface Job {
  key: string;
  invoice: string;
  params: { to: string; amount: number };
}
/** Parked jobs by idempotency key. */
const parked = new Map<string, Job>();
/** webhook-ids already handled. */
const seen = new Set<string>();

async function run(job: Job): Promise<void> {
  // Same action, params and key as when it was parked: Holdpoint answers with
  // the approval as decided, and claims it for this process.
  let permit;
  try {
    permit = await hp.guard('payment.send', { idempotencyKey: job.key, params: job.params, callbackUrl });
  } catch (err) {
    if (err instanceof ActionClaimed) return console.log(`${job.invoice}: already ${err.approvalStatus} elsewhere; not running it again`);
    throw err;
  }
  // Pay what was approved (permit.params: redacted where the policy redacted), not what the job held.
  const { to, amount } = permit.params as Job['params'];
  const receipt = { payment_id: `pay_${randomUUID().slice(0, 8)}`, to, amount };
  await permit.complete(receipt);
  console.log(`${job.invoice}: resumed and paid ${amount} to ${to} (approved by ${permit.approver ?? 'policy'}) — ${receipt.payment_id}`);
}

async function submit(job: Job): Promise<void> {
  try {
    await run(job);
  } catch (err) {
    if (!(err instanceof ApprovalPending)) throw err;
    parked.set(job.key, job);
    console.log(`${job.invoice}: parked — approval ${err.approvalId} (key ${job.key}); waiting for approval.approved at ${callbackUrl}`);
  }
}

function onEvent(event: WebhookEvent): void {
  const a = event.data;
  const job = parked.get(a.idempotency_key);
  // An `on_timeout: approve` deadline arrives as approval.expired with status approved.
  const approved = event.type === 'approval.approved' || (event.type === 'approval.expired' && a.status === 'approved');
  const settled = approved || ['approval.rejected', 'approval.expired', 'approval.cancelled'].includes(event.type);
  console.log(`webhook ${event.type} for approval ${a.id}${a.decided_by ? ` by ${a.decided_by}` : ''}`);
  if (!job || !settled) return;
  parked.delete(a.idempotency_key);
  if (!approved) return console.log(`${job.invoice}: dropped — ${a.status}${a.decision_reason ? `: ${a.decision_reason}` : ''}`);
  run(job).catch((err: unknown) => {
    console.error(`${job.invoice}: resume failed: ${err instanceof HoldpointError ? `${err.code}: ` : ''}${(err as Error).message}`);
  });
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/hook') return void res.writeHead(404).end();
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    let event: WebhookEvent;
    try {
      // Verify the raw bytes exactly as received, before parsing anything.
      event = await verifyWebhook(secret, req.headers, Buffer.concat(chunks));
    } catch (err) {
      console.log(`refused a delivery: ${(err as Error).message}`);
      return void res.writeHead(400).end();
    }
    // Answer first: resuming the job must not hold Holdpoint's delivery open.
    res.writeHead(204).end();
    if (seen.has(event.id)) return console.log(`webhook ${event.id}: duplicate, ignored`);
    seen.add(event.id);
    onEvent(event);
  });
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    console.log(`stopping (${parked.size} job(s) still parked)`);
    server.close(() => process.exit(0));
  });
}

server.listen(port, '127.0.0.1', async () => {
  console.log(`listening on http://127.0.0.1:${port}/hook`);
  const invoice = 'inv-2001';
  try {
    await submit({ key: `${invoice}-${randomUUID().slice(0, 8)}`, invoice, params: { to: 'acct_42', amount: 5000 } });
  } catch (err) {
    console.error(`could not submit ${invoice}: ${(err as Error).message}`);
    process.exit(1);
  }
});
