// The worker dies between "approval created" and "Slack posted"; after a
// restart the message is posted exactly once — with Redis intact, and with
// Redis flushed while nothing ran (the reconciler re-adds the notify job).
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack.ts';
import { createProcessFixture, runCli, type ProcessFixture, type Proc } from '../helpers/processes.ts';
import { waitFor } from '../helpers/receiver.ts';

let fx: ProcessFixture;
let slack: FakeSlack;
let sql: Sql;
let env: Record<string, string>;
let base: string;
let redis: ProcessFixture['redis'];
let running: Proc | undefined;

beforeEach(async () => {
  slack = await startFakeSlack({ token: 'xoxb-e2e' });
  fx = await createProcessFixture({
    SLACK_BOT_TOKEN: 'xoxb-e2e',
    SLACK_SIGNING_SECRET: 'e2e-secret',
    SLACK_API_URL: slack.url,
    HOLDPOINT_RECONCILE_INTERVAL_MS: '1000',
  });
  ({ env, base, redis } = fx);
  sql = createSql(fx.db.url, { max: 2 });
});

afterEach(async () => {
  await running?.kill('SIGKILL');
  running = undefined;
  await sql.end();
  await slack.close();
  await fx.close();
});

const start = () => fx.start();

async function createPending(count: number): Promise<string[]> {
  const created = await runCli(['tenant', 'create', 'slack-crash', '--json'], env);
  const keys = (JSON.parse(created.stdout) as { api_keys: { agent: string; admin: string } }).api_keys;
  const headers = (k: string) => ({ authorization: `Bearer ${k}`, 'content-type': 'application/json' });
  await fetch(`${base}/v1/policy`, {
    method: 'PUT',
    headers: headers(keys.admin),
    body: JSON.stringify({ defaults: { decision: 'require_approval', slack_channel: '#approvals', timeout_seconds: 600 } }),
  });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await fetch(`${base}/v1/guard`, { method: 'POST', headers: headers(keys.agent), body: JSON.stringify({ action: 'payment.send', idempotency_key: `sc-${i}` }) });
    ids.push(((await r.json()) as { approval: { id: string } }).approval.id);
  }
  return ids;
}

async function assertPostedOnce(ids: string[]) {
  await waitFor(async () => {
    const rows = await sql<{ slack_ts: string | null }[]>`SELECT slack_ts FROM approvals`;
    return rows.every((r) => r.slack_ts);
    // A post that was running at the kill resumes when its lock lapses (≤ 15 s).
  }, { timeout: 30_000, what: 'every message stored' });
  // Let any stray retry land before counting.
  await new Promise((r) => setTimeout(r, 1_500));
  const stored = await sql<{ id: string; slack_ts: string }[]>`SELECT id, slack_ts FROM approvals`;
  for (const { id, slack_ts } of stored) {
    const ok = slack.callsTo('chat.postMessage').filter((c) => c.status === 200 && c.ok === true && JSON.stringify(c.args.blocks).includes(id));
    expect(ok.map((c) => c.ts)).toEqual([slack_ts]);
  }
  expect(stored.map((r) => r.id).sort()).toEqual([...ids].sort());
}

describe('Slack across a crash', () => {
  it('killed before Slack answered, restarted: each message is posted exactly once', async () => {
    slack.setDown(true);
    running = await start();
    const ids = await createPending(5);
    await slack.waitForCalls('chat.postMessage', 5);
    expect(await running.kill('SIGKILL')).toBe('SIGKILL');
    slack.setDown(false);
    running = await start();
    await assertPostedOnce(ids);
  });

  it('with Redis flushed while it was down, the reconciler re-adds the posts', async () => {
    slack.setDown(true);
    running = await start();
    const ids = await createPending(5);
    await slack.waitForCalls('chat.postMessage', 5);
    await running.kill('SIGKILL');
    const r = new Redis(redis.url);
    await r.flushall();
    r.disconnect();
    slack.setDown(false);
    running = await start();
    await assertPostedOnce(ids);
  });
});
