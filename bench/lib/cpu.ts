// CPU time actually consumed (utime + stime from /proc, all threads), for a
// process and for the Postgres backends serving one database. Unlike
// throughput, CPU per request barely moves when other work shares the
// machine, so it is the steadier measure of Holdpoint's overhead.
import { readFileSync } from 'node:fs';
import { ADMIN_DB } from './config.ts';
import { connect } from './db.ts';

const TICK_MS = 10; // getconf CLK_TCK = 100 on Linux

export function processCpuMs(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS; // fields 14, 15: utime, stime
  } catch {
    return NaN;
  }
}

let admin: ReturnType<typeof connect> | undefined;

/** CPU ms per Postgres backend pid connected to `db`. */
export async function backendsCpu(db: string): Promise<Map<number, number>> {
  admin ??= connect(ADMIN_DB, 1);
  const rows = await admin<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname = ${db}`;
  return new Map(rows.map((r) => [r.pid, processCpuMs(r.pid)]));
}

export async function closeCpu(): Promise<void> {
  await admin?.end({ timeout: 5 });
  admin = undefined;
}

/** A CPU meter for one side: the app process and its database's backends. */
export function cpuMeter(pid: number | undefined, db: string | undefined) {
  return {
    async start() {
      return { app: pid ? processCpuMs(pid) : NaN, pg: db ? await backendsCpu(db) : new Map<number, number>() };
    },
    async stop(s: { app: number; pg: Map<number, number> }): Promise<{ app_ms: number; pg_ms: number }> {
      const app = pid ? processCpuMs(pid) - s.app : NaN;
      let pg = 0;
      if (db) {
        for (const [p, after] of await backendsCpu(db)) {
          const before = s.pg.get(p) ?? 0; // a backend that connected since: all of its CPU
          if (Number.isFinite(after)) pg += after - before;
        }
      }
      return { app_ms: app, pg_ms: pg };
    },
  };
}
