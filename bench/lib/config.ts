// What a bench run measures and how big, from the environment. Bench code is
// not server code: it reads process.env directly (the lint rule is for src/).
//
//   BENCH_QUICK=1            every scenario small (a smoke check, < 2 min)
//   BENCH_CONCURRENCY=50     connections for the load scenarios
//   BENCH_DURATION=20        seconds measured per side (after BENCH_WARMUP), split
//   BENCH_ROUNDS=4           into this many alternating floor / Holdpoint bursts
//   BENCH_DB_POOL=10         Postgres pool of Holdpoint and of the floor server alike
//   BENCH_ROUND_TRIPS=200    sequential samples for decision → outcome
//   BENCH_TIMEOUTS=100000    pending approvals in the timeout-precision scenario
//   BENCH_TIMEOUT_SPREAD=60  seconds their deadlines spread over
//   BENCH_GROWTH_ROWS=1000000 approvals seeded before the growth run
//   BENCH_RECOVERY=10000     approvals expiring while Holdpoint is down
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const env = process.env;
export const QUICK = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';

function num(name: string, full: number, quick: number): number {
  const v = env[name];
  if (v !== undefined && v !== '') {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${v}`);
    return n;
  }
  return QUICK ? quick : full;
}

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RESULTS_DIR = `${ROOT}bench/results/`;
/** Scratch (profiles, logs): ignored by git. */
export const SCRATCH_DIR = `${ROOT}bench/results/scratch/`;

export const ADMIN_DB = env.BENCH_ADMIN_DATABASE_URL ?? env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const SHARED_REDIS = env.BENCH_REDIS_URL ?? env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Names every database and Redis prefix of this run, so cleanup finds exactly ours. */
export const RUN_ID = `hpbench_${process.pid}_${Date.now().toString(36)}`;

export const sizes = {
  concurrency: num('BENCH_CONCURRENCY', 50, 50),
  durationS: num('BENCH_DURATION', 20, 2),
  warmupS: num('BENCH_WARMUP', 5, 1),
  /** The measured time is split into this many alternating floor / Holdpoint bursts (ABBA…). */
  rounds: Math.max(1, Math.round(num('BENCH_ROUNDS', 4, 2))),
  dbPool: num('BENCH_DB_POOL', 10, 10),
  roundTrips: num('BENCH_ROUND_TRIPS', 200, 20),
  timeouts: num('BENCH_TIMEOUTS', 100_000, 1_000),
  timeoutSpreadS: num('BENCH_TIMEOUT_SPREAD', 60, 5),
  /** How long after the last deadline an approval still pending counts as missed. */
  timeoutGraceS: num('BENCH_TIMEOUT_GRACE', 30, 10),
  growthRows: num('BENCH_GROWTH_ROWS', 1_000_000, 10_000),
  recovery: num('BENCH_RECOVERY', 10_000, 200),
  /** Deadline of the recovery approvals, from their creation; must outlast creating them all. */
  recoveryTimeoutS: num('BENCH_RECOVERY_TIMEOUT', 120, 6),
  /** Requests per kind in the round-trip count. */
  countRequests: num('BENCH_COUNT_REQUESTS', 300, 30),
  /** Sequential samples of each raw floor (SELECT 1, PING, healthz, fsync). */
  floorSamples: num('BENCH_FLOOR_SAMPLES', 2_000, 200),
};

export const machineCpus = os.cpus().length;
