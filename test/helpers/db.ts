import { randomBytes } from 'node:crypto';
import { createSql } from '../../src/db/client.ts';
import { ADMIN_DATABASE_URL, currentRun, databaseUrl, type TestRun } from './env.ts';

/** A fresh database for one test file, cloned from this run's migrated template; named under the run's prefix. */
export async function createTestDatabase(run: TestRun = currentRun()): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `${run.prefix}${randomBytes(6).toString('hex')}`;
  const admin = createSql(ADMIN_DATABASE_URL, { max: 1 });
  try {
    // Concurrent clones of one template can collide briefly; retry.
    for (let i = 0; ; i++) {
      try {
        await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE ${run.template}`);
        break;
      } catch (err) {
        if (i >= 20) throw err;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  return {
    name,
    url: databaseUrl(name),
    async drop() {
      const a = createSql(ADMIN_DATABASE_URL, { max: 1 });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
