// Starts the floor server (bench/floor/server.ts) in its own process against
// its own migrated database, with a tenant row to write under.
import { ROOT } from './config.ts';
import { connect } from './db.ts';
import { spawnTs, type Child } from './processes.ts';
import { sleep } from './stats.ts';

export interface Floor extends Child {
  base: string;
  tenantId: string;
}

export async function startFloor(o: { dbUrl: string; redisUrl: string; prefix: string; pool: number; hookUrl?: string; timeoutS?: number; cpuProfDir?: string }): Promise<Floor> {
  const sql = connect(o.dbUrl, 1);
  let tenantId: string;
  try {
    const [t] = await sql<{ id: string }[]>`INSERT INTO tenants (name, webhook_secret) VALUES ('floor', 'whsec_floor') RETURNING id`;
    tenantId = t!.id;
  } finally {
    await sql.end({ timeout: 5 });
  }
  const child = spawnTs(`${ROOT}bench/floor/server.ts`, [], {
    FLOOR_DATABASE_URL: o.dbUrl,
    FLOOR_REDIS_URL: o.redisUrl,
    FLOOR_PREFIX: o.prefix,
    FLOOR_POOL: String(o.pool),
    FLOOR_TENANT: tenantId,
    FLOOR_TIMEOUT_S: String(o.timeoutS ?? 3600),
    ...(o.hookUrl ? { FLOOR_HOOK_URL: o.hookUrl } : {}),
  }, o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : []);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = /ready (\d+)/.exec(child.output());
    if (m) return { ...child, base: `http://127.0.0.1:${m[1]}`, tenantId };
    if (child.proc.exitCode !== null || Date.now() > deadline) throw new Error(`floor server did not start:\n${child.output()}`);
    await sleep(25);
  }
}
