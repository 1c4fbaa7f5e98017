// Floor and Holdpoint measured in alternating bursts (floor, Holdpoint,
// Holdpoint, floor, …) while both are up, so background load on a shared
// machine falls on both sides alike and the ratio holds.
import { sizes } from './config.ts';
import { cpuMeter } from './cpu.ts';
import { runLoad, type LoadResult } from './load.ts';
import { round } from './stats.ts';

export interface Target {
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** The server's pid and database name, to count the CPU it and its Postgres backends use. */
  pid?: number;
  db?: string;
}

type Measured = LoadResult & { app_cpu_ms: number; pg_cpu_ms: number };

export interface Side {
  per_second: number;
  requests_ok: number;
  non2xx: number;
  errors: number;
  duration_s: number;
  /** Medians over the rounds (autocannon reports percentiles per run). */
  p50_ms: number;
  p99_ms: number;
  /** CPU time per successful request: the server process (all threads), its Postgres backends. */
  app_cpu_us_per_request: number | null;
  pg_cpu_us_per_request: number | null;
  rounds: Measured[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function aggregate(rs: Measured[]): Side {
  const ok = rs.reduce((a, r) => a + r.requests_ok, 0);
  const secs = rs.reduce((a, r) => a + r.duration_s, 0);
  const per = (k: 'app_cpu_ms' | 'pg_cpu_ms') => {
    const ms = rs.reduce((a, r) => a + r[k], 0);
    return Number.isFinite(ms) && ok > 0 ? round((ms * 1000) / ok, 0) : null;
  };
  return {
    per_second: round(ok / secs, 1),
    requests_ok: ok,
    non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    duration_s: round(secs, 1),
    p50_ms: median(rs.map((r) => r.p50_ms)),
    p99_ms: median(rs.map((r) => r.p99_ms)),
    app_cpu_us_per_request: per('app_cpu_ms'),
    pg_cpu_us_per_request: per('pg_cpu_ms'),
    rounds: rs,
  };
}

async function measured(t: Target, connections: number, duration: number): Promise<Measured> {
  const meter = cpuMeter(t.pid, t.db);
  const before = await meter.start();
  const r = await runLoad({ url: t.url, body: t.body, headers: t.headers ?? {}, connections, duration });
  const cpu = await meter.stop(before);
  return { ...r, app_cpu_ms: cpu.app_ms, pg_cpu_ms: cpu.pg_ms };
}

export async function compare(floor: Target, holdpoint: Target, o: { connections?: number; durationS?: number; rounds?: number } = {}): Promise<{ floor: Side; holdpoint: Side }> {
  const connections = o.connections ?? sizes.concurrency;
  const rounds = o.rounds ?? sizes.rounds;
  const each = Math.max(1, (o.durationS ?? sizes.durationS) / rounds);
  const run = (t: Target, duration: number) => runLoad({ url: t.url, body: t.body, headers: t.headers ?? {}, connections, duration });
  if (sizes.warmupS > 0) {
    await run(floor, sizes.warmupS);
    await run(holdpoint, sizes.warmupS);
  }
  const f: Measured[] = [];
  const h: Measured[] = [];
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? (['floor', 'holdpoint'] as const) : (['holdpoint', 'floor'] as const);
    for (const side of order) {
      if (side === 'floor') f.push(await measured(floor, connections, each));
      else h.push(await measured(holdpoint, connections, each));
    }
  }
  return { floor: aggregate(f), holdpoint: aggregate(h) };
}

/** Holdpoint alone, warmed up, for the same total time (growth, memory). */
export async function measureOne(t: Target, o: { connections?: number; durationS?: number } = {}): Promise<Side> {
  const connections = o.connections ?? sizes.concurrency;
  if (sizes.warmupS > 0) await runLoad({ url: t.url, body: t.body, headers: t.headers ?? {}, connections, duration: sizes.warmupS });
  return aggregate([await measured(t, connections, o.durationS ?? sizes.durationS)]);
}
