// `holdpoint demo`: a full round trip a newcomer can watch, in one process —
// a tenant and a policy, an allowed and a parked action, the Slack message
// approvers see (printed, when no Slack token is set), an approval, the signed
// webhook it sends, the exactly-once claim, and the hash-chained audit trail.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { Config } from './config.ts';
import { ROLES, insertKey } from './db/keys.ts';
import { insertTenant } from './db/tenants.ts';
import { addApprover } from './identities/approvers.ts';
import type { Logger } from './log.ts';
import { createWorkerConnection } from './queue/connection.ts';
import { createRuntime } from './runtime.ts';
import { approvalMessage } from './slack/blocks.ts';
import { previewBlocks } from './slack/preview.ts';
import { startWorkers } from '../workers/main.ts';

const POLICY = {
  defaults: { decision: 'allow', slack_channel: '#approvals' },
  rules: [
    { name: 'never-drop', match: { action: 'database.drop*' }, decision: 'deny', reason: 'Dropping databases is never allowed' },
    {
      name: 'big-payments',
      match: { action: 'payment.*', when: { 'params.amount': { gt: 1000 } } },
      decision: 'require_approval',
      reason: 'Payments over 1000 need a human',
      approval: { timeout_seconds: 600 },
    },
  ],
};

export async function runDemo(config: Config, log: Logger, out: (line: string) => void): Promise<void> {
  // The demo's webhook receiver is on loopback, so it may always be reached.
  const rt = createRuntime({ ...config, HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: true }, log);
  const conn = createWorkerConnection(config.REDIS_URL);
  conn.on('error', () => undefined);
  const workers = await startWorkers({ ...rt, config: { ...rt.config, HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: true }, connection: conn });
  const received: { type: string; verified: boolean; status: string }[] = [];
  let secret = '';
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      let verified = false;
      let parsed: { type: string; data: { status: string } } = { type: '?', data: { status: '?' } };
      try {
        parsed = new Webhook(secret).verify(body, req.headers as Record<string, string>) as typeof parsed;
        verified = true;
      } catch {
        parsed = JSON.parse(body) as typeof parsed;
      }
      received.push({ type: parsed.type, verified, status: parsed.data.status });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const waitFor = async (type: string) => {
    for (let i = 0; i < 200 && !received.some((r) => r.type === type); i++) await new Promise((r) => setTimeout(r, 25));
    return received.find((r) => r.type === type);
  };

  try {
    const tenant = await rt.sql.begin(async (tx) => {
      const t = await insertTenant(tx, rt.secrets, `demo ${new Date().toISOString()}`);
      for (const role of ROLES) await insertKey(tx, { tenant_id: t.id, role, name: 'demo' });
      return t;
    });
    secret = tenant.webhook_secret;
    await rt.policies.set(tenant.id, POLICY, null, 'demo');
    out(`1. Tenant "${tenant.name}" (${tenant.id}) with a policy: payments over 1000 need a human, database drops never happen.\n`);

    const small = await rt.service.guard(tenant.id, { action: 'payment.send', agent_id: 'billing-bot', params: { amount: 20 }, context: {}, idempotency_key: 'demo-small' });
    out(`2. The agent asks to pay 20:        ${small.status} (${(small.reasons[0] as { message: string }).message})`);
    const drop = await rt.service.guard(tenant.id, { action: 'database.drop_all', agent_id: 'ops-bot', params: {}, context: {}, idempotency_key: 'demo-drop' });
    out(`   The agent asks to drop a database: ${drop.status} (${(drop.reasons[0] as { message: string }).message})`);
    const big = await rt.service.guard(tenant.id, {
      action: 'payment.send',
      agent_id: 'billing-bot',
      params: { amount: 5000, currency: 'EUR', to: 'acct_42', memo: 'Invoice 1001' },
      context: {},
      idempotency_key: 'demo-big',
      callback_url: hook,
    });
    const approval = big.approval!;
    out(`   The agent asks to pay 5000:      ${big.status} — parked as approval ${approval.id}\n`);

    out(rt.slack ? `3. Posted to Slack ${approval.routing ? '#approvals' : ''}. This is the message:` : '3. This is the Slack message approvers would see (set SLACK_BOT_TOKEN to post it):');
    out(previewBlocks(approvalMessage(approval).blocks));
    out('');

    // alice is a person of the tenant, and her key decides as her (never a name in a request body).
    await addApprover(rt.sql, tenant.id, { name: 'alice', email: 'alice@example.com', key: true }, 'demo');
    await rt.service.decide(tenant.id, approval.id, { decision: 'approve', approver: 'alice', reason: 'invoice checked', channel: 'api' });
    const approved = await waitFor('approval.approved');
    out(`4. alice approves. The agent's webhook receives approval.approved (signature ${approved?.verified ? 'verified with standardwebhooks' : 'NOT verified'}).`);
    const after = await rt.service.get(tenant.id, approval.id);
    out('   The Slack message now reads:');
    out(previewBlocks(approvalMessage(after).blocks));
    out('');

    const claim = await rt.service.claim(tenant.id, approval.id, 'billing-bot');
    const again = await rt.service.claim(tenant.id, approval.id, 'billing-bot-2').then(
      () => 'granted (a bug!)',
      (err: Error & { code?: string }) => `refused (${err.code})`,
    );
    await rt.service.complete(tenant.id, approval.id, 'billing-bot', claim.claim_token, { payment_id: 'pay_1001' });
    out(`5. The agent claims the approved action (a second claim is ${again}), pays, and reports the result.\n`);

    const trail = await rt.service.events(tenant.id, approval.id);
    out(`6. The audit trail (${trail.chain.intact ? 'hash chain intact' : 'hash chain BROKEN'}):`);
    for (const e of trail.events) out(`   #${e.seq} ${e.type.padEnd(10)} by ${e.actor.padEnd(12)} via ${e.channel.padEnd(7)} ${e.hash?.slice(0, 16)}…`);
    // The demo's keys were never shown: revoke them, so the tenant left behind cannot be used.
    const revoked = await rt.sql`UPDATE api_keys SET revoked_at = now() WHERE tenant_id = ${tenant.id} AND revoked_at IS NULL`;
    out(`\nThe demo tenant ${tenant.id} stays, because its audit trail is append-only; its ${revoked.count} keys are revoked, so nothing can use it.`);
    out(`Try the same over HTTP: README.md, "Five-minute walkthrough".`);
  } finally {
    await workers.close(5_000);
    conn.disconnect();
    receiver.close();
    await rt.close();
  }
}
