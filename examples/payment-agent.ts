// A payment agent that asks before it pays: a small invoice is allowed at
// once, a big one waits for a human (with examples/policy.yaml: payments over
// 1000 need approval). Each payment runs under a Permit and is reported with
// `complete`, so the audit trail shows what was actually paid.
//
//   HOLDPOINT_API_KEY=<agent key> npx tsx examples/payment-agent.ts
//
// Env: HOLDPOINT_URL (default http://localhost:8080), HOLDPOINT_API_KEY (an
// agent key), WAIT_SECONDS (how long to wait for a human, default 600).
import { randomUUID } from 'node:crypto';
// In your own project: import { Holdpoint, ... } from 'holdpoint/client';
import { ActionDenied, ActionRejected, ActionTimeout, ApprovalPending, Holdpoint, HoldpointError, type Permit } from '../src/sdk/index.ts';

const baseUrl = process.env.HOLDPOINT_URL ?? 'http://localhost:8080';
const apiKey = process.env.HOLDPOINT_API_KEY;
if (!apiKey) {
  console.error('set HOLDPOINT_API_KEY to an agent key (holdpoint tenant create prints one)');
  process.exit(2);
}
const waitMs = Number(process.env.WAIT_SECONDS ?? 600) * 1000;
const hp = new Holdpoint({ baseUrl, apiKey, agentId: 'billing-bot' });

// One id per run, so a second run asks again instead of replaying the first
// run's decisions (a real agent keys on the invoice id alone: retries of the
// same invoice must be the same request).
const run = randomUUID().slice(0, 8);
const invoices = [
  { id: 'inv-1000', to: 'acct_7', amount: 20 },
  { id: 'inv-1001', to: 'acct_42', amount: 5000 },
];

/** Stands in for the bank. */
async function bankTransfer(to: string, amount: number) {
  return { payment_id: `pay_${randomUUID().slice(0, 8)}`, to, amount };
}

async function pay(invoice: (typeof invoices)[number]): Promise<void> {
  const options = { idempotencyKey: `${invoice.id}-${run}`, params: { to: invoice.to, amount: invoice.amount } };
  let permit: Permit;
  try {
    try {
      permit = await hp.guard('payment.send', options);
    } catch (err) {
      if (!(err instanceof ApprovalPending)) throw err;
      // Parked: say where, then block on the same key until someone decides.
      console.log(`${invoice.id}: ${invoice.amount} to ${invoice.to} needs approval — approval ${err.approvalId}, waiting up to ${waitMs / 1000} s`);
      console.log(`  approve it in Slack, or: curl -X POST ${baseUrl}/v1/approvals/${err.approvalId}/decision -H "Authorization: Bearer $APPROVER" \\`);
      console.log(`    -H 'Content-Type: application/json' -d '{"decision":"approve"}'`);
      permit = await hp.guard('payment.send', { ...options, wait: waitMs });
    }
  } catch (err) {
    if (err instanceof ActionRejected) return console.log(`${invoice.id}: not paid — rejected by ${err.rejectedBy}${err.reason ? `: ${err.reason}` : ''}`);
    if (err instanceof ActionDenied) return console.log(`${invoice.id}: not paid — denied: ${err.reasons.map((r) => r.message).join('; ')}`);
    if (err instanceof ActionTimeout) return console.log(`${invoice.id}: not paid — nobody decided by ${err.expiresAt.toISOString()}`);
    if (err instanceof ApprovalPending) return console.log(`${invoice.id}: still waiting for approval ${err.approvalId}; run again later`);
    throw err;
  }

  // The Permit's params are what the decision was made on: pay exactly those.
  try {
    const receipt = await bankTransfer(permit.params.to as string, permit.params.amount as number);
    await permit.complete(receipt);
    const how = permit.approver ? `approved by ${permit.approver}` : 'allowed by policy';
    console.log(`${invoice.id}: paid ${invoice.amount} to ${invoice.to} (${how}) — ${receipt.payment_id}`);
  } catch (err) {
    await permit.fail(err).catch(() => undefined);
    throw err;
  }
}

try {
  for (const invoice of invoices) await pay(invoice);
} catch (err) {
  console.error(`payment agent failed: ${err instanceof HoldpointError ? `${err.code}: ` : ''}${(err as Error).message}`);
  process.exit(1);
}
