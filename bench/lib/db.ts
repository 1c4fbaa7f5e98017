// Databases for a bench run: one migrated template per run, a fresh clone per
// scenario side, every one dropped at the end (and on Ctrl-C).
import postgres from 'postgres';
import { migrate } from '../../src/db/migrate.ts';
import type { Sql } from '../../src/db/client.ts';
import { ADMIN_DB, RUN_ID } from './config.ts';

export function connect(url: string, max = 4): Sql {
  return postgres(url, {
    max,
    idle_timeout: 10,
    connect_timeout: 10,
    types: { bigint: postgres.BigInt },
    onnotice: () => {},
    connection: { application_name: 'holdpoint-bench' },
  }) as unknown as Sql;
}

export function dbUrl(name: string): string {
  const u = new URL(ADMIN_DB);
  u.pathname = `/${name}`;
  return u.toString();
}

const created = new Set<string>();
let template: Promise<string> | undefined;
let counter = 0;

async function admin<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = connect(ADMIN_DB, 1);
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function ensureTemplate(): Promise<string> {
  template ??= (async () => {
    const name = `${RUN_ID}_tpl`;
    await admin((sql) => sql.unsafe(`CREATE DATABASE ${name}`));
    created.add(name);
    const sql = connect(dbUrl(name), 1);
    try {
      await migrate(sql);
    } finally {
      await sql.end({ timeout: 5 });
    }
    return name;
  })();
  return template;
}

/** A fresh, migrated, empty database. */
export async function freshDatabase(label: string): Promise<{ name: string; url: string }> {
  const tpl = await ensureTemplate();
  const name = `${RUN_ID}_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${++counter}`;
  await admin((sql) => sql.unsafe(`CREATE DATABASE ${name} TEMPLATE ${tpl}`));
  created.add(name);
  return { name, url: dbUrl(name) };
}

export async function dropDatabase(name: string): Promise<void> {
  await admin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  created.delete(name);
}

export async function dropAllDatabases(): Promise<void> {
  for (const name of [...created].reverse()) {
    await dropDatabase(name).catch((err) => console.error(`could not drop ${name}: ${(err as Error).message}`));
  }
}
