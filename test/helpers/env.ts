// Where the test suite finds the real services, and the names this run may use.
// globalSetup (test/helpers/test-services.ts) decides once per run — the
// configured TEST_DATABASE_URL / TEST_REDIS_URL, the machine's, or embedded ones
// — and sets these two variables, which every test worker inherits (docs/testing.md).
import { inject } from 'vitest';

export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function databaseUrl(name: string): string {
  const u = new URL(ADMIN_DATABASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * One `vitest run`: everything it creates in the shared Postgres and Redis is
 * named `hpt_<id>_…`, where the id starts with the run's start time (base-36
 * seconds), so a run can tell its own leftovers, and stale ones, from anyone
 * else's. Made by globalSetup (test/helpers/test-run.ts), handed to the test
 * files through vitest's provide/inject.
 */
export interface TestRun {
  id: string;
  /** The migrated template each file's database is cloned from. */
  template: string;
  /** Prefix of every database and every Redis key (BullMQ prefixes included) of this run. */
  prefix: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    holdpointTestRun: TestRun;
  }
}

/** This run, as globalSetup provided it. */
export function currentRun(): TestRun {
  const run = inject('holdpointTestRun');
  if (!run) throw new Error('no test run: these helpers need the integration project, whose globalSetup (test/helpers/global-setup.ts) creates it');
  return run;
}

/**
 * The suite's HOLDPOINT_SECRET_KEY (a fixed test key: nothing it seals is real),
 * so no test falls back to generating ./.holdpoint/secret.key in the checkout.
 */
export const TEST_SECRET_KEY = 'aG9sZHBvaW50LXRlc3Qtc2VjcmV0LWtleS0zMmJ5dGU=';
