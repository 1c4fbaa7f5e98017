// Builds a migrated template database once per run; each test file clones it.
import { createSql } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { ADMIN_DATABASE_URL, TEMPLATE_DB, databaseUrl } from './env.ts';

export default async function setup() {
  const admin = createSql(ADMIN_DATABASE_URL, { max: 1 });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  const tpl = createSql(databaseUrl(TEMPLATE_DB), { max: 1 });
  try {
    await migrate(tpl);
  } finally {
    await tpl.end();
  }
}
