// The faults, one at a time at seeded moments: SIGKILL a Holdpoint process
// (or both workers) and start it again; SIGKILL Redis and start it on the same
// port; FLUSHALL Redis (once); restart Postgres cleanly (pg_ctl -m fast) or by
// SIGKILLing the postmaster. Each fault's window runs from the fault until the
// thing is back; a dependency's window excuses 503s (see check.ts).
import { Redis } from 'ioredis';
import type { Fleet } from './fleet.ts';
import type { Rng } from './rng.ts';
import type { ChaosPostgres, ChaosRedis } from './services.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type FaultKind = 'kill-api' | 'kill-worker' | 'kill-workers' | 'redis-restart' | 'redis-flushall' | 'pg-fast-restart' | 'pg-kill';

export interface FaultWindow {
  round: number;
  kind: FaultKind;
  target: string;
  start: number;
  end: number;
  /** Postgres or Redis was unavailable (or lost its data) in this window. */
  dependency: boolean;
}

const WEIGHTS: Record<Exclude<FaultKind, 'redis-flushall'>, number> = {
  'kill-api': 8,
  'kill-worker': 8,
  'kill-workers': 2,
  'redis-restart': 5,
  'pg-fast-restart': 4,
  'pg-kill': 4,
};

/**
 * The schedule: every kind at least once (FLUSHALL exactly once, in the first
 * half so the reconciler has time to rebuild before the end), the rest by weight.
 */
export function planFaults(rng: Rng, rounds: number): FaultKind[] {
  const must: FaultKind[] = ['kill-api', 'kill-worker', 'redis-restart', 'pg-fast-restart', 'pg-kill'];
  const kinds: FaultKind[] = [...must.slice(0, Math.max(0, rounds - 1))];
  while (kinds.length < rounds - 1) kinds.push(rng.weighted(WEIGHTS));
  rng.shuffle(kinds);
  if (rounds >= 1) kinds.splice(rng.int(0, Math.max(0, Math.floor((rounds - 1) / 2))), 0, 'redis-flushall');
  return kinds;
}

export interface FaultDeps {
  fleet: Fleet;
  pg: ChaosPostgres;
  redis: ChaosRedis;
  rng: Rng;
  log: (line: string) => void;
}

export async function injectFault(deps: FaultDeps, round: number, kind: FaultKind): Promise<FaultWindow> {
  const { fleet, pg, redis, rng } = deps;
  const start = Date.now();
  let target = '';
  switch (kind) {
    case 'kill-api':
    case 'kill-worker': {
      const m = rng.pick(kind === 'kill-api' ? fleet.apis : fleet.workers);
      target = m.name;
      await fleet.killAndRestart(m.name, rng.int(200, 3_000));
      break;
    }
    case 'kill-workers':
      target = fleet.workers.map((w) => w.name).join('+');
      await fleet.killManyAndRestart(fleet.workers.map((w) => w.name), rng.int(500, 4_000));
      break;
    case 'redis-restart':
      target = 'redis';
      await redis.killAndStart(rng.int(0, 3_000));
      break;
    case 'redis-flushall': {
      target = 'redis';
      const r = new Redis(redis.url, { maxRetriesPerRequest: 3 });
      try {
        await r.flushall();
      } finally {
        r.disconnect();
      }
      break;
    }
    case 'pg-fast-restart':
      target = 'postgres';
      await pg.restartFast();
      break;
    case 'pg-kill':
      target = 'postgres';
      await pg.killAndStart(rng.int(0, 3_000));
      break;
  }
  const end = Date.now();
  const w: FaultWindow = { round, kind, target, start, end, dependency: kind.startsWith('redis') || kind.startsWith('pg') };
  deps.log(`fault ${round}: ${kind}${target ? ` (${target})` : ''}, back after ${end - start} ms`);
  return w;
}

/** Runs the schedule between now and `untilMs`, evenly spread with seeded jitter. */
export async function runFaults(deps: FaultDeps, kinds: FaultKind[], untilMs: number, startDelayMs: number): Promise<FaultWindow[]> {
  const windows: FaultWindow[] = [];
  await sleep(startDelayMs);
  for (let i = 0; i < kinds.length; i++) {
    const left = untilMs - Date.now();
    const slot = left / (kinds.length - i);
    // Somewhere in the first 80 % of this round's share of the time left.
    await sleep(Math.max(200, deps.rng.int(Math.floor(slot * 0.2), Math.floor(slot * 0.8))));
    windows.push(await injectFault(deps, i + 1, kinds[i]!));
  }
  return windows;
}
