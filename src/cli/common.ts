// What every `holdpoint` command shares: usage and boot errors, reaching
// Postgres and Redis with one clear line when they are not there, printing.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { maskUrl, type Config } from '../config.ts';
import { createSql, type Sql } from '../db/client.ts';
import { isConnectionError } from '../db/errors.ts';
import { listMigrations, migrate } from '../db/migrate.ts';
import { resealSecrets, unknownSecretKeys } from '../db/secrets.ts';
import { type Keyring } from '../secrets/keyring.ts';
import { createProducerConnection, pingRedis } from '../queue/connection.ts';

export class UsageError extends Error {}
export class BootError extends Error {}


export const uuid = z.string().uuid('must be a tenant id (uuid)');

export async function connectPostgres(config: Config): Promise<Sql> {
  const sql = createSql(config.DATABASE_URL, { max: 4 });
  try {
    await sql`SELECT 1`;
    return sql;
  } catch (err) {
    await sql.end({ timeout: 1 }).catch(() => undefined);
    throw new BootError(postgresProblem(config.DATABASE_URL, err));
  }
}

/** One line that says what went wrong with Postgres: unreachable, refused us, or missing the database. */
export function postgresProblem(url: string, err: unknown): string {
  const why = err instanceof Error ? err.message || (err as { code?: string }).code : String(err);
  const code = (err as { code?: string }).code;
  const at = maskUrl(url);
  if (isConnectionError(err)) {
    return `cannot reach Postgres at ${at} (${why}). Start it with \`docker compose up -d postgres\` (or your local server), or set DATABASE_URL.`;
  }
  if (code === '3D000') return `reached Postgres at ${at}, but ${why}: \`holdpoint migrate\` (npm start runs it) creates it.`;
  if (code === '28000' || code === '28P01') {
    return `reached Postgres at ${at}, but it refused this login (${why}). Put a user and password that exist in DATABASE_URL (postgres://USER:PASSWORD@host:5432/holdpoint).`;
  }
  return `reached Postgres at ${at}, but it answered: ${why}. Check DATABASE_URL.`;
}

/**
 * On a fresh server the database does not exist yet: create it (through the
 * maintenance database), so `npm start` works on a new machine.
 */
export async function ensureDatabase(config: Config): Promise<void> {
  const target = createSql(config.DATABASE_URL, { max: 1 });
  try {
    await target`SELECT 1`;
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') return; // not "database does not exist": connectPostgres will explain
  } finally {
    await target.end({ timeout: 1 }).catch(() => undefined);
  }
  const url = new URL(config.DATABASE_URL);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = createSql(url.toString(), { max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    process.stdout.write(`created database ${name}\n`);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') {
      throw new BootError(`database ${name} does not exist and could not be created (${(err as Error).message}); create it, or point DATABASE_URL at one that exists.`);
    }
  } finally {
    await admin.end({ timeout: 1 }).catch(() => undefined);
  }
}

/** The database number in a redis:// URL (0 when none is given). */
export function redisDb(url: string): number {
  const n = new URL(url).pathname.replace(/^\//, '');
  return n === '' ? 0 : Number(n);
}

export async function checkRedis(config: Config): Promise<void> {
  // db 0 here: the SELECT below is what says whether the configured database exists.
  const u = new URL(config.REDIS_URL);
  u.pathname = '';
  const redis = createProducerConnection(u.toString(), { lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => undefined);
  const db = redisDb(config.REDIS_URL);
  try {
    try {
      await redis.connect();
      await pingRedis(redis, 3_000);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new BootError(
        `cannot reach Redis at ${maskUrl(config.REDIS_URL)} (${why}). Start it with \`docker compose up -d redis\` (or your local server), or set REDIS_URL.`,
      );
    }
    try {
      await redis.select(db);
    } catch (err) {
      const count = await redis.config('GET', 'databases').then((r) => Number((r as string[])[1]), () => NaN);
      const has = Number.isFinite(count) ? ` (it has ${count}: 0–${count - 1})` : '';
      throw new BootError(`Redis at ${maskUrl(config.REDIS_URL)} has no database ${db}${has}: ${(err as Error).message}. Pick one that exists in REDIS_URL.`);
    }
  } finally {
    redis.disconnect();
  }
}

export async function checkMigrated(sql: Sql): Promise<void> {
  const want = await listMigrations();
  let have: Set<string>;
  try {
    have = new Set((await sql<{ name: string }[]>`SELECT name FROM holdpoint_migrations`).map((r) => r.name));
  } catch {
    have = new Set();
  }
  const missing = want.filter((f) => !have.has(f));
  if (missing.length > 0) throw new BootError(`database is not migrated (missing ${missing.join(', ')}): run \`holdpoint migrate\` first (npm start does).`);
}

/**
 * The keyring, checked against what the database holds: a process whose key
 * cannot open the stored secrets refuses to start rather than sign with the
 * wrong one. Then seals any plaintext an older version left.
 */
export async function keyringFor(sql: Sql, secrets: Keyring): Promise<{ sealed: number }> {
  const unknown = await unknownSecretKeys(sql, secrets);
  if (unknown.length > 0) {
    throw new BootError(
      `secrets in the database are encrypted under key ${unknown.join(', ')}, which HOLDPOINT_SECRET_KEY (key ${secrets.currentKid}) and HOLDPOINT_SECRET_KEYS_OLD (${secrets.kids.slice(1).join(', ') || 'empty'}) do not hold: set the key they were encrypted with (every process needs the same key)`,
    );
  }
  const r = await resealSecrets(sql, secrets, { onlyPlaintext: true });
  return { sealed: r.webhook_secrets + r.oidc_client_secrets };
}

/** CLI output stays clean (`--json` on stdout): the one line about a generated key goes to stderr. */
export const stderrLog = { info: (msg: string) => process.stderr.write(`holdpoint: ${msg}\n`) };

export function print(json: boolean, value: unknown, text: string) {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

export async function withSql<T>(config: Config, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = await connectPostgres(config);
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** A file's text (or stdin for -); a missing or unreadable file is one line, not a stack trace. */
export async function readSource(file: string): Promise<string> {
  if (file === '-') return readStdin();
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new BootError(`cannot read ${file}: ${why}`);
  }
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
