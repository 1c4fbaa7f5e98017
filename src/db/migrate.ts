// Numbered plain-SQL migrations, each run once, in order, in one transaction
// under a session-wide advisory lock, ledger row first (graphile-worker's way).
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Sql } from './client.ts';

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));
const LOCK_KEY = 7_406_190_331; // arbitrary, fixed: "holdpoint migrations"

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
}

export async function listMigrations(dir = SQL_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f));
  return files.sort();
}

export async function migrate(sql: Sql, dir = SQL_DIR): Promise<MigrationResult> {
  const files = await listMigrations(dir);
  return sql.begin(async (tx) => {
    // Transaction-scoped lock: two concurrent migrates queue up, the second sees
    // every file already in the ledger.
    await tx`SELECT pg_advisory_xact_lock(${LOCK_KEY})`;
    await tx`CREATE TABLE IF NOT EXISTS holdpoint_migrations (
      name text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
    const done = new Set((await tx<{ name: string }[]>`SELECT name FROM holdpoint_migrations`).map((r) => r.name));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      await tx`INSERT INTO holdpoint_migrations (name) VALUES (${file})`;
      await tx.file(path.join(dir, file));
      applied.push(file);
    }
    return { applied, alreadyApplied: files.filter((f) => done.has(f)) };
  });
}
