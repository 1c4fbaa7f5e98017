// holdpoint/client/compat/haltstate: seed 002's TypeScript quickstart, run as
// written (test/fixtures/seeds/haltstate-quickstart.mjs) against the real app
// on a loopback port — the import pointed at this checkout's source and the
// placeholder key swapped for a real agent key; the address comes from
// HOLDPOINT_URL. It parks, runs once approved (claiming and completing the
// approval), and says when the policy denies.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HaltStateClient } from '../../src/sdk/compat/haltstate.ts';
import { Holdpoint } from '../../src/sdk/index.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { ROOT } from '../helpers/processes.ts';

const FIXTURE = path.join(ROOT, 'test/fixtures/seeds/haltstate-quickstart.mjs');
const IMPORT = `from 'holdpoint/client/compat/haltstate';`;
const WORK = path.join(ROOT, 'test/artifacts', `haltstate-${process.pid}`);

let h: Harness;
let base: string;

beforeAll(async () => {
  h = await createHarness({ workers: true });
  base = await h.listen();
  mkdirSync(WORK, { recursive: true });
});
afterAll(async () => {
  rmSync(WORK, { recursive: true, force: true });
  await h.close();
});

async function tenantDeciding(decision: 'require_approval' | 'deny'): Promise<TenantKeys> {
  const t = await h.tenant();
  await h.setPolicy(t, { defaults: { decision: 'allow' }, rules: [{ name: 'deletes', match: { action: 'database.delete' }, decision, reason: 'Deleting users needs a human' }] });
  return t;
}

/** Runs the seed's block for this tenant: only the import line and the placeholder key differ. */
/** Asynchronously: the server answers from this very process, so blocking it would starve the child. */
function runSeed(t: TenantKeys): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  const seed = readFileSync(FIXTURE, 'utf8');
  expect(seed).toContain(IMPORT);
  const source = seed.replace(IMPORT, `from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'src/sdk/compat/haltstate.ts')).href)};`).replace(`'hs_your_api_key'`, JSON.stringify(t.agent));
  const file = path.join(WORK, `quickstart-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, source);
  const env: NodeJS.ProcessEnv = { ...process.env, HOLDPOINT_URL: base };
  delete env.HOLDPOINT_API_KEY;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, lines: stdout.split('\n').filter(Boolean), stderr });
    });
  });
}

describe("seed 002's TypeScript quickstart", () => {
  it('parks the delete, then deletes once a human approves, and completes the approval', async () => {
    const t = await tenantDeciding('require_approval');
    const first = await runSeed(t);
    expect(first.code, first.stderr).toBe(0);
    const m = /^Awaiting approval: ([0-9a-f-]{36})$/.exec(first.lines.join('\n'));
    expect(m, first.lines.join('\n')).not.toBeNull();
    const id = m![1]!;
    const approved = await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    expect(approved.status).toBe(200);

    const second = await runSeed(t);
    expect(second.code, second.stderr).toBe(0);
    expect(second.lines).toEqual(['deleteUser(123)', 'Approved by: alice']);
    const a = await h.call('GET', `/v1/approvals/${id}`, t.agent);
    expect(a.body).toMatchObject({ status: 'completed', idempotency_key: 'delete-user-123', params: { table: 'users', id: 123 } });
  });

  it('says the action was denied and exits 1 when the policy denies it', async () => {
    const t = await tenantDeciding('deny');
    const r = await runSeed(t);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual(['Action denied: denied by policy: Deleting users needs a human']);
  });
});

describe('HaltStateClient', () => {
  it('is a Holdpoint client that keeps tenantId without sending it: the key names the tenant', async () => {
    const t = await tenantDeciding('require_approval');
    const sent: string[] = [];
    const client = new HaltStateClient({
      tenantId: 'someone-elses-tenant',
      apiKey: t.agent,
      baseUrl: base,
      fetch: async (input, init) => {
        sent.push(String(init?.body ?? ''));
        return fetch(input, init);
      },
    });
    expect(client).toBeInstanceOf(Holdpoint);
    expect(client.tenantId).toBe('someone-elses-tenant');
    const d = await client.check('report.read');
    expect(d.allowed).toBe(true);
    expect(sent.join('')).not.toContain('someone-elses-tenant');
    const rows = await h.call('GET', '/v1/decisions?action=report.read', t.approver);
    expect(rows.body.data).toHaveLength(1);
  });
});
