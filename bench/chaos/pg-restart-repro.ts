// A minimal reproduction, outside Holdpoint, of the crash `npm run chaos`
// found: postgres.js 3.4.9 kills the whole process with
//   TypeError: Cannot read properties of null (reading 'write')
//       at Immediate.nextWrite (node_modules/postgres/src/connection.js:255)
// when Postgres restarts while transactions are open. A transaction's query
// fails with 57P01 (admin shutdown); `sql.begin` then sends ROLLBACK on the same
// connection, whose socket `closed()` has already set to null; the write is
// deferred with setImmediate and throws there, where no caller can catch it.
// Upstream: porsager/postgres#1208 / #1154, unmerged fixes in #1209 / #1168.
// patches/postgres+3.4.9.patch fixes it; test/integration/pg-driver-patch.test.ts
// runs this script against the installed driver and against an unpatched copy.
//
//   npx tsx bench/chaos/pg-restart-repro.ts     (private Postgres in a temp dir; exits 1 on the crash)
//   HOLDPOINT_PG_DRIVER=<copy>/src/index.js     runs it on another copy of postgres.js (see pg-driver.ts)
import { createSql } from '../../src/db/client.ts';
import { loadDriver } from './pg-driver.ts';
import { makeRunDir, removeRunDir, startPostgres } from './services.ts';

async function main() {
  const dir = makeRunDir();
  const pg = await startPostgres(dir);
  process.on('exit', (code) => {
    pg.destroySync();
    removeRunDir(dir);
    if (code !== 0) process.stdout.write('the process died: this is the postgres.js crash\n');
  });
  const { driver, label } = await loadDriver();
  process.stdout.write(`driver: ${label}\n`);
  const sql = createSql(pg.url.replace(/\/holdpoint$/, '/postgres'), { max: 10, ...(driver ? { driver } : {}) });
  let ok = 0;
  let errors = 0;
  let stop = false;
  let waiting = 0; // lanes that have not finished
  const lane = async () => {
    waiting++;
    try {
      await laneLoop();
    } finally {
      waiting--;
    }
  };
  const laneLoop = async () => {
    while (!stop) {
      try {
        await sql.begin(async (tx) => {
          await tx`SELECT pg_sleep(0.02)`;
          await tx`SELECT 1`;
        });
        ok++;
      } catch {
        errors++; // 57P01 / CONNECTION_CLOSED: expected, and catchable
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  const lanes = Array.from({ length: 20 }, lane);
  for (let i = 1; i <= 6; i++) {
    await new Promise((r) => setTimeout(r, 700));
    await pg.restartFast();
    process.stdout.write(`pg_ctl -m fast restart ${i}: ${ok} transactions committed, ${errors} failed (catchable)\n`);
  }
  stop = true;
  // The crash this reproduces happens during the restarts (an uncaught throw
  // kills the process there). Winding down is bounded: under a loaded machine a
  // lane has been seen still waiting on its transaction well after the last
  // restart, and an unbounded wait would read as a crash (the test kills the
  // process at 100 s). Such a lane is reported, not hidden.
  const settled = await Promise.race([Promise.all(lanes).then(() => true), sleep(20_000).then(() => false)]);
  if (!settled) process.stdout.write(`${waiting} of ${lanes.length} lanes were still waiting on a transaction 20 s after the last restart\n`);
  await Promise.race([sql.end({ timeout: 5 }), sleep(10_000)]);
  process.stdout.write('survived every restart: this postgres.js does not have the bug\n');
  process.exit(0);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

void main();
