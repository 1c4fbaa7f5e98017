// `holdpoint approvals` as a person runs it: the real CLI process
// (`node bin/holdpoint.js approvals …`) against the real app on a loopback
// port, with approver keys bound to people. A vote counts as the key's
// person; an agent key and a decided approval get one clear line and exit 1;
// bad arguments exit 2; `review` is driven through stdin.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { ROOT } from '../helpers/processes.ts';

let h: Harness;
let t: TenantKeys;
let base: string;
let alice: string;
let bob: string;
let n = 0;

const POLICY = {
  defaults: { decision: 'allow', min_timeout_seconds: 1 },
  rules: [{ name: 'deploys', match: { action: 'deploy.*' }, decision: 'require_approval', reason: 'Deploys need a human' }],
};

beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
  await h.setPolicy(t, POLICY);
  base = await h.listen();
  alice = await h.as(t, 'alice');
  bob = await h.as(t, 'bob');
});
afterAll(() => h.close());

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
}

/**
 * The CLI as a child process. `feed` writes stdin: a string all at once (then
 * EOF), or a function that gets a way to wait for output and write lines.
 */
function cli(args: string[], opts: { key?: string; env?: Record<string, string>; feed?: string | ((io: { until(text: string): Promise<void>; write(line: string): void; end(): void }) => Promise<void>) } = {}): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env, HOLDPOINT_URL: base, HOLDPOINT_API_KEY: opts.key ?? alice, ...opts.env };
  // Nothing of the server's configuration is needed: make sure none is read.
  delete env.DATABASE_URL;
  const p = spawn(process.execPath, [path.join(ROOT, 'bin/holdpoint.js'), 'approvals', ...args], { env, cwd: ROOT });
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const wake = () => {
    for (const w of [...waiters]) {
      if (stdout.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  p.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    wake();
  });
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<Run>((r) => p.once('exit', (c, s) => r({ code: c ?? s ?? -1, stdout, stderr })));
  if (typeof opts.feed === 'string') p.stdin.end(opts.feed);
  else if (opts.feed) {
    void opts.feed({
      until: (text) =>
        new Promise<void>((resolve) => {
          waiters.push({ text, resolve });
          wake();
        }),
      write: (line) => p.stdin.write(`${line}\n`),
      end: () => p.stdin.end(),
    });
  } else p.stdin.end();
  return exited.then((r) => ({ ...r, stdout, stderr }));
}

/** A pending approval, parked by the agent; a shorter timeout sorts it earlier in `review`. */
async function park(what = 'web', timeout_seconds = 900, params: Record<string, unknown> = { service: what }) {
  const r = await h.call('POST', '/v1/guard', t.agent, { action: `deploy.${what}`, agent_id: 'deploy-bot', params, idempotency_key: `cli-${what}-${++n}`, timeout_seconds });
  expect(r.status).toBe(202);
  return r.body.approval as { id: string; status: string };
}

const approvalNow = async (id: string) => (await h.call('GET', `/v1/approvals/${id}`, alice)).body;

describe('list and show', () => {
  it('list --status pending --json gives the pending approvals; text gives one line each', async () => {
    const a = await park('list');
    const j = await cli(['list', '--status', 'pending', '--json']);
    expect(j.code, j.stderr).toBe(0);
    const rows = JSON.parse(j.stdout) as { id: string; status: string }[];
    expect(rows.find((r) => r.id === a.id)).toMatchObject({ status: 'pending' });
    expect(rows.every((r) => r.status === 'pending')).toBe(true);
    const text = await cli(['list']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^${a.id}\\s+pending\\s+deploy\\.list\\s+agent=deploy-bot`, 'm'));
  });

  it('show ID prints what a person needs to decide, and --json the approval', async () => {
    const a = await park('show', 900, { service: 'billing', version: '1.4.2' });
    const text = await cli(['show', a.id]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`approval ${a.id}  [pending]`);
    expect(text.stdout).toContain('params:   {"service":"billing","version":"1.4.2"}');
    expect(text.stdout).toContain('deploys: Deploys need a human');
    const j = await cli(['show', a.id, '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ id: a.id, action: 'deploy.show', params: { version: '1.4.2' } });
  });
});

describe('approve and reject', () => {
  it("approve counts as the key's person, with the reason", async () => {
    const a = await park('approve');
    const r = await cli(['approve', a.id, '--reason', 'ship it']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`approval ${a.id} is now approved`);
    expect(await approvalNow(a.id)).toMatchObject({ status: 'approved', decided_by: 'alice', decision_reason: 'ship it', decision_channel: 'api' });
  });

  it("reject counts as the key's person (bob's key, bob's vote)", async () => {
    const a = await park('reject');
    const r = await cli(['reject', a.id, '--reason', 'not on a Friday'], { key: bob });
    expect(r.code, r.stderr).toBe(0);
    expect(await approvalNow(a.id)).toMatchObject({ status: 'rejected', decided_by: 'bob', decision_reason: 'not on a Friday' });
  });

  it('an agent key gets a clear 403 line and exit 1, and nothing changes', async () => {
    const a = await park('agentkey');
    const r = await cli(['approve', a.id], { key: t.agent });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^holdpoint: .*agent key.*approver key/);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect((await approvalNow(a.id)).status).toBe('pending');
  });

  it('a decided approval gets a clear 409 line naming who decided, and exit 1', async () => {
    const a = await park('decided');
    expect((await cli(['approve', a.id], { key: bob })).code).toBe(0);
    const r = await cli(['reject', a.id, '--reason', 'too late']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`holdpoint: rejecting ${a.id} changed nothing: approval ${a.id} is already approved by bob`);
    expect(await approvalNow(a.id)).toMatchObject({ status: 'approved', decided_by: 'bob' });
  });

  it('an unknown id is exit 1; a bad key is exit 1 with what to check', async () => {
    const missing = await cli(['show', '0190f4c2-0000-7000-8000-0000000000ff']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not found/);
    const bad = await cli(['list'], { key: 'hp_approver_nope' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/key was not accepted.*--key \/ HOLDPOINT_API_KEY/);
  });

  it('bad arguments are usage errors: exit 2 with the usage', async () => {
    const cases: [string[], RegExp, Record<string, string>?][] = [
      [['approve', 'not-an-id'], /ID: must be an approval id/],
      [['list', '--status', 'maybe'], /--status/],
      [['show'], /takes one ID/],
      [['vote'], /needs a subcommand/],
      [['list', '--colour'], /Unknown option/],
      [['list'], /--key \(or HOLDPOINT_API_KEY\): is required/, { HOLDPOINT_API_KEY: '' }],
      [['list', '--url', 'ftp://holdpoint'], /--url \(or HOLDPOINT_URL\): must be an http/],
    ];
    // In parallel: each is its own process.
    const runs = await Promise.all(cases.map(([args, , env]) => cli(args, env ? { key: '', env } : {})));
    runs.forEach((r, i) => {
      expect(r.code, `${cases[i]![0].join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(r.stderr).toContain('usage: holdpoint <command>');
    });
  });
});

describe('review', () => {
  it('walks the pending approvals by deadline and approves, rejects (with a reason) and skips as told on stdin', async () => {
    // Only this test's approvals are pending from here on: decide what earlier tests left.
    for (const a of (await h.call('GET', '/v1/approvals?status=pending&limit=200', alice)).body.data) await h.call('POST', `/v1/approvals/${a.id}/cancel`, t.agent, {});
    const first = await park('r1', 600);
    const second = await park('r2', 700);
    const third = await park('r3', 800);
    const r = await cli(['review'], { feed: 'maybe\na\nr\nnot tested\ns\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('(1/3) approval ' + first.id);
    expect(r.stdout).toContain('"maybe" is not an answer');
    expect(r.stdout).toContain(`approval ${first.id} is now approved`);
    expect(r.stdout).toContain(`approval ${second.id} is now rejected`);
    expect(r.stdout).toContain('approved 1, rejected 1, skipped 1');
    expect(await approvalNow(first.id)).toMatchObject({ status: 'approved', decided_by: 'alice' });
    expect(await approvalNow(second.id)).toMatchObject({ status: 'rejected', decided_by: 'alice', decision_reason: 'not tested' });
    expect((await approvalNow(third.id)).status).toBe('pending');
    await h.call('POST', `/v1/approvals/${third.id}/cancel`, t.agent, {});
  });

  it('says so and goes on when someone else decided one while it was on screen; end of input quits', async () => {
    const first = await park('e1', 600);
    const second = await park('e2', 700);
    const r = await cli(['review', '--json'], {
      feed: async (io) => {
        await io.until(`(1/2) approval ${first.id}`);
        await io.until('[a/r/s/q]');
        // Bob rejects it in the meantime; alice's approve must not overwrite that.
        await h.call('POST', `/v1/approvals/${first.id}/decision`, bob, { decision: 'reject', reason: 'beat you to it' });
        io.write('a');
        await io.until(`(2/2) approval ${second.id}`);
        io.end();
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`is already rejected by bob ("beat you to it")`);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toEqual({ approved: 0, rejected: 0, skipped: 1, changed_elsewhere: 1 });
    expect(await approvalNow(first.id)).toMatchObject({ status: 'rejected', decided_by: 'bob' });
    expect((await approvalNow(second.id)).status).toBe('pending');
    await h.call('POST', `/v1/approvals/${second.id}/cancel`, t.agent, {});
  });

  it('with an agent key it stops before any prompt, with the 403 line and exit 1', async () => {
    const a = await park('review-agent', 600);
    // An agent key cannot even list the approvals: nothing is asked, nothing is decided.
    const r = await cli(['review'], { key: t.agent, feed: 'a\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/agent key/);
    expect((await approvalNow(a.id)).status).toBe('pending');
    await h.call('POST', `/v1/approvals/${a.id}/cancel`, t.agent, {});
  });

  it('with nothing pending it says so and exits 0', async () => {
    const r = await cli(['review']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('no pending approvals');
  });
});
