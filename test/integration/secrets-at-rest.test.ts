// Webhook signing secrets and OIDC client secrets are sealed in Postgres under
// HOLDPOINT_SECRET_KEY: no row holds them in the clear, a wrong key is refused
// with a line that names it (never a wrong signature), old keys still open
// what they sealed, rotate-key re-seals everything, and plaintext rows left by
// an older version are sealed by `holdpoint migrate`.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getWebhookSecrets } from '../../src/db/tenants.ts';
import { getProvider, openClientSecret } from '../../src/db/oidc.ts';
import { createKeyring, keyId, parseSecretKey, SecretKeyError } from '../../src/secrets/keyring.ts';
import { createDeliverProcessor } from '../../workers/deliver-webhook.ts';
import { silentLogger } from '../../src/log.ts';
import { TEST_SECRET_KEY } from '../helpers/env.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { ROOT, runCli } from '../helpers/processes.ts';
import { startReceiver, waitFor } from '../helpers/receiver.ts';

const K1 = parseSecretKey(TEST_SECRET_KEY)!;
const K2 = randomBytes(32);
const OTHER = randomBytes(32);

let h: Harness;
let t: TenantKeys;
let recv: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
  recv = await startReceiver();
});

afterAll(async () => {
  await recv.close();
  await h.close();
});

/** Every way the secret could appear in a row: as given, its key bytes in base64, base64url and hex. */
function leaks(rowText: string, secret: string): boolean {
  const raw = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret);
  return [secret, raw.toString('base64'), raw.toString('base64url'), raw.toString('hex')].some((s) => rowText.includes(s));
}

const cliEnv = (extra: Record<string, string> = {}) => ({ DATABASE_URL: h.config.DATABASE_URL, REDIS_URL: h.config.REDIS_URL, LOG_LEVEL: 'silent', ...extra });

describe('secrets at rest', () => {
  it('the tenants row holds no plaintext webhook secret, yet the endpoint API hands out the working one', async () => {
    const [row] = await h.rt.sql<{ j: string }[]>`SELECT row_to_json(t)::text AS j FROM tenants t WHERE id = ${t.tenant_id}`;
    expect(leaks(row!.j, t.webhook_secret)).toBe(false);
    expect(row!.j).toMatch(/"webhook_secret_sealed":"v1:/);
    const ep = await h.call('POST', '/v1/webhook-endpoints', t.admin, { url: recv.url('/ep') });
    expect(ep.status).toBe(201);
    expect(ep.body.secret).toBe(t.webhook_secret);
  });

  it('the tenant_oidc row holds no plaintext client secret', async () => {
    const clientSecret = `oidc-client-secret-${randomBytes(12).toString('hex')}`;
    const r = await h.call('PUT', '/v1/oidc', t.admin, { issuer: 'https://login.example.com', client_id: 'holdpoint', client_secret: clientSecret });
    expect(r.status).toBe(201);
    expect(JSON.stringify(r.body)).not.toContain(clientSecret);
    const [row] = await h.rt.sql<{ j: string }[]>`SELECT row_to_json(o)::text AS j FROM tenant_oidc o WHERE tenant_id = ${t.tenant_id}`;
    expect(row!.j).not.toContain(clientSecret);
    expect(row!.j).toMatch(/"client_secret_sealed":"v1:/);
    expect(openClientSecret(h.rt.secrets, (await getProvider(h.rt.sql, t.tenant_id))!)).toBe(clientSecret);
  });

  it('a wrong key fails with an error naming the key, never a wrong signature: the delivery is not sent and no attempt is counted', async () => {
    const wrong = createKeyring(OTHER);
    await expect(getWebhookSecrets(h.rt.sql, wrong, t.tenant_id, new Date())).rejects.toThrow(SecretKeyError);
    await expect(getWebhookSecrets(h.rt.sql, wrong, t.tenant_id, new Date())).rejects.toThrow(
      new RegExp(`encrypted under secret key ${keyId(K1)}, which is neither HOLDPOINT_SECRET_KEY \\(key ${keyId(OTHER)}\\)`),
    );

    await h.setPolicy(t, { defaults: { decision: 'require_approval' } });
    const parked = await h.call('POST', '/v1/guard', t.agent, { action: 'email.send', idempotency_key: 'wrong-key', callback_url: recv.url('/wrong-key') });
    expect(parked.status).toBe(202);
    const [d] = await waitFor(() => h.rt.sql<{ id: string }[]>`SELECT d.id FROM webhook_deliveries d JOIN approval_events e ON e.id = d.event_id WHERE e.approval_id = ${parked.body.approval.id}`.then((r) => (r.length ? r : undefined)));
    const process = createDeliverProcessor({ sql: h.rt.sql, secrets: wrong, log: silentLogger, clock: () => new Date(), allowPrivate: true, deadlineMs: 2_000, retryBaseMs: 50, maxAttempts: 3 });
    await expect(process({ data: { delivery_id: d!.id } } as never)).rejects.toThrow(SecretKeyError);
    expect(recv.received.filter((r) => r.path === '/wrong-key')).toHaveLength(0);
    const [after] = await h.rt.sql<{ attempts: number; status: string }[]>`SELECT attempts, status FROM webhook_deliveries WHERE id = ${d!.id}`;
    expect(after).toEqual({ attempts: 0, status: 'pending' });
  });

  it('a process started with another key refuses to start, in one line that says which key the database needs', async () => {
    const r = await runCli(['start'], cliEnv({ HOLDPOINT_SECRET_KEY: OTHER.toString('hex'), PORT: '0', HOST: '127.0.0.1' }));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`encrypted under key ${keyId(K1)}`);
    expect(r.stderr).toContain('HOLDPOINT_SECRET_KEY');
  });

  it('an old key in HOLDPOINT_SECRET_KEYS_OLD still opens what it sealed; without it the secret cannot be opened', async () => {
    const rotated = createKeyring(K2, [K1]);
    expect((await getWebhookSecrets(h.rt.sql, rotated, t.tenant_id, new Date()))!.current).toBe(t.webhook_secret);
    await expect(getWebhookSecrets(h.rt.sql, createKeyring(K2), t.tenant_id, new Date())).rejects.toMatchObject({ reason: 'unknown_key' });
  });

  it('holdpoint secrets rotate-key re-encrypts every secret under the current key, after which the old key is not needed', async () => {
    const r = await runCli(['secrets', 'rotate-key', '--json'], cliEnv({ HOLDPOINT_SECRET_KEY: K2.toString('base64'), HOLDPOINT_SECRET_KEYS_OLD: `${OTHER.toString('hex')}, ${TEST_SECRET_KEY}` }));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.key_id).toBe(keyId(K2));
    expect(out.webhook_secrets).toBeGreaterThanOrEqual(1);
    expect(out.oidc_client_secrets).toBeGreaterThanOrEqual(1);
    const kids = await h.rt.sql<{ kid: string }[]>`
      SELECT DISTINCT split_part(v, ':', 2) AS kid FROM (
        SELECT webhook_secret_sealed v FROM tenants UNION ALL SELECT webhook_secret_prev_sealed FROM tenants
        UNION ALL SELECT client_secret_sealed FROM tenant_oidc) s WHERE v IS NOT NULL`;
    expect(kids.map((k) => k.kid)).toEqual([keyId(K2)]);
    const only = createKeyring(K2);
    expect((await getWebhookSecrets(h.rt.sql, only, t.tenant_id, new Date()))!.current).toBe(t.webhook_secret);
    // Nothing left to do the second time.
    const again = await runCli(['secrets', 'rotate-key', '--json'], cliEnv({ HOLDPOINT_SECRET_KEY: K2.toString('base64') }));
    expect(JSON.parse(again.stdout)).toMatchObject({ webhook_secrets: 0, oidc_client_secrets: 0 });
    // Back to the suite's key for the rest of the file.
    await runCli(['secrets', 'rotate-key'], cliEnv({ HOLDPOINT_SECRET_KEY: TEST_SECRET_KEY, HOLDPOINT_SECRET_KEYS_OLD: K2.toString('hex') }));
  });

  it('plaintext rows from before 0009 are read as they are, and holdpoint migrate encrypts them', async () => {
    const legacy = `whsec_${randomBytes(24).toString('base64')}`;
    const [old] = await h.rt.sql<{ id: string }[]>`INSERT INTO tenants (name, webhook_secret) VALUES ('legacy', ${legacy}) RETURNING id`;
    await h.rt.sql`INSERT INTO tenant_oidc (tenant_id, issuer, client_id, client_secret, display_name) VALUES (${old!.id}, 'https://login.example.com', 'c', 'legacy-client-secret', 'Legacy')`;
    expect((await getWebhookSecrets(h.rt.sql, h.rt.secrets, old!.id, new Date()))!.current).toBe(legacy);

    const r = await runCli(['migrate'], cliEnv());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('encrypted 2 plaintext secret(s)');
    const [row] = await h.rt.sql<{ j: string }[]>`SELECT row_to_json(t)::text AS j FROM tenants t WHERE id = ${old!.id}`;
    expect(leaks(row!.j, legacy)).toBe(false);
    const [o] = await h.rt.sql<{ j: string }[]>`SELECT row_to_json(o)::text AS j FROM tenant_oidc o WHERE tenant_id = ${old!.id}`;
    expect(o!.j).not.toContain('legacy-client-secret');
    expect((await getWebhookSecrets(h.rt.sql, h.rt.secrets, old!.id, new Date()))!.current).toBe(legacy);
    expect(openClientSecret(h.rt.secrets, (await getProvider(h.rt.sql, old!.id))!)).toBe('legacy-client-secret');
  });

  it('with no HOLDPOINT_SECRET_KEY a first run just works: a key is generated into ./.holdpoint/secret.key (0600), said in one line, and reused', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hp-key-'));
    try {
      const env = { ...process.env, ...cliEnv(), HOLDPOINT_SECRET_KEY: '', NODE_ENV: '' };
      const run = () =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const p = spawn(process.execPath, [path.join(ROOT, 'bin/holdpoint.js'), 'tenant', 'create', 'first-run', '--json'], { cwd: dir, env });
          let stdout = '';
          let stderr = '';
          p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
          p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
          p.once('exit', (code) => resolve({ code, stdout, stderr }));
        });
      const first = await run();
      expect(first.code).toBe(0);
      const file = path.join(dir, '.holdpoint', 'secret.key');
      expect(first.stderr.trim().split('\n')).toEqual([expect.stringContaining(`generated a secret key in ${file} (mode 0600)`)]);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const key = parseSecretKey(await readFile(file, 'utf8'))!;
      const created = JSON.parse(first.stdout) as { tenant_id: string; webhook_secret: string };
      expect((await getWebhookSecrets(h.rt.sql, createKeyring(key), created.tenant_id, new Date()))!.current).toBe(created.webhook_secret);
      const second = await run();
      expect(second.code).toBe(0);
      expect(second.stderr).toBe('');
      expect(parseSecretKey(await readFile(file, 'utf8'))!.equals(key)).toBe(true);

      // In production nothing is made up: one clear line, exit 1.
      const prod = await runCli(['tenant', 'create', 'prod'], { ...cliEnv(), HOLDPOINT_SECRET_KEY: '', NODE_ENV: 'production' });
      expect(prod.code).toBe(1);
      expect(prod.stderr).toMatch(/^holdpoint: HOLDPOINT_SECRET_KEY is not set \(NODE_ENV=production\): generate one with `openssl rand -base64 32`/);
      // The tenants made under the throwaway key would stop the suite's own processes: remove them.
      await h.rt.sql`DELETE FROM api_keys WHERE tenant_id = ${created.tenant_id}`;
      await h.rt.sql`DELETE FROM tenants WHERE id = ${created.tenant_id}`;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a malformed HOLDPOINT_SECRET_KEY is refused at boot with how to make one', async () => {
    const r = await runCli(['tenant', 'list'], { ...cliEnv(), HOLDPOINT_SECRET_KEY: 'too-short' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('HOLDPOINT_SECRET_KEY: must be 32 bytes as base64 or 64 hex digits (generate one with: openssl rand -base64 32)');
  });
});
