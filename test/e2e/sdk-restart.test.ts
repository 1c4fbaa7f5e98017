// The SDK's wait survives the server dying under it: the real `holdpoint start`
// is SIGKILLed while guard() long-polls, restarted on the same port, the
// approval is decided, and the same guard() call resolves to a Permit.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Holdpoint, type Approval } from '../../src/sdk/index.ts';
import { createProcessFixture, runCli, type ProcessFixture, type Proc } from '../helpers/processes.ts';
import { waitFor } from '../helpers/receiver.ts';

let fx: ProcessFixture;
let env: Record<string, string>;
let base: string;
let running: Proc | undefined;

beforeEach(async () => {
  fx = await createProcessFixture();
  ({ env, base } = fx);
});

afterEach(async () => {
  await running?.kill('SIGKILL');
  running = undefined;
  await fx.close();
});

const start = () => fx.start();

describe('SDK across a server crash', () => {
  it('guard with wait keeps waiting through SIGKILL and restart, then resolves to a Permit when approved', async () => {
    running = await start();
    const created = await runCli(['tenant', 'create', 'sdk-crash', '--json'], env);
    expect(created.code).toBe(0);
    const keys = (JSON.parse(created.stdout) as { api_keys: { agent: string; approver: string; admin: string } }).api_keys;
    const tenantId = (JSON.parse(created.stdout) as { tenant_id: string }).tenant_id;
    const alice = await runCli(['approver', 'add', 'alice', '--tenant', tenantId, '--json'], env);
    expect(alice.code, alice.stderr).toBe(0);
    const aliceKey = (JSON.parse(alice.stdout) as { api_key: string }).api_key;
    const put = await fetch(`${base}/v1/policy`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${keys.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ defaults: { decision: 'require_approval', timeout_seconds: 120 } }),
    });
    expect(put.status).toBe(200);

    // The real fetch, counting what failed on the way: the restart must have been felt.
    let failed = 0;
    let polls = 0;
    const hp = new Holdpoint({
      baseUrl: base,
      apiKey: keys.agent,
      retries: 2,
      fetch: async (input, init) => {
        if (String(input).includes('?wait=')) polls++;
        try {
          return await fetch(input, init);
        } catch (err) {
          failed++;
          throw err;
        }
      },
    });
    const guarded = hp.guard('payment.send', { idempotencyKey: 'crash-pay-1', params: { amount: 5000 }, wait: 60_000 });
    const caught = guarded.catch((e: unknown) => e);

    const approver = { authorization: `Bearer ${keys.approver}`, 'content-type': 'application/json' };
    const approval = await waitFor(async () => {
      const r = await fetch(`${base}/v1/approvals/by-key/crash-pay-1`, { headers: approver });
      return r.status === 200 ? ((await r.json()) as Approval) : undefined;
    }, { what: 'the parked approval' });
    await waitFor(() => polls > 0, { what: 'the SDK long-poll' });
    await new Promise((r) => setTimeout(r, 300));

    expect(await running.kill('SIGKILL')).toBe('SIGKILL');
    running = undefined;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(failed).toBeGreaterThan(0);
    running = await start();

    const decided = await fetch(`${base}/v1/approvals/${approval.id}/decision`, {
      method: 'POST',
      headers: { ...approver, authorization: `Bearer ${aliceKey}` },
      body: JSON.stringify({ decision: 'approve', reason: 'after the crash' }),
    });
    expect(decided.status).toBe(200);

    const permit = await guarded;
    expect(permit).toMatchObject({ approvalId: approval.id, approver: 'alice', params: { amount: 5000 } });
    expect(permit.claimToken).toBeTruthy();
    await permit.complete({ payment_id: 'pay_crash' });
    expect(await hp.getApproval(approval.id)).toMatchObject({ status: 'completed', result: { payment_id: 'pay_crash' } });
    expect(await caught).toBe(permit);
  });
});
