// Migration 0006 on a database that already has keys: a key bound to a
// person keeps deciding as that person (who becomes an approver); a key bound
// to a name the engine writes loses the binding, so it cannot pose as Slack or
// the system any more.
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/client.ts';
import { migrate, SQL_DIR } from '../../src/db/migrate.ts';
import { ADMIN_DATABASE_URL, currentRun, databaseUrl } from '../helpers/env.ts';

const name = `${currentRun().prefix}mig_${randomBytes(5).toString('hex')}`;
let sql: Sql;
let before: string;

beforeAll(async () => {
  const admin = createSql(ADMIN_DATABASE_URL, { max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  sql = createSql(databaseUrl(name), { max: 2 });
  before = await mkdtemp(path.join(tmpdir(), 'hp-mig-'));
  for (const f of await readdir(SQL_DIR)) if (f < '0006') await cp(path.join(SQL_DIR, f), path.join(before, f));
});

afterAll(async () => {
  await sql.end();
  await rm(before, { recursive: true, force: true });
  const admin = createSql(ADMIN_DATABASE_URL, { max: 1 });
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
});

it('keeps people bound to their keys and strips engine names from old bindings', async () => {
  await migrate(sql, before);
  const [t] = await sql<{ id: string }[]>`INSERT INTO tenants (name, webhook_secret) VALUES ('old', 'whsec_x') RETURNING id`;
  const bind = (approver: string | null, n: number) =>
    sql`INSERT INTO api_keys (tenant_id, role, key_hash, prefix, approver) VALUES (${t!.id}, 'approver', ${Buffer.from([n])}, ${`hp_approver_${n}`}, ${approver})`;
  await bind('alice@example.com', 1);
  await bind('slack:U0CEO', 2);
  await bind('system', 3);
  await bind(null, 4);

  const r = await migrate(sql);
  expect(r.applied).toContain('0006_identities.sql');
  const people = await sql<{ name: string }[]>`SELECT name FROM approvers WHERE tenant_id = ${t!.id} ORDER BY name`;
  expect(people.map((p) => p.name)).toEqual(['alice@example.com']);
  const keys = await sql<{ prefix: string; approver: string | null }[]>`SELECT prefix, approver FROM api_keys ORDER BY prefix`;
  expect(keys).toEqual([
    { prefix: 'hp_approver_1', approver: 'alice@example.com' },
    { prefix: 'hp_approver_2', approver: null },
    { prefix: 'hp_approver_3', approver: null },
    { prefix: 'hp_approver_4', approver: null },
  ]);
  // And the table refuses an engine name outright.
  await expect(sql`INSERT INTO approvers (tenant_id, name) VALUES (${t!.id}, 'slack:U1')`).rejects.toThrow(/approvers_name_check|check constraint/);
});
