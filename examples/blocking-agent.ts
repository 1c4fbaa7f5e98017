// An agent that blocks until a human decides. `withGuard` with `wait` parks
// the refund, long-polls until someone approves or rejects it (through
// Holdpoint restarts and network blips), then runs it once and reports the
// result — or throws why not. With examples/policy.yaml a refund over 1000
// needs a human.
//
//   HOLDPOINT_API_KEY=<agent key> npx tsx examples/blocking-agent.ts
//
// Env: HOLDPOINT_URL (default http://localhost:8080), HOLDPOINT_API_KEY (an
// agent key), ORDER_ID (default: a random one), AMOUNT (default 2500),
// WAIT_SECONDS (default 600). Exit code 0 when refunded, 1 when a human said
// no or nobody answered in time, 2 when misconfigured.
import { randomUUID } from 'node:crypto';
// In your own project: import { Holdpoint, ... } from 'holdpoint/client';
import { ActionRejected, ActionTimeout, ApprovalPending, Holdpoint } from '../src/sdk/index.ts';

const baseUrl = process.env.HOLDPOINT_URL ?? 'http://localhost:8080';
const apiKey = process.env.HOLDPOINT_API_KEY;
if (!apiKey) {
  console.error('set HOLDPOINT_API_KEY to an agent key (holdpoint tenant create prints one)');
  process.exit(2);
}
const hp = new Holdpoint({ baseUrl, apiKey, agentId: 'support-bot' });
const order = process.env.ORDER_ID ?? `ord-${randomUUID().slice(0, 8)}`;
const amount = Number(process.env.AMOUNT ?? 2500);
const waitMs = Number(process.env.WAIT_SECONDS ?? 600) * 1000;
// Keyed on the order: if this process dies and restarts, it finds the same
// approval (decided or not) instead of asking twice.
const idempotencyKey = `refund-${order}`;

console.log(`refund ${amount} for ${order}: asking Holdpoint (idempotency key ${idempotencyKey}), blocking until a human decides`);
console.log(`  find it: curl ${baseUrl}/v1/approvals/by-key/${idempotencyKey} -H "Authorization: Bearer $HOLDPOINT_API_KEY"`);

try {
  const refund = await hp.withGuard('payment.refund', { idempotencyKey, params: { order, amount }, wait: waitMs }, async (permit) => {
    // Runs once, after the approval, on what was approved (permit.params); the result is reported as completed.
    console.log(`approved by ${permit.approver ?? 'policy'}: refunding`);
    return { refund_id: `re_${randomUUID().slice(0, 8)}`, order: permit.params.order as string, amount: permit.params.amount as number };
  });
  console.log(`refunded ${refund.amount} for ${refund.order} — ${refund.refund_id}`);
} catch (err) {
  if (err instanceof ActionRejected) {
    console.log(`not refunded: rejected by ${err.rejectedBy}${err.reason ? `: ${err.reason}` : ''}`);
  } else if (err instanceof ActionTimeout) {
    console.log(`not refunded: nobody decided before ${err.expiresAt.toISOString()}`);
  } else if (err instanceof ApprovalPending) {
    console.log(`not refunded yet: still waiting for approval ${err.approvalId} after ${waitMs / 1000} s; run again to keep waiting`);
  } else {
    throw err;
  }
  process.exitCode = 1;
}
