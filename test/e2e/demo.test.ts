import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.ts';
import { REDIS_URL, currentRun } from '../helpers/env.ts';
import { deleteKeys } from '../helpers/test-run.ts';
import { createSql } from '../../src/db/client.ts';
import { runCli } from '../helpers/processes.ts';

const PREFIX = `${currentRun().prefix}demo_${process.pid}`;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
  await deleteKeys(REDIS_URL, `${PREFIX}:*`, () => true);
});

it('holdpoint demo walks a newcomer through a full round trip, and every step holds', async () => {
  const r = await runCli(['demo'], { DATABASE_URL: db.url, REDIS_URL, HOLDPOINT_QUEUE_PREFIX: PREFIX, SLACK_BOT_TOKEN: '', LOG_LEVEL: 'warn' });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/pay 20: +allowed/);
  expect(r.stdout).toMatch(/drop a database: denied \(Dropping databases is never allowed\)/);
  expect(r.stdout).toContain('set SLACK_BOT_TOKEN to post it');
  expect(r.stdout).toContain('[ Approve ]  [ Reject ]');
  expect(r.stdout).toContain('signature verified with standardwebhooks');
  expect(r.stdout).toContain('a second claim is refused (claim_conflict)');
  expect(r.stdout).toContain('hash chain intact');
  expect(r.stdout).toMatch(/#5 completed/);
  // It says what it leaves behind, and leaves nothing usable: every key of the demo tenant is revoked.
  const [, tenantId] = r.stdout.match(/The demo tenant ([0-9a-f-]{36}) stays, because its audit trail is append-only; its \d+ keys are revoked/) ?? [];
  expect(tenantId).toBeTruthy();
  const sql = createSql(db.url, { max: 1 });
  try {
    const [row] = await sql<{ live: number }[]>`SELECT count(*)::int AS live FROM api_keys WHERE tenant_id = ${tenantId!} AND revoked_at IS NULL`;
    expect(row!.live).toBe(0);
  } finally {
    await sql.end();
  }
}, 60_000);
