// A minimal reproduction of the other half of porsager/postgres#1208 (also
// #1155 / #1216): postgres.js 3.4.9 lets a transaction keep sending statements
// after its connection closed. The pool may already have reconnected that
// connection for another query; the transaction's next statement then runs
// there, outside any transaction, and commits on its own (or, if the
// connection is still closed, crashes the process in nextWrite()).
// patches/postgres+3.4.9.patch makes such a statement fail with
// CONNECTION_CLOSED; test/integration/pg-driver-patch.test.ts runs this script
// on the installed driver and on an unpatched copy.
//
//   npx tsx bench/chaos/pg-tx-after-close-repro.ts   (private Postgres in a temp dir; exits 1 when a statement escaped its transaction)
//   HOLDPOINT_PG_DRIVER=<copy>/src/index.js          runs it on another copy of postgres.js (see pg-driver.ts)
import { createSql } from '../../src/db/client.ts';
import { loadDriver } from './pg-driver.ts';
import { makeRunDir, removeRunDir, startPostgres } from './services.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const dir = makeRunDir();
  const pg = await startPostgres(dir);
  process.on('exit', () => {
    pg.destroySync();
    removeRunDir(dir);
  });
  const url = pg.url.replace(/\/holdpoint$/, '/postgres');
  const { driver, label } = await loadDriver();
  process.stdout.write(`driver: ${label}\n`);
  const admin = createSql(url, { max: 1 });
  await admin`CREATE TABLE escaped (note text)`;
  // One connection, so the pool must reuse the transaction's connection.
  const sql = createSql(url, { max: 1, ...(driver ? { driver } : {}) });
  let insert = 'not tried';
  let callbackDone!: () => void;
  const callback = new Promise<void>((r) => (callbackDone = r));
  const tx = sql
    .begin(async (t) => {
      const [me] = await t<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
      await admin`SELECT pg_terminate_backend(${me!.pid})`; // like a failover: the backend is gone mid-transaction
      await sleep(500); // meanwhile the pool reconnects the connection for the query below
      try {
        await t`INSERT INTO escaped VALUES ('written by a transaction whose connection had closed')`;
        insert = 'ran';
      } catch (e) {
        insert = `failed (${(e as { code?: string }).code})`;
        throw e;
      } finally {
        callbackDone();
      }
    })
    .then(
      () => 'committed',
      (e: { code?: string }) => `rejected (${e.code})`,
    );
  await sleep(100);
  const other = await sql`SELECT 1 AS one`.then(
    () => 'ok',
    (e: { code?: string }) => `failed (${e.code})`,
  );
  const outcome = await tx;
  await Promise.race([callback, sleep(5_000)]); // sql.begin rejects at the close; its callback goes on
  process.stdout.write(`transaction: ${outcome}; its INSERT after the close: ${insert}; another query on the pool: ${other}\n`);
  const [row] = await admin<{ n: number }[]>`SELECT count(*)::int AS n FROM escaped`;
  const n = row!.n;
  process.stdout.write(n ? `${n} row(s) written outside their transaction: this postgres.js has the bug\n` : 'nothing escaped the transaction: this postgres.js does not have the bug\n');
  await sql.end({ timeout: 1 });
  await admin.end({ timeout: 1 });
  process.exitCode = n ? 1 : 0;
}

void main();
