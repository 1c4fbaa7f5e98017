// Who may do what (roles, tenants, keys, approver identities), the policy
// endpoints (validation, YAML, versions), check/report, and the open endpoints.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

let h: Harness;
let n = 0;
const key = () => `ap-${++n}-${Date.now()}`;

const POLICY = {
  defaults: { decision: 'allow' },
  rules: [
    { name: 'payments', match: { action: 'payment.*' }, decision: 'require_approval', reason: 'payments need a human' },
    { name: 'never-drop', match: { action: 'database.drop*' }, decision: 'deny', reason: 'never' },
    { name: 'vault', match: { action: 'vault.*' }, decision: 'require_approval', approval: { approvers: { identities: ['alice'] } } },
  ],
};

beforeAll(async () => {
  h = await createHarness();
});

afterAll(async () => {
  await h.close();
});

/** The first row of a query, loosely typed (test-only). */
async function one(q: Promise<readonly unknown[]>): Promise<any> {
  return (await q)[0];
}

async function count(table: 'approvals' | 'decisions' | 'policies' | 'api_keys', tenantId: string): Promise<number> {
  const row = await one(h.rt.sql.unsafe(`SELECT count(*)::int AS count FROM ${table} WHERE tenant_id = $1`, [tenantId]));
  return row.count as number;
}

/** Parks a payment for the tenant and returns the approval. */
async function park(t: TenantKeys, action = 'payment.send'): Promise<{ id: string; idempotency_key: string }> {
  const r = await h.call('POST', '/v1/guard', t.agent, { action, agent_id: 'bot-1', params: { amount: 5 }, idempotency_key: key() });
  expect(r.status).toBe(202);
  return r.body.approval;
}

async function statusOf(t: TenantKeys, id: string): Promise<string> {
  return (await h.call('GET', `/v1/approvals/${id}`, t.agent)).body.status;
}

function expectError(r: { status: number; body: any }, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error.code).toBe(code);
}

describe('roles', () => {
  let t: TenantKeys;
  beforeAll(async () => {
    t = await h.tenant('roles');
    await h.setPolicy(t, POLICY);
  });

  it('an agent key cannot decide, and the approval stays pending with no vote', async () => {
    const a = await park(t);
    expectError(await h.call('POST', `/v1/approvals/${a.id}/decision`, t.agent, { decision: 'approve', approver: 'alice' }), 403, 'forbidden');
    const g = await h.call('GET', `/v1/approvals/${a.id}`, t.agent);
    expect(g.body).toMatchObject({ status: 'pending', votes: [] });
  });

  it('an agent key cannot replace the policy, and the version does not move', async () => {
    expectError(await h.call('PUT', '/v1/policy', t.agent, { defaults: { decision: 'allow' } }), 403, 'forbidden');
    expect((await h.call('GET', '/v1/policy', t.admin)).body.version).toBe(1);
  });

  it('an agent key cannot create, list or revoke API keys', async () => {
    const before = await count('api_keys', t.tenant_id);
    expectError(await h.call('POST', '/v1/api-keys', t.agent, { role: 'admin' }), 403, 'forbidden');
    expectError(await h.call('GET', '/v1/api-keys', t.agent), 403, 'forbidden');
    expectError(await h.call('DELETE', `/v1/api-keys/${randomUUID()}`, t.agent), 403, 'forbidden');
    expect(await count('api_keys', t.tenant_id)).toBe(before);
  });

  it('an agent key cannot read the policy or list approvals', async () => {
    expectError(await h.call('GET', '/v1/policy', t.agent), 403, 'forbidden');
    expectError(await h.call('GET', '/v1/approvals', t.agent), 403, 'forbidden');
  });

  it('an approver key cannot guard, check, cancel or claim', async () => {
    const before = await count('decisions', t.tenant_id);
    expectError(await h.call('POST', '/v1/guard', t.approver, { action: 'payment.send', idempotency_key: key() }), 403, 'forbidden');
    expectError(await h.call('POST', '/v1/check', t.approver, { action: 'payment.send' }), 403, 'forbidden');
    expect(await count('decisions', t.tenant_id)).toBe(before);
    const a = await park(t);
    expectError(await h.call('POST', `/v1/approvals/${a.id}/cancel`, t.approver, {}), 403, 'forbidden');
    expectError(await h.call('POST', `/v1/approvals/${a.id}/claim`, t.approver, {}), 403, 'forbidden');
    expect(await statusOf(t, a.id)).toBe('pending');
  });

  it('an approver key cannot replace the policy or manage keys and webhooks', async () => {
    expectError(await h.call('PUT', '/v1/policy', t.approver, { defaults: { decision: 'allow' } }), 403, 'forbidden');
    expectError(await h.call('POST', '/v1/api-keys', t.approver, { role: 'admin' }), 403, 'forbidden');
    expectError(await h.call('POST', '/v1/webhook-endpoints', t.approver, { url: 'https://example.com/h' }), 403, 'forbidden');
  });

  it('an approver key may read the policy, list approvals and read one', async () => {
    const a = await park(t);
    expect((await h.call('GET', '/v1/policy', t.approver)).status).toBe(200);
    const list = await h.call('GET', '/v1/approvals?status=pending', t.approver);
    expect(list.status).toBe(200);
    expect(list.body.data.map((x: { id: string }) => x.id)).toContain(a.id);
    expect((await h.call('GET', `/v1/approvals/${a.id}`, t.approver)).body.id).toBe(a.id);
  });

  it('an admin key may do everything: guard, decide, list, and manage', async () => {
    const g = await h.call('POST', '/v1/guard', t.admin, { action: 'payment.send', agent_id: 'bot-1', idempotency_key: key() });
    expect(g.status).toBe(202);
    const d = await h.call('POST', `/v1/approvals/${g.body.approval.id}/decision`, t.admin, { decision: 'approve' });
    expect(d.body).toMatchObject({ status: 'approved', decided_by: expect.stringMatching(/^key:hp_admin_/) });
    expect((await h.call('GET', '/v1/approvals', t.admin)).status).toBe(200);
    expect((await h.call('GET', '/v1/api-keys', t.admin)).status).toBe(200);
    expect((await h.call('POST', `/v1/approvals/${g.body.approval.id}/claim`, t.admin, {})).status).toBe(200);
  });
});

describe('tenants', () => {
  let a: TenantKeys;
  let b: TenantKeys;
  let approval: { id: string; idempotency_key: string };

  beforeAll(async () => {
    a = await h.tenant('tenant-a');
    b = await h.tenant('tenant-b');
    await h.setPolicy(a, POLICY);
    await h.setPolicy(b, POLICY);
    approval = await park(a);
  });

  it("another tenant's approver gets 404, never 403, on get, decision and events", async () => {
    expectError(await h.call('GET', `/v1/approvals/${approval.id}`, b.approver), 404, 'not_found');
    expectError(await h.call('POST', `/v1/approvals/${approval.id}/decision`, b.approver, { decision: 'approve' }), 404, 'not_found');
    expectError(await h.call('GET', `/v1/approvals/${approval.id}/events`, b.approver), 404, 'not_found');
    expectError(await h.call('GET', `/v1/approvals/${approval.id}`, b.admin), 404, 'not_found');
    const mine = await h.call('GET', `/v1/approvals/${approval.id}`, a.approver);
    expect(mine.body).toMatchObject({ status: 'pending', votes: [] });
  });

  it("another tenant's agent cannot cancel or claim it, and gets 404", async () => {
    expectError(await h.call('POST', `/v1/approvals/${approval.id}/cancel`, b.agent, {}), 404, 'not_found');
    expectError(await h.call('POST', `/v1/approvals/${approval.id}/claim`, b.agent, {}), 404, 'not_found');
    expect(await statusOf(a, approval.id)).toBe('pending');
  });

  it("another tenant's by-key lookup of the same idempotency key is 404", async () => {
    expectError(await h.call('GET', `/v1/approvals/by-key/${approval.idempotency_key}`, b.agent), 404, 'not_found');
    expect((await h.call('GET', `/v1/approvals/by-key/${approval.idempotency_key}`, a.agent)).body.id).toBe(approval.id);
  });

  it("the same idempotency key in another tenant makes that tenant's own approval", async () => {
    const r = await h.call('POST', '/v1/guard', b.agent, { action: 'payment.send', agent_id: 'bot-1', params: { other: true }, idempotency_key: approval.idempotency_key });
    expect(r.status).toBe(202);
    expect(r.body.approval.id).not.toBe(approval.id);
  });

  it("another tenant's listing never shows it", async () => {
    const r = await h.call('GET', '/v1/approvals?limit=200', b.approver);
    expect(r.body.data.map((x: { id: string }) => x.id)).not.toContain(approval.id);
  });

  it("an admin cannot revoke another tenant's key: 404, and the key still works", async () => {
    const created = await h.call('POST', '/v1/api-keys', a.admin, { role: 'agent', name: 'a-bot' });
    expectError(await h.call('DELETE', `/v1/api-keys/${created.body.id}`, b.admin), 404, 'not_found');
    expect((await h.call('GET', `/v1/approvals/${approval.id}`, created.body.key)).status).toBe(200);
  });
});

describe('API keys', () => {
  let t: TenantKeys;
  beforeAll(async () => {
    t = await h.tenant('keys');
    await h.setPolicy(t, POLICY);
  });

  it('creating a key returns it once, in the hp_<role>_ form, and it works at once', async () => {
    for (const role of ['agent', 'approver', 'admin'] as const) {
      const r = await h.call('POST', '/v1/api-keys', t.admin, { role, name: `${role}-ci` });
      expect(r.status).toBe(201);
      expect(r.body.key).toMatch(new RegExp(`^hp_${role}_[0-9A-Za-z]{32}$`));
      expect(r.body).toMatchObject({ role, name: `${role}-ci`, revoked_at: null });
      expect(r.body.key.startsWith(r.body.prefix)).toBe(true);
    }
    const approver = await h.call('POST', '/v1/api-keys', t.admin, { role: 'approver' });
    expect((await h.call('GET', '/v1/approvals', approver.body.key)).status).toBe(200);
    // ...and with its own role's limits.
    expectError(await h.call('POST', '/v1/guard', approver.body.key, { action: 'payment.send', idempotency_key: key() }), 403, 'forbidden');
  });

  it('the database holds only a hash of the key', async () => {
    const r = await h.call('POST', '/v1/api-keys', t.admin, { role: 'agent' });
    const row = await one(h.rt.sql`SELECT key_hash, prefix FROM api_keys WHERE id = ${r.body.id}`);
    expect(Buffer.isBuffer(row.key_hash)).toBe(true);
    expect(row.key_hash.toString('utf8')).not.toContain(r.body.key);
    expect(row.prefix.length).toBeLessThan(r.body.key.length);
  });

  it('listing keys never shows a key itself', async () => {
    const created = await h.call('POST', '/v1/api-keys', t.admin, { role: 'approver', name: 'listed' });
    const r = await h.call('GET', '/v1/api-keys', t.admin);
    expect(r.status).toBe(200);
    const listed = r.body.data.find((k: { id: string }) => k.id === created.body.id);
    expect(listed).toMatchObject({ role: 'approver', name: 'listed', prefix: created.body.prefix });
    expect(listed).not.toHaveProperty('key');
    const text = JSON.stringify(r.body);
    expect(text).not.toContain(created.body.key);
    expect(text).not.toContain(t.admin);
    expect(text).not.toContain('key_hash');
  });

  it('a revoked key is refused with 401 on its next call, and revoking twice keeps the first time', async () => {
    const created = await h.call('POST', '/v1/api-keys', t.admin, { role: 'agent' });
    expect((await h.call('POST', '/v1/check', created.body.key, { action: 'x.y' })).status).toBe(200);
    const del = await h.call('DELETE', `/v1/api-keys/${created.body.id}`, t.admin);
    expect(del.status).toBe(200);
    expect(del.body.revoked_at).toEqual(expect.any(String));
    expectError(await h.call('POST', '/v1/check', created.body.key, { action: 'x.y' }), 401, 'unauthorized');
    const again = await h.call('DELETE', `/v1/api-keys/${created.body.id}`, t.admin);
    expect(again.body.revoked_at).toBe(del.body.revoked_at);
    const listed = (await h.call('GET', '/v1/api-keys', t.admin)).body.data.find((k: { id: string }) => k.id === created.body.id);
    expect(listed.revoked_at).toBe(del.body.revoked_at);
  });

  it('revoking an unknown key id is 404', async () => {
    expectError(await h.call('DELETE', `/v1/api-keys/${randomUUID()}`, t.admin), 404, 'not_found');
  });
});

describe('approver identities', () => {
  let t: TenantKeys;
  beforeAll(async () => {
    t = await h.tenant('identities');
    await h.setPolicy(t, POLICY);
  });

  it('a key bound to an approver decides as that identity', async () => {
    await h.call('POST', '/v1/approvers', t.admin, { name: 'alice@example.com', key: false });
    const k = await h.call('POST', '/v1/api-keys', t.admin, { role: 'approver', approver: 'alice@example.com' });
    expect(k.body.approver).toBe('alice@example.com');
    const a = await park(t);
    const r = await h.call('POST', `/v1/approvals/${a.id}/decision`, k.body.key, { decision: 'approve', reason: 'ok' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'approved', decided_by: 'alice@example.com' });
    expect(r.body.votes.map((v: { approver: string }) => v.approver)).toEqual(['alice@example.com']);
  });

  it('a bound key that claims another approver is 403 forbidden and records no vote', async () => {
    await h.call('POST', '/v1/approvers', t.admin, { name: 'alice@example.com', key: false });
    await h.call('POST', '/v1/approvers', t.admin, { name: 'bob@example.com', key: false });
    const k = await h.call('POST', '/v1/api-keys', t.admin, { role: 'approver', approver: 'alice@example.com' });
    const a = await park(t);
    expectError(await h.call('POST', `/v1/approvals/${a.id}/decision`, k.body.key, { decision: 'approve', approver: 'bob@example.com' }), 403, 'forbidden');
    const g = await h.call('GET', `/v1/approvals/${a.id}`, t.agent);
    expect(g.body).toMatchObject({ status: 'pending', votes: [] });
    // Naming itself explicitly is fine.
    const ok = await h.call('POST', `/v1/approvals/${a.id}/decision`, k.body.key, { decision: 'reject', approver: 'alice@example.com' });
    expect(ok.body).toMatchObject({ status: 'rejected', decided_by: 'alice@example.com' });
  });

  it('a rule naming approver identities refuses anyone else with not_an_approver and leaves the approval pending', async () => {
    const a = await park(t, 'vault.open');
    const before = await one(h.rt.sql`SELECT count(*)::int AS count FROM approval_events WHERE approval_id = ${a.id}`);
    const mallory = await h.as(t, 'mallory');
    expectError(await h.call('POST', `/v1/approvals/${a.id}/decision`, mallory, { decision: 'approve' }), 403, 'not_an_approver');
    expectError(await h.call('POST', `/v1/approvals/${a.id}/decision`, mallory, { decision: 'reject' }), 403, 'not_an_approver');
    const g = await h.call('GET', `/v1/approvals/${a.id}`, t.agent);
    expect(g.body).toMatchObject({ status: 'pending', votes: [] });
    const after = await one(h.rt.sql`SELECT count(*)::int AS count FROM approval_events WHERE approval_id = ${a.id}`);
    expect(after.count).toBe(before.count);
    const ok = await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'approved', decided_by: 'alice' });
  });

  it('a bound key for someone not on the rule is refused too', async () => {
    const a = await park(t, 'vault.open');
    expectError(await h.call('POST', `/v1/approvals/${a.id}/decision`, await h.as(t, 'mallory'), { decision: 'approve' }), 403, 'not_an_approver');
    expect(await statusOf(t, a.id)).toBe('pending');
  });
});

describe('policy', () => {
  let t: TenantKeys;
  const V1 = { defaults: { decision: 'allow' }, rules: [{ name: 'payments', match: { action: 'payment.*' }, decision: 'require_approval' }] };

  beforeAll(async () => {
    t = await h.tenant('policy');
  });

  const put = (body: unknown, contentType = 'application/json') =>
    h.call('PUT', '/v1/policy', t.admin, typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': contentType });

  it('a tenant with no policy reads version 0 and every action needs a human', async () => {
    const p = await h.call('GET', '/v1/policy', t.admin);
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ version: 0, document: { defaults: { decision: 'require_approval' }, rules: [] } });
    expect((await h.call('GET', '/v1/policy/versions', t.admin)).body.data).toEqual([]);
    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'anything.at_all', idempotency_key: key() });
    expect(g.status).toBe(202);
    expect(g.body).toMatchObject({ status: 'pending', policy_version: 0 });
  });

  it('a JSON policy is stored as version 1 and takes effect', async () => {
    const r = await put(V1);
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(1);
    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'anything.at_all', idempotency_key: key() });
    expect(g.body).toMatchObject({ status: 'allowed', policy_version: 1 });
  });

  const invalid: [string, unknown, (paths: { path: string; message: string }[]) => void][] = [
    [
      'an unknown field in a rule',
      { rules: [{ name: 'a', decision: 'allow', actoin: 'x' }] },
      (p) => expect(p.some((x) => x.path.startsWith('rules.0') && `${x.path} ${x.message}`.includes('actoin'))).toBe(true),
    ],
    ['a bad decision', { rules: [{ name: 'a', decision: 'maybe' }] }, (p) => expect(p.map((x) => x.path)).toContain('rules.0.decision')],
    [
      'a bad regular expression in matches',
      { rules: [{ name: 'a', decision: 'deny', match: { when: { 'params.to': { matches: '([a-z' } } } }] },
      (p) => expect(p.map((x) => x.path)).toContain('rules.0.match.when.params.to.matches'),
    ],
    [
      'duplicate rule names',
      { rules: [{ name: 'same', decision: 'allow' }, { name: 'same', decision: 'deny' }] },
      (p) => expect(p.map((x) => x.path)).toContain('rules.1.name'),
    ],
    ['a bad default', { defaults: { decision: 'allow', timeout_seconds: 0 } }, (p) => expect(p.map((x) => x.path)).toContain('defaults.timeout_seconds')],
  ];

  for (const [what, doc, check] of invalid) {
    it(`a JSON policy with ${what} is 400 with the problem's path, and the previous version stays`, async () => {
      const before = await h.call('GET', '/v1/policy', t.admin);
      const r = await put(doc);
      expectError(r, 400, 'validation_failed');
      check(r.body.error.details.problems);
      const after = await h.call('GET', '/v1/policy', t.admin);
      expect(after.body.version).toBe(before.body.version);
      expect(after.body.document).toEqual(before.body.document);
    });

    it(`a YAML policy with ${what} is 400 with the problem's path, and the previous version stays`, async () => {
      const versions = await count('policies', t.tenant_id);
      const r = await put(toYaml(doc), 'application/yaml');
      expectError(r, 400, 'validation_failed');
      check(r.body.error.details.problems);
      expect(await count('policies', t.tenant_id)).toBe(versions);
    });
  }

  it('malformed YAML and malformed JSON are 400 and change nothing', async () => {
    const versions = await count('policies', t.tenant_id);
    expectError(await put('rules: [\n  - name: x\n  bad', 'application/yaml'), 400, 'validation_failed');
    expectError(await put('{"rules": [', 'application/json'), 400, 'malformed_json');
    expectError(await put('   ', 'application/yaml'), 400, 'validation_failed');
    expectError(await put('- 1\n- 2\n', 'application/yaml'), 400, 'validation_failed');
    expect(await count('policies', t.tenant_id)).toBe(versions);
  });

  it('a policy in an unsupported media type is 415', async () => {
    expectError(await put('<policy/>', 'application/xml'), 415, 'unsupported_media_type');
  });

  it('a YAML policy sent as application/yaml is stored, bumps the version and takes effect', async () => {
    const before = (await h.call('GET', '/v1/policy', t.admin)).body.version as number;
    const yaml = [
      '# deny drops, everything else allowed',
      'defaults:',
      '  decision: allow',
      'rules:',
      '  - name: no-drops',
      '    match: { action: "database.drop*" }',
      '    decision: deny',
      '    reason: never drop',
      '',
    ].join('\n');
    const r = await put(yaml, 'application/yaml');
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(before + 1);
    const cur = await h.call('GET', '/v1/policy', t.admin);
    expect(cur.body.version).toBe(before + 1);
    expect(cur.body.source).toBe(yaml);
    expect(cur.body.document.rules[0]).toMatchObject({ name: 'no-drops', decision: 'deny' });
    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'database.drop_users', idempotency_key: key() });
    expect(g.body).toMatchObject({ status: 'denied', policy_version: before + 1 });
  });

  it('an older version can be read by number, and the versions are listed newest first', async () => {
    const v1 = await h.call('GET', '/v1/policy?version=1', t.admin);
    expect(v1.status).toBe(200);
    expect(v1.body.version).toBe(1);
    expect(v1.body.document.rules.map((r: { name: string }) => r.name)).toEqual(['payments']);
    const list = await h.call('GET', '/v1/policy/versions', t.admin);
    const versions = list.body.data.map((v: { version: number }) => v.version);
    expect(versions).toEqual([2, 1]);
    expect(list.body.data[0].created_by).toMatch(/^key:hp_admin/);
    expectError(await h.call('GET', '/v1/policy?version=99', t.admin), 404, 'not_found');
    expectError(await h.call('GET', '/v1/policy?version=0', t.admin), 400, 'validation_failed');
  });
});

/** A small JSON → YAML writer for the test documents (flow style is valid YAML). */
function toYaml(doc: unknown): string {
  return Object.entries(doc as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join('\n');
}

describe('check and report', () => {
  let t: TenantKeys;
  beforeAll(async () => {
    t = await h.tenant('check');
    await h.setPolicy(t, POLICY);
  });

  it('check answers the decision, records one check decision and parks nothing', async () => {
    const approvals = await count('approvals', t.tenant_id);
    const decisions = await count('decisions', t.tenant_id);
    const r = await h.call('POST', '/v1/check', t.agent, { action: 'payment.send', agent_id: 'bot-1', params: { amount: 10 } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ decision: 'require_approval', policy_version: 1, matched_rules: ['payments'] });
    expect(r.body.reasons[0]).toMatchObject({ rule: 'payments' });
    expect(await count('decisions', t.tenant_id)).toBe(decisions + 1);
    expect(await count('approvals', t.tenant_id)).toBe(approvals);
    const row = await one(h.rt.sql`SELECT kind, decision, action, approval_id FROM decisions WHERE id = ${r.body.decision_id}`);
    expect(row).toMatchObject({ kind: 'check', decision: 'require_approval', action: 'payment.send', approval_id: null });
  });

  it('check reports allow and deny as the policy says', async () => {
    expect((await h.call('POST', '/v1/check', t.agent, { action: 'email.send' })).body.decision).toBe('allow');
    expect((await h.call('POST', '/v1/check', t.agent, { action: 'database.drop_all' })).body.decision).toBe('deny');
  });

  it('an allowed guard is reported once; a second report is 409 invalid_state', async () => {
    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'email.send', idempotency_key: key() });
    expect(g.body.status).toBe('allowed');
    const r = await h.call('POST', '/v1/report', t.agent, { decision_id: g.body.decision_id, status: 'completed', result: { sent: 3 } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: g.body.decision_id, report_status: 'completed', report_result: { sent: 3 } });
    expect(r.body.reported_at).toEqual(expect.any(String));
    const again = await h.call('POST', '/v1/report', t.agent, { decision_id: g.body.decision_id, status: 'failed' });
    expectError(again, 409, 'invalid_state');
    const row = await one(h.rt.sql`SELECT report_status FROM decisions WHERE id = ${g.body.decision_id}`);
    expect(row.report_status).toBe('completed');
  });

  it('reporting a denied decision is 409 invalid_state and records nothing', async () => {
    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'database.drop_all', idempotency_key: key() });
    expect(g.body.status).toBe('denied');
    expectError(await h.call('POST', '/v1/report', t.agent, { decision_id: g.body.decision_id, status: 'completed' }), 409, 'invalid_state');
    const row = await one(h.rt.sql`SELECT report_status FROM decisions WHERE id = ${g.body.decision_id}`);
    expect(row.report_status).toBeNull();
  });

  it('reporting a decision that needed approval is 409: approvals use complete / fail', async () => {
    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'payment.send', idempotency_key: key() });
    expectError(await h.call('POST', '/v1/report', t.agent, { decision_id: g.body.decision_id, status: 'completed' }), 409, 'invalid_state');
  });

  it("reporting an unknown or another tenant's decision is 404", async () => {
    expectError(await h.call('POST', '/v1/report', t.agent, { decision_id: randomUUID(), status: 'completed' }), 404, 'not_found');
    const other = await h.tenant('check-other');
    await h.setPolicy(other, POLICY);
    const g = await h.call('POST', '/v1/guard', other.agent, { action: 'email.send', idempotency_key: key() });
    expectError(await h.call('POST', '/v1/report', t.agent, { decision_id: g.body.decision_id, status: 'completed' }), 404, 'not_found');
  });
});

describe('open endpoints', () => {
  it('GET /openapi.json needs no key and lists the guard and decision routes', async () => {
    const r = await h.call('GET', '/openapi.json', null);
    expect(r.status).toBe(200);
    expect(r.body.openapi).toMatch(/^3\.1/);
    expect(Object.keys(r.body.paths)).toEqual(expect.arrayContaining(['/v1/guard', '/v1/approvals/{id}/decision', '/v1/policy', '/v1/api-keys']));
    expect(r.body.paths['/v1/guard'].post).toBeDefined();
  });

  it('GET /healthz is 200 without a key', async () => {
    const r = await h.call('GET', '/healthz', null);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true });
  });

  it('GET /readyz is 200 with postgres, redis and the queues ok', async () => {
    const r = await h.call('GET', '/readyz', null);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, postgres: 'ok', redis: 'ok', queues: 'ok' });
  });
});

describe('the deadline', () => {
  it('a decision after the deadline is refused and expires the approval, even before the expiry job runs (no workers here)', async () => {
    const tk = await h.tenant('late-co');
    await h.setPolicy(tk, { defaults: { decision: 'require_approval', timeout_seconds: 1, min_timeout_seconds: 1 } });
    const g = await h.call('POST', '/v1/guard', tk.agent, { action: 'payment.send', idempotency_key: 'late-1' });
    expect(g.status).toBe(202);
    const id = g.body.approval.id as string;
    await new Promise((r) => setTimeout(r, 1_100));
    const late = await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(tk, 'alice'), { decision: 'approve' });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('already_decided');
    expect(late.body.error.message).toMatch(/^approval is already expired: its deadline passed at /);
    const got = await h.call('GET', `/v1/approvals/${id}`, tk.agent);
    expect(got.body).toMatchObject({ status: 'expired', decided_by: 'system', decision_channel: 'timeout', votes: [] });
    const types = (await h.rt.sql<{ type: string }[]>`SELECT type FROM approval_events WHERE approval_id = ${id} ORDER BY ord`).map((r) => r.type);
    expect(types).toEqual(['requested', 'expired']);
  });
});

describe('expiry sweeps', () => {
  it('expire due approvals in batches, concurrent sweeps take disjoint rows, each gets its expired event and webhook row', async () => {
    const tk = await h.tenant('sweep-co');
    await h.setPolicy(tk, { defaults: { decision: 'require_approval', timeout_seconds: 1, min_timeout_seconds: 1 } });
    await h.call('POST', '/v1/webhook-endpoints', tk.admin, { url: 'http://127.0.0.1:9/hook' });
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      const g = await h.call('POST', '/v1/guard', tk.agent, { action: 'payment.send', idempotency_key: `sweep-${i}` });
      ids.push(g.body.approval.id);
    }
    const notYet = await h.rt.service.expireDue(100);
    expect(notYet.filter((id) => ids.includes(id))).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_100));
    const [a, b] = await Promise.all([h.rt.service.expireDue(25), h.rt.service.expireDue(25)]);
    const mine = (xs: string[]) => xs.filter((id) => ids.includes(id));
    expect(new Set([...mine(a), ...mine(b)]).size).toBe(mine(a).length + mine(b).length);
    const rest = await h.rt.service.expireDue(500);
    expect(new Set([...mine(a), ...mine(b), ...mine(rest)])).toEqual(new Set(ids));
    const rows = await h.rt.sql<{ status: string; n_expired: number; n_hooks: number }[]>`
      SELECT a.status,
             (SELECT count(*)::int FROM approval_events e WHERE e.approval_id = a.id AND e.type = 'expired') AS n_expired,
             (SELECT count(*)::int FROM webhook_deliveries d JOIN approval_events e ON e.id = d.event_id
               WHERE e.approval_id = a.id AND e.type = 'expired') AS n_hooks
      FROM approvals a WHERE a.id = ANY(${ids}::uuid[])`;
    expect(rows).toHaveLength(60);
    expect(rows.every((r) => r.status === 'expired' && r.n_expired === 1 && r.n_hooks === 1)).toBe(true);
    expect(await h.rt.service.expireDue(500)).toEqual([]);
  });
});
