// A first run on a stock machine: every setup mistake is one clear line on
// stderr and exit 1 (or 2 for bad usage) — never a stack trace, never a
// process that keeps running on the wrong database or hangs on a taken port.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.ts';
import { REDIS_URL, databaseUrl } from '../helpers/env.ts';
import { freePort, runCli } from '../helpers/processes.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
const redisAt = (path: string) => {
  const u = new URL(REDIS_URL);
  u.pathname = path;
  return u.toString();
};

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

/** Exit code and stderr, with a check that stderr is one line and no stack trace. */
async function fails(args: string[], env: Record<string, string>, want: number) {
  const r = await runCli(args, { LOG_LEVEL: 'silent', ...env });
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(want);
  const lines = r.stderr.trim().split('\n');
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return { ...r, lines };
}

describe('a first run', () => {
  it('a Redis database that does not exist (/20 on a 16-database Redis) refuses to start, naming it', async () => {
    const r = await fails(['start'], { DATABASE_URL: db.url, REDIS_URL: redisAt('/20'), PORT: String(await freePort()) }, 1);
    expect(r.lines).toHaveLength(1);
    expect(r.stderr).toMatch(/has no database 20 \(it has \d+: 0–\d+\)/);
  });

  it('a schemeless REDIS_URL is refused instead of silently using db 0', async () => {
    const r = await fails(['start'], { DATABASE_URL: db.url, REDIS_URL: '127.0.0.1:6379', PORT: String(await freePort()) }, 1);
    expect(r.stderr).toMatch(/REDIS_URL: must start with redis:\/\/ or rediss:\/\//);
  });

  it('a taken port is one line and exit 1, not a stack trace and a process that never exits', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    try {
      const r = await fails(['start', '--api'], { DATABASE_URL: db.url, REDIS_URL, HOST: '127.0.0.1', PORT: String(port) }, 1);
      expect(r.lines).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    } finally {
      blocker.close();
    }
  });

  it('policy set on a missing file is one line', async () => {
    const r = await fails(['policy', 'set', '--tenant', '00000000-0000-0000-0000-000000000000', '/no/such/policy.yaml'], { DATABASE_URL: db.url }, 1);
    expect(r.stderr.trim()).toBe('holdpoint: cannot read /no/such/policy.yaml: no such file');
  });

  it('a Postgres that refuses the login says so, rather than "cannot reach"', async () => {
    const u = new URL(db.url);
    u.username = 'no_such_role_here';
    const r = await fails(['start'], { DATABASE_URL: u.toString(), REDIS_URL }, 1);
    expect(r.stderr).toMatch(/reached Postgres at .* but it refused this login \(role "no_such_role_here" does not exist\)/);
    expect(r.stderr).not.toMatch(/cannot reach/);
  });

  it('a missing database says that holdpoint migrate creates it', async () => {
    const r = await fails(['start'], { DATABASE_URL: databaseUrl('hp_test_never_created_db'), REDIS_URL }, 1);
    expect(r.stderr).toMatch(/database "hp_test_never_created_db" does not exist: `holdpoint migrate` \(npm start runs it\) creates it/);
  });
});
