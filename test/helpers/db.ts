import { randomBytes } from 'node:crypto';
import { createSql } from '../../src/db/client.ts';
import { ADMIN_DATABASE_URL, TEMPLATE_DB, databaseUrl } from './env.ts';

/** A fresh database for one test file, cloned from the migrated template. */
export async function createTestDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `hp_test_${randomBytes(6).toString('hex')}`;
  const admin = createSql(ADMIN_DATABASE_URL, { max: 1 });
  try {
    // Concurrent clones of one template can collide briefly; retry.
    for (let i = 0; ; i++) {
      try {
        await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DB}`);
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
