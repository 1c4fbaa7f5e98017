// Reporting through the SDK against the real app on a loopback port: what an
// action cost and took reaches the decision log (check → report, allowed
// permits) or the approval's audit trail (claimed permits), the reported
// cost is what the budget spends, withGuard measures the duration itself,
// and guard's positional form parks the same approval as the options form.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Holdpoint, InvalidRequest, type Approval, type HoldpointOptions } from '../../src/sdk/index.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

let h: Harness;
let t: TenantKeys;
let base: string;
let n = 0;
const key = (what: string) => `rep-${what}-${++n}`;

const POLICY = {
  defaults: { decision: 'allow', min_timeout_seconds: 1 },
  rules: [
    { name: 'ask-pay', match: { action: 'pay.*' }, decision: 'require_approval', reason: 'Payments need a human' },
    { name: 'ask-delete', match: { action: 'database.delete' }, decision: 'require_approval', reason: 'Deletes need a human' },
  ],
  guards: { budget: { cost_table: { 'pay.*': 3, 'llm.*': 1 }, per_agent: { day: 10 } } },
};

beforeAll(async () => {
  h = await createHarness({ workers: true });
  t = await h.tenant();
  await h.setPolicy(t, POLICY);
  base = await h.listen();
});
afterAll(() => h.close());

/** A client whose requests are counted, so a test can say nothing was sent. */
function counted(o: HoldpointOptions = {}) {
  const sent: string[] = [];
  const hp = new Holdpoint({
    baseUrl: base,
    apiKey: t.agent,
    retryDelayMs: 10,
    agentId: 'bot',
    fetch: (input, init) => {
      sent.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
      return fetch(input, init);
    },
    ...o,
  });
  return { hp, sent };
}

const decisionRow = async (id: string | null) => {
  const [row] = await h.rt.sql<{ report_status: string | null; report_result: unknown; report_cost_usd: string | null; report_duration_ms: number | null }[]>`
    SELECT report_status, report_result, report_cost_usd, report_duration_ms FROM decisions WHERE id = ${id}`;
  return row!;
};

const approve = async (id: string) => {
  const r = await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
  expect(r.status).toBe(200);
};

const spent = async (agent = 'bot') => (await h.call('GET', `/v1/usage?agent_id=${agent}`, t.agent)).body.budgets[0].spent_usd as number;

describe('client.report', () => {
  it('closes a check decision with its result, duration and cost, and a second report is refused', async () => {
    const { hp } = counted();
    const d = await hp.check('email.send', { params: { to: 'a@example.com' } });
    expect(d.allowed).toBe(true);
    await hp.report(d, { status: 'success', result: { message_id: 'm1' }, durationMs: 84, costUsd: 0.25 });
    expect(await decisionRow(d.decisionId)).toEqual({ report_status: 'completed', report_result: { message_id: 'm1' }, report_cost_usd: '0.25', report_duration_ms: 84 });
    await expect(hp.report(d, { status: 'completed' })).rejects.toMatchObject({ code: 'invalid_state' });
  });

  it('reports a failure with the error as {name, message}, by decision id too', async () => {
    const { hp } = counted();
    const d = await hp.check('email.send', { params: { to: 'b@example.com' } });
    await hp.report(d.decisionId!, { status: 'error', error: new RangeError('mailbox full'), durationMs: 12.6 });
    expect(await decisionRow(d.decisionId)).toEqual({ report_status: 'failed', report_result: { name: 'RangeError', message: 'mailbox full' }, report_cost_usd: null, report_duration_ms: 13 });
  });

  it('the reported cost is what the budget spends, not the estimate it reserved', async () => {
    const { hp } = counted({ agentId: 'reporter' });
    const d = await hp.check('llm.call', { costUsd: 4 });
    expect(d.allowed).toBe(true);
    await hp.report(d, { status: 'completed', costUsd: 1.5 });
    expect(await spent('reporter')).toBe(1.5);
  });

  it('refuses a bad status, cost or duration before anything is sent, and never on a failed-open decision', async () => {
    const { hp, sent } = counted();
    const d = await hp.check('email.send');
    const before = sent.length;
    await expect(hp.report(d, { status: 'done' as 'success' })).rejects.toBeInstanceOf(InvalidRequest);
    await expect(hp.report(d, { status: 'success', costUsd: -1 })).rejects.toMatchObject({ code: 'validation_failed', details: { path: 'costUsd' } });
    await expect(hp.report(d, { status: 'success', durationMs: Number.NaN })).rejects.toMatchObject({ details: { path: 'durationMs' } });
    await expect(hp.report(d, { status: 'success', result: { n: 10n } })).rejects.toBeInstanceOf(InvalidRequest);
    await hp.report({ ...d, failedOpen: true, decisionId: null }, { status: 'success' });
    expect(sent.length).toBe(before);
    expect((await decisionRow(d.decisionId)).report_status).toBeNull();
  });
});

describe('permit reports with cost and duration', () => {
  it('an allowed permit sends them to /v1/report', async () => {
    const { hp } = counted();
    const permit = await hp.guard('email.send', { idempotencyKey: key('allow'), params: { to: 'c@example.com' } });
    await permit.complete({ sent: true }, { costUsd: 0.75, durationMs: 40 });
    expect(await decisionRow(permit.decisionId)).toMatchObject({ report_status: 'completed', report_cost_usd: '0.75', report_duration_ms: 40 });
  });

  it('a claimed permit sends them with complete, onto the audit trail, and the budget spends the reported cost', async () => {
    const { hp } = counted({ agentId: 'payer' });
    const k = key('claimed');
    await expect(hp.guard('pay.send', { idempotencyKey: k, params: { amount: 5 } })).rejects.toMatchObject({ code: 'approval_pending' });
    expect(await spent('payer')).toBe(3); // the cost table's estimate, held while a human decides
    const parked = await hp.getApprovalByKey(k);
    await approve(parked.id);
    const permit = await hp.guard('pay.send', { idempotencyKey: k, params: { amount: 5 } });
    await permit.complete({ ok: true }, { costUsd: 2.25, durationMs: 840 });
    const ev = await h.call('GET', `/v1/approvals/${permit.approvalId}/events`, t.agent);
    expect(ev.body.events.at(-1)).toMatchObject({ type: 'completed', data: { result: { ok: true }, cost_usd: 2.25, duration_ms: 840 } });
    expect(await spent('payer')).toBe(2.25);
    // And on the approval's decision, where the decision log keeps reports.
    expect(await decisionRow(permit.decisionId)).toMatchObject({ report_status: 'completed', report_cost_usd: '2.25', report_duration_ms: 840 });
  });

  it('a claimed permit sends them with fail too', async () => {
    const { hp } = counted({ agentId: 'failer' });
    const k = key('fail');
    await expect(hp.guard('pay.send', { idempotencyKey: k })).rejects.toMatchObject({ code: 'approval_pending' });
    await approve((await hp.getApprovalByKey(k)).id);
    const permit = await hp.guard('pay.send', { idempotencyKey: k });
    await permit.fail(new Error('bank down'), { costUsd: 0.5, durationMs: 7 });
    const ev = await h.call('GET', `/v1/approvals/${permit.approvalId}/events`, t.agent);
    expect(ev.body.events.at(-1)).toMatchObject({ type: 'failed', data: { error: { name: 'Error', message: 'bank down' }, cost_usd: 0.5, duration_ms: 7 } });
  });

  it('a bad cost is refused before anything is sent, and the permit can still report', async () => {
    const { hp, sent } = counted();
    const permit = await hp.guard('email.send', { idempotencyKey: key('badcost') });
    const before = sent.length;
    await expect(permit.complete(undefined, { costUsd: Number.POSITIVE_INFINITY })).rejects.toBeInstanceOf(InvalidRequest);
    expect(sent.length).toBe(before);
    expect(permit.reported).toBe(false);
    await permit.complete();
    expect(permit.reported).toBe(true);
  });
});

describe('withGuard and guarded measure the duration', () => {
  it('withGuard reports how long fn ran, on success', async () => {
    const { hp } = counted();
    let decisionId: string | null = null;
    await hp.withGuard('email.send', { idempotencyKey: key('timed') }, async (permit) => {
      decisionId = permit.decisionId;
      await new Promise((r) => setTimeout(r, 60));
    });
    const row = await decisionRow(decisionId);
    expect(row.report_status).toBe('completed');
    expect(row.report_duration_ms).toBeGreaterThanOrEqual(50);
  });

  it('guarded reports it on failure too', async () => {
    const { hp } = counted();
    const k = key('guarded');
    const boom = hp.guarded(
      'email.send',
      async (_to: string) => {
        await new Promise((r) => setTimeout(r, 30));
        throw new Error('smtp down');
      },
      { idempotencyKey: (to) => `${k}-${to}` },
    );
    await expect(boom('ops')).rejects.toThrow('smtp down');
    // fn never sees the permit here: find the decision by the key guarded sent.
    const [row] = await h.rt.sql<{ report_status: string; report_duration_ms: number }[]>`
      SELECT report_status, report_duration_ms FROM decisions WHERE idempotency_key = ${`${k}-ops`}`;
    expect(row!.report_status).toBe('failed');
    expect(row!.report_duration_ms).toBeGreaterThanOrEqual(20);
  });
});

describe('guard, positional form', () => {
  it("guard(action, params, key) parks the same approval as the options form, and permit.complete() closes it (HaltState's quickstart)", async () => {
    const { hp } = counted({ agentId: 'ops' });
    const k = key('delete-user-123');
    const pending = await hp.guard('database.delete', { table: 'users', id: 123 }, k).catch((e: unknown) => e);
    expect(pending).toMatchObject({ code: 'approval_pending' });
    const a = (pending as { approval: Approval }).approval;
    expect(a).toMatchObject({ action: 'database.delete', params: { table: 'users', id: 123 }, idempotency_key: k, agent_id: 'ops' });
    await approve(a.id);
    // The options form with the same key finds the same approval (a different request would be 422).
    const permit = await hp.guard('database.delete', { idempotencyKey: k, params: { table: 'users', id: 123 } });
    expect(permit.approvalId).toBe(a.id);
    await permit.complete();
    expect((await hp.getApproval(a.id)).status).toBe('completed');
  });

  it('takes the rest of the options as a fourth argument', async () => {
    const { hp } = counted();
    const k = key('positional-wait');
    const waiting = hp.guard('database.delete', { table: 'orders', id: 9 }, k, { wait: 20_000, agentId: 'ops' });
    let a: Approval | undefined;
    for (let i = 0; i < 200 && !a; i++) {
      const r = await h.call('GET', `/v1/approvals/by-key/${k}`, t.agent);
      if (r.status === 200) a = r.body as Approval;
      else await new Promise((res) => setTimeout(res, 25));
    }
    expect(a?.agent_id).toBe('ops');
    await approve(a!.id);
    const permit = await waiting;
    expect(permit.approver).toBe('alice');
    await permit.complete();
  });

  it('a non-string third argument is refused before anything is sent', async () => {
    const { hp, sent } = counted();
    const bad = hp.guard as unknown as (a: string, p: unknown, k: unknown) => Promise<unknown>;
    await expect(bad.call(hp, 'database.delete', { id: 1 }, 123)).rejects.toMatchObject({ code: 'idempotency_key_missing' });
    await expect(bad.call(hp, 'database.delete', 'not params', 'k-1')).rejects.toBeInstanceOf(InvalidRequest);
    // Without a third argument the second is the options object: a params object there has no key, and nothing is guessed.
    await expect(bad.call(hp, 'database.delete', { table: 'users', id: 123 }, undefined)).rejects.toMatchObject({ code: 'idempotency_key_missing' });
    expect(sent).toEqual([]);
  });
});
