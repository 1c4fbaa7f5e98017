// The suite on a shared server: two runs at once each keep to their own
// databases and Redis keys, each teardown removes exactly its own, and a
// harness leaves no key of its prefix behind (notify-slack included).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createSql } from '../../src/db/client.ts';
import setup from '../helpers/global-setup.ts';
import { ADMIN_DATABASE_URL, REDIS_URL, currentRun, type TestRun } from '../helpers/env.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { createHarness, type Harness } from '../helpers/harness.ts';
import { listKeys, newTestRun, startTestRun, STALE_AFTER_MS } from '../helpers/test-run.ts';

const admin = createSql(ADMIN_DATABASE_URL, { max: 1 });
const redis = new Redis(REDIS_URL);
afterAll(async () => {
  await admin.end();
  redis.disconnect();
});

const databases = async (prefix: string) =>
  (await admin<{ datname: string }[]>`SELECT datname FROM pg_database WHERE left(datname, ${prefix.length}) = ${prefix} ORDER BY datname`).map((r) => r.datname);

/** What one run leaves while it works: a harness (all five queues, incl. notify-slack, with jobs) and the debris of a file that crashed. */
async function busy(run: TestRun): Promise<Harness> {
  const h = await createHarness({ workers: true, run });
  const id = '00000000-0000-4000-8000-000000000001';
  await h.rt.queues.slack.add('slack', { approval_id: id }, { jobId: `notify__${id}`, delay: 60_000 });
  await h.rt.queues.expire.add('expire', { approval_id: id }, { jobId: `expire__${id}`, delay: 60_000 });
  await h.rt.queues.chain.add('chain', { tenant_id: id }, { delay: 60_000 });
  await createTestDatabase(run); // never dropped: a crashed file
  await redis.set(`${run.prefix}crashed:counter`, '1');
  return h;
}

describe('a test run on a shared server', () => {
  it('a harness leaves no Redis key of its prefix behind after close, notify-slack included', async () => {
    const h = await createHarness({ workers: true });
    const id = '00000000-0000-4000-8000-000000000002';
    await h.rt.queues.slack.add('slack', { approval_id: id }, { jobId: `notify__${id}`, delay: 60_000 });
    await h.rt.queues.deliver.add('deliver', { delivery_id: id }, { jobId: `deliver__${id}__x`, delay: 60_000 });
    expect((await listKeys(REDIS_URL, `${h.prefix}:notify-slack:*`)).length).toBeGreaterThan(0);
    await h.close();
    expect(await listKeys(REDIS_URL, `${h.prefix}:*`)).toEqual([]);
  });

  it('two runs set up at once get their own template and prefix; tearing one down removes all of its databases and keys and nothing of the other', async () => {
    // Each setup gets its own context, so a run is paired with its own teardown whichever finishes first.
    const provided: (TestRun | undefined)[] = [undefined, undefined];
    const fake = (i: number) => ({ provide: (_key: 'holdpointTestRun', run: TestRun) => void (provided[i] = run) });
    const [endA, endB] = await Promise.all([setup(fake(0) as never), setup(fake(1) as never)]);
    expect(typeof endA).toBe('function');
    expect(typeof endB).toBe('function');
    expect(provided.filter(Boolean)).toHaveLength(2);
    const [a, b] = provided as [TestRun, TestRun];
    expect(a.template).not.toBe(b.template);
    expect(a.prefix).not.toBe(b.prefix);
    const mine = currentRun();
    for (const r of [a, b]) expect(r.prefix.startsWith(mine.prefix) || mine.prefix.startsWith(r.prefix)).toBe(false);

    const [ha, hb] = await Promise.all([busy(a), busy(b)]);
    expect(await databases(a.prefix)).toHaveLength(3); // template, harness, crashed file
    expect(await databases(b.prefix)).toHaveLength(3);
    expect((await listKeys(REDIS_URL, `${a.prefix}*`)).length).toBeGreaterThan(1);
    const bKeys = (await listKeys(REDIS_URL, `${b.prefix}*`)).sort();
    expect(bKeys.length).toBeGreaterThan(1);

    await ha.close();
    await (endA as () => Promise<void>)();
    expect(await databases(a.prefix)).toEqual([]);
    expect(await listKeys(REDIS_URL, `${a.prefix}*`)).toEqual([]);
    // B, mid-run, lost nothing: its databases, its keys, and its harness still works.
    expect(await databases(b.prefix)).toHaveLength(3);
    expect((await listKeys(REDIS_URL, `${b.prefix}*`)).sort()).toEqual(expect.arrayContaining(bKeys.filter((k) => !k.includes(':events') && !k.includes(':stalled'))));
    const t = await hb.tenant();
    expect((await hb.call('GET', '/v1/approvals', t.admin)).status).toBe(200);
    // And this run's own template is untouched by either.
    expect(await databases(mine.template)).toEqual([mine.template]);

    await hb.close();
    await (endB as () => Promise<void>)();
    expect(await databases(b.prefix)).toEqual([]);
    expect(await listKeys(REDIS_URL, `${b.prefix}*`)).toEqual([]);
  });

  it('leftovers of a crashed run are swept at start only when they are ours and more than a day old', async () => {
    const old = newTestRun(Date.now() - STALE_AFTER_MS - 3600_000);
    const recent = newTestRun(Date.now() - 3600_000);
    const foreign = `hpt_notours_${randomBytes(3).toString('hex')}`;
    for (const name of [`${old.prefix}x`, `${recent.prefix}x`, foreign]) await admin.unsafe(`CREATE DATABASE ${name}`);
    await redis.set(`${old.prefix}q:meta`, '1');
    await redis.set(`${recent.prefix}q:meta`, '1');
    await redis.set(`${foreign}:q:meta`, '1');
    try {
      const started = await startTestRun();
      await started.teardown();
      expect(started.swept.databases).toContain(`${old.prefix}x`);
      expect(await databases(old.prefix)).toEqual([]);
      expect(await redis.exists(`${old.prefix}q:meta`)).toBe(0);
      expect(await databases(recent.prefix)).toEqual([`${recent.prefix}x`]);
      expect(await databases(foreign)).toEqual([foreign]);
      expect(await redis.exists(`${recent.prefix}q:meta`, `${foreign}:q:meta`)).toBe(2);
    } finally {
      for (const name of [`${old.prefix}x`, `${recent.prefix}x`, foreign]) await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await redis.del(`${old.prefix}q:meta`, `${recent.prefix}q:meta`, `${foreign}:q:meta`);
    }
  });
});
