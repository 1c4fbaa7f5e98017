// A minimal reproduction, outside Holdpoint, of the one 503 that `npm run chaos`
// saw outside every dependency window: postgres.js 3.4.9 keeps a connection's
// last ErrorResponse (and its query) when the server closes it without a
// ReadyForQuery — which is how Postgres ends a busy backend on shutdown (57P01).
// closed() does not clear them, so when the pool reconnects that connection,
// possibly minutes later, the first ReadyForQuery replays the old 57P01 onto
// the new query. Postgres has long been back; the query fails anyway (once).
// Related upstream: porsager/postgres#1223 (the same replay after a kill during startup).
// patches/postgres+3.4.9.patch fixes it (closed() forgets the error);
// test/integration/pg-driver-patch.test.ts runs this script on both drivers.
//
//   npx tsx bench/chaos/pg-stale-error-repro.ts     (private Postgres in a temp dir; exits 1 on a stale error)
//   HOLDPOINT_PG_DRIVER=<copy>/src/index.js         runs it on another copy of postgres.js (see pg-driver.ts)
import { createSql } from '../../src/db/client.ts';
import { loadDriver } from './pg-driver.ts';
import { makeRunDir, removeRunDir, startPostgres } from './services.ts';

async function main() {
  const dir = makeRunDir();
  const pg = await startPostgres(dir);
  process.on('exit', () => {
    pg.destroySync();
    removeRunDir(dir);
  });
  const { driver, label } = await loadDriver();
  process.stdout.write(`driver: ${label}\n`);
  const sql = createSql(pg.url.replace(/\/holdpoint$/, '/postgres'), { max: 4, ...(driver ? { driver } : {}) });
  // Four busy connections when Postgres shuts down: each gets 57P01 mid-query.
  const busy = Array.from({ length: 4 }, () => sql`SELECT pg_sleep(5)`.catch((e: { code?: string }) => e.code));
  await new Promise((r) => setTimeout(r, 300));
  await pg.restartFast();
  process.stdout.write(`busy queries ended with: ${(await Promise.all(busy)).join(', ')} (expected: the restart)\n`);
  await new Promise((r) => setTimeout(r, 3_000));
  process.stdout.write('Postgres has been up for 3 s; now 8 queries, one at a time:\n');
  let stale = 0;
  for (let i = 0; i < 8; i++) {
    try {
      await sql`SELECT 1`;
      process.stdout.write(`  query ${i + 1}: ok\n`);
    } catch (err) {
      stale++;
      process.stdout.write(`  query ${i + 1}: ${(err as { code?: string }).code} ${(err as Error).message}\n`);
    }
  }
  process.stdout.write(stale ? `${stale} queries failed with an error from before the restart\n` : 'no stale errors: this postgres.js does not have the bug\n');
  await sql.end({ timeout: 1 });
  process.exitCode = stale ? 1 : 0;
}

void main();
