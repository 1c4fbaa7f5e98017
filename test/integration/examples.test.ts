// Every example, run for real (through tsx, as the README says) against the
// app served on a loopback port with examples/policy.yaml; approvals are
// decided through the API while the example waits, and the assertions are on
// what it prints and how it exits.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Approval } from '../../src/sdk/index.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { freePort, ROOT } from '../helpers/processes.ts';
import { waitFor } from '../helpers/receiver.ts';

let h: Harness;
let t: TenantKeys;
let base: string;

beforeAll(async () => {
  h = await createHarness({ workers: true });
  t = await h.tenant();
  await h.setPolicy(t, YAML.parse(readFileSync(path.join(ROOT, 'examples/policy.yaml'), 'utf8')));
  base = await h.listen();
});

afterAll(async () => {
  await h.close();
});

/** Runs `examples/<file>` with tsx, pointed at the served app with the tenant's agent key. */
function example(file: string, env: Record<string, string> = {}) {
  const proc = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join('examples', file)], {
    cwd: ROOT,
    env: { ...process.env, HOLDPOINT_URL: base, HOLDPOINT_API_KEY: t.agent, WAIT_SECONDS: '20', ...env },
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((r) => proc.once('exit', (code, sig) => r(code ?? sig ?? -1)));
  return {
    proc,
    output: () => out,
    exited,
    /** The first match of `re` in the output so far, once there is one. */
    line: (re: RegExp) =>
      waitFor(() => out.match(re), { timeout: 15_000, what: `${re} in the output of ${file}` }).catch((err: Error) => {
        throw new Error(`${err.message}; it printed:\n${out}`);
      }),
  };
}

const decide = async (id: string, decision: 'approve' | 'reject', approver: string, reason?: string) => {
  const r = await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, approver), { decision, ...(reason ? { reason } : {}) });
  expect(r.status).toBe(200);
};

const UUID = '[0-9a-f-]{36}';

describe('examples/payment-agent.ts', () => {
  it('pays the small invoice at once, waits on the big one, and pays it after the approval', async () => {
    const ex = example('payment-agent.ts');
    const [, id] = await ex.line(new RegExp(`inv-1001: 5000 to acct_42 needs approval — approval (${UUID})`));
    expect(ex.output()).toMatch(/inv-1000: paid 20 to acct_7 \(allowed by policy\) — pay_\w+/);
    await decide(id!, 'approve', 'alice');
    expect(await ex.exited).toBe(0);
    expect(ex.output()).toMatch(/inv-1001: paid 5000 to acct_42 \(approved by alice\) — pay_\w+/);
    const a = (await h.call('GET', `/v1/approvals/${id}`, t.agent)).body as Approval;
    expect(a).toMatchObject({ status: 'completed', agent_id: 'billing-bot', result: { to: 'acct_42', amount: 5000 } });
  });
});

describe('examples/blocking-agent.ts', () => {
  it('blocks until the refund is approved, then refunds once and exits 0', async () => {
    const ex = example('blocking-agent.ts', { ORDER_ID: 'ord-ok' });
    await ex.line(/blocking until a human decides/);
    const a = await waitFor(async () => {
      const r = await h.call('GET', '/v1/approvals/by-key/refund-ord-ok', t.agent);
      return r.status === 200 ? (r.body as Approval) : undefined;
    });
    expect(a).toMatchObject({ action: 'payment.refund', status: 'pending', params: { order: 'ord-ok', amount: 2500 } });
    await decide(a.id, 'approve', 'bob');
    expect(await ex.exited).toBe(0);
    expect(ex.output()).toContain('approved by bob: refunding');
    expect(ex.output()).toMatch(/refunded 2500 for ord-ok — re_\w+/);
    expect((await h.call('GET', `/v1/approvals/${a.id}`, t.agent)).body).toMatchObject({ status: 'completed' });
  });

  it('says who rejected it and why, and exits 1 without refunding', async () => {
    const ex = example('blocking-agent.ts', { ORDER_ID: 'ord-no' });
    await ex.line(/blocking until a human decides/);
    const a = await waitFor(async () => {
      const r = await h.call('GET', '/v1/approvals/by-key/refund-ord-no', t.agent);
      return r.status === 200 ? (r.body as Approval) : undefined;
    });
    await decide(a.id, 'reject', 'carol', 'refund already sent by hand');
    expect(await ex.exited).toBe(1);
    expect(ex.output()).toContain('not refunded: rejected by carol: refund already sent by hand');
    expect(ex.output()).not.toContain('refunding');
  });
});

describe('examples/webhook-resume.ts', () => {
  it('parks the job, resumes it on the signed approval.approved webhook, and ignores forgeries and duplicates', async () => {
    const port = await freePort();
    const ex = example('webhook-resume.ts', { WEBHOOK_SECRET: t.webhook_secret, PORT: String(port) });
    try {
      const [, id] = await ex.line(new RegExp(`inv-2001: parked — approval (${UUID})`));
      await ex.line(new RegExp(`webhook approval.requested for approval ${id}`));

      // A forged delivery is refused; a genuine one sent twice is handled once.
      const hook = `http://127.0.0.1:${port}/hook`;
      const forged = await fetch(hook, { method: 'POST', headers: { 'webhook-id': 'evt_x', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA' }, body: '{}' });
      expect(forged.status).toBe(400);
      const body = JSON.stringify({ type: 'approval.requested', id: 'evt_dup', created_at: new Date().toISOString(), data: { id, idempotency_key: 'other', status: 'pending', decided_by: null } });
      const at = new Date();
      const headers = { 'webhook-id': 'evt_dup', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(t.webhook_secret).sign('evt_dup', at, body) };
      expect((await fetch(hook, { method: 'POST', headers, body })).status).toBe(204);
      expect((await fetch(hook, { method: 'POST', headers, body })).status).toBe(204);
      await ex.line(/webhook evt_dup: duplicate, ignored/);

      await decide(id!, 'approve', 'alice');
      await ex.line(/inv-2001: resumed and paid 5000 to acct_42 \(approved by alice\) — pay_\w+/);
      expect(ex.output()).toContain('refused a delivery');
      expect(ex.output()).toMatch(new RegExp(`webhook approval.approved for approval ${id} by alice`));
      const a = await waitFor(async () => {
        const r = (await h.call('GET', `/v1/approvals/${id}`, t.agent)).body as Approval;
        return r.status === 'completed' ? r : undefined;
      });
      expect(a.result).toMatchObject({ to: 'acct_42', amount: 5000 });
      expect(ex.output().match(/resumed and paid/g)).toHaveLength(1);
    } finally {
      ex.proc.kill('SIGTERM');
      expect(await ex.exited).toBe(0);
    }
    expect(ex.output()).toContain('stopping (0 job(s) still parked)');
  });
});
