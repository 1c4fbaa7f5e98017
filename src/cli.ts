// The `holdpoint` command. Every command validates its arguments with zod and
// exits 2 on bad usage, 1 on failure, with one clear line on stderr.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, loadConfig, loadMcpProxyEnv, maskUrl, type Config } from './config.ts';
import { createSql, type Sql } from './db/client.ts';
import { isConnectionError } from './db/errors.ts';
import { getApprover } from './db/approvers.ts';
import { PERMISSIONS, ROLES, insertKey, revokeKey } from './db/keys.ts';
import { listMigrations, migrate } from './db/migrate.ts';
import { getTenant, insertTenant, listTenants, rotateWebhookSecret } from './db/tenants.ts';
import { resealSecrets, unknownSecretKeys } from './db/secrets.ts';
import { SecretKeyError, type Keyring } from './secrets/keyring.ts';
import { loadKeyring } from './secrets/key-source.ts';
import { addApprover, listApprovers, NewApproverSchema, removeApprover } from './identities/approvers.ts';
import { AppError } from './errors.ts';
import { createLogger } from './log.ts';
import { createProducerConnection, pingRedis } from './queue/connection.ts';
import { createPolicyStore, parsePolicySource } from './services/policies.ts';
import { runDemo } from './demo.ts';
import { getProvider, ProviderInput, redirectUriOf, removeProvider, renderProvider, setProvider } from './identities/oidc.ts';
import { startServer } from './server.ts';
import { evaluateRequest } from './policy/evaluate.ts';
import { parsePolicy } from './policy/schema.ts';
import { McpProxyError, McpProxyOptions, runMcpProxy } from './mcp/proxy.ts';

class UsageError extends Error {}
class BootError extends Error {}

const USAGE = `usage: holdpoint <command>

  migrate                               apply sql/ migrations (safe to run concurrently)
  start [--api | --worker]              run the API and workers (default: both)
  tenant create NAME [--json]           create a tenant; prints its id, API keys and webhook secret
  tenant list [--json]
  approver add NAME --tenant ID [--email E] [--slack-user U] [--json]
                                        add a person who may decide; prints an approver key bound to them
  approver list --tenant ID [--json]
  approver remove NAME --tenant ID      remove the person and revoke their keys
  key create --tenant ID --role agent|approver|admin [--name N] [--approver NAME]
             [--permission assert_identity] [--json]
  key revoke --tenant ID KEY_ID
  policy set --tenant ID FILE|-         validate and store a policy (YAML or JSON)
  policy get --tenant ID
  policy test FILE REQUEST              evaluate a JSON request against a draft policy (no counters, nothing saved)
  webhook-secret rotate --tenant ID [--overlap-hours H] [--json]
                                        a new webhook signing secret; the old one also signs for H hours (default 24, 0: none)
  secrets rotate-key [--json]           re-encrypt every stored secret under HOLDPOINT_SECRET_KEY; then
                                        HOLDPOINT_SECRET_KEYS_OLD can be emptied
  oidc set --tenant ID --issuer URL --client-id ID --client-secret S|- [--name LABEL] [--json]
                                        sign in to the web inbox at the tenant's OpenID Connect provider
  oidc get --tenant ID [--json]         the provider (never the secret) and the redirect URI to register
  oidc remove --tenant ID               stop single sign-on and end the sessions it opened
  demo                                  a full round trip to watch (creates a demo tenant)
  mcp-proxy --url URL --key KEY [--agent-id ID] [--server-name NAME] [--hide-denied]
            [--listen HOST:PORT] (-- COMMAND [ARGS…] | --upstream URL)
                                        guard every MCP tools/call of a server (docs/mcp.md);
                                        HOLDPOINT_URL, HOLDPOINT_API_KEY, HOLDPOINT_AGENT_ID

environment: DATABASE_URL, REDIS_URL, PORT, HOLDPOINT_SECRET_KEY, ... (see README)`;

const uuid = z.string().uuid('must be a tenant id (uuid)');

async function connectPostgres(config: Config): Promise<Sql> {
  const sql = createSql(config.DATABASE_URL, { max: 4 });
  try {
    await sql`SELECT 1`;
    return sql;
  } catch (err) {
    await sql.end({ timeout: 1 }).catch(() => undefined);
    throw new BootError(postgresProblem(config.DATABASE_URL, err));
  }
}

/** One line that says what went wrong with Postgres: unreachable, refused us, or missing the database. */
export function postgresProblem(url: string, err: unknown): string {
  const why = err instanceof Error ? err.message || (err as { code?: string }).code : String(err);
  const code = (err as { code?: string }).code;
  const at = maskUrl(url);
  if (isConnectionError(err)) {
    return `cannot reach Postgres at ${at} (${why}). Start it with \`docker compose up -d postgres\` (or your local server), or set DATABASE_URL.`;
  }
  if (code === '3D000') return `reached Postgres at ${at}, but ${why}: \`holdpoint migrate\` (npm start runs it) creates it.`;
  if (code === '28000' || code === '28P01') {
    return `reached Postgres at ${at}, but it refused this login (${why}). Put a user and password that exist in DATABASE_URL (postgres://USER:PASSWORD@host:5432/holdpoint).`;
  }
  return `reached Postgres at ${at}, but it answered: ${why}. Check DATABASE_URL.`;
}

/**
 * On a fresh server the database does not exist yet: create it (through the
 * maintenance database), so `npm start` works on a new machine.
 */
async function ensureDatabase(config: Config): Promise<void> {
  const target = createSql(config.DATABASE_URL, { max: 1 });
  try {
    await target`SELECT 1`;
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') return; // not "database does not exist": connectPostgres will explain
  } finally {
    await target.end({ timeout: 1 }).catch(() => undefined);
  }
  const url = new URL(config.DATABASE_URL);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = createSql(url.toString(), { max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    process.stdout.write(`created database ${name}\n`);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') {
      throw new BootError(`database ${name} does not exist and could not be created (${(err as Error).message}); create it, or point DATABASE_URL at one that exists.`);
    }
  } finally {
    await admin.end({ timeout: 1 }).catch(() => undefined);
  }
}

/** The database number in a redis:// URL (0 when none is given). */
export function redisDb(url: string): number {
  const n = new URL(url).pathname.replace(/^\//, '');
  return n === '' ? 0 : Number(n);
}

async function checkRedis(config: Config): Promise<void> {
  // db 0 here: the SELECT below is what says whether the configured database exists.
  const u = new URL(config.REDIS_URL);
  u.pathname = '';
  const redis = createProducerConnection(u.toString(), { lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => undefined);
  const db = redisDb(config.REDIS_URL);
  try {
    try {
      await redis.connect();
      await pingRedis(redis, 3_000);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new BootError(
        `cannot reach Redis at ${maskUrl(config.REDIS_URL)} (${why}). Start it with \`docker compose up -d redis\` (or your local server), or set REDIS_URL.`,
      );
    }
    try {
      await redis.select(db);
    } catch (err) {
      const count = await redis.config('GET', 'databases').then((r) => Number((r as string[])[1]), () => NaN);
      const has = Number.isFinite(count) ? ` (it has ${count}: 0–${count - 1})` : '';
      throw new BootError(`Redis at ${maskUrl(config.REDIS_URL)} has no database ${db}${has}: ${(err as Error).message}. Pick one that exists in REDIS_URL.`);
    }
  } finally {
    redis.disconnect();
  }
}

async function checkMigrated(sql: Sql): Promise<void> {
  const want = await listMigrations();
  let have: Set<string>;
  try {
    have = new Set((await sql<{ name: string }[]>`SELECT name FROM holdpoint_migrations`).map((r) => r.name));
  } catch {
    have = new Set();
  }
  const missing = want.filter((f) => !have.has(f));
  if (missing.length > 0) throw new BootError(`database is not migrated (missing ${missing.join(', ')}): run \`holdpoint migrate\` first (npm start does).`);
}

/**
 * The keyring, checked against what the database holds: a process whose key
 * cannot open the stored secrets refuses to start rather than sign with the
 * wrong one. Then seals any plaintext an older version left.
 */
async function keyringFor(sql: Sql, secrets: Keyring): Promise<{ sealed: number }> {
  const unknown = await unknownSecretKeys(sql, secrets);
  if (unknown.length > 0) {
    throw new BootError(
      `secrets in the database are encrypted under key ${unknown.join(', ')}, which HOLDPOINT_SECRET_KEY (key ${secrets.currentKid}) and HOLDPOINT_SECRET_KEYS_OLD (${secrets.kids.slice(1).join(', ') || 'empty'}) do not hold: set the key they were encrypted with (every process needs the same key)`,
    );
  }
  const r = await resealSecrets(sql, secrets, { onlyPlaintext: true });
  return { sealed: r.webhook_secrets + r.oidc_client_secrets };
}

/** CLI output stays clean (`--json` on stdout): the one line about a generated key goes to stderr. */
const stderrLog = { info: (msg: string) => process.stderr.write(`holdpoint: ${msg}\n`) };

function print(json: boolean, value: unknown, text: string) {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

async function withSql<T>(config: Config, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = await connectPostgres(config);
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return cmd ? 0 : 2;
  }
  if (cmd === 'mcp-proxy') return mcpProxy(sub ? [sub, ...rest] : rest);
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, { service: 'holdpoint' });

  switch (cmd) {
    case 'migrate': {
      await ensureDatabase(config);
      const secrets = loadKeyring(config, stderrLog);
      const { r, sealed } = await withSql(config, async (sql) => {
        const r = await migrate(sql);
        return { r, ...(await keyringFor(sql, secrets)) };
      });
      process.stdout.write(
        r.applied.length ? `applied ${r.applied.join(', ')}\n` : `up to date (${r.alreadyApplied.length} migrations)\n`,
      );
      if (sealed) process.stdout.write(`encrypted ${sealed} plaintext secret(s) under key ${secrets.currentKid}\n`);
      return 0;
    }

    case 'start': {
      const { values } = parseArgs({ args: sub ? [sub, ...rest] : rest, options: { api: { type: 'boolean' }, worker: { type: 'boolean' } }, strict: true });
      const roles = values.api || values.worker ? { api: !!values.api, worker: !!values.worker } : { api: true, worker: true };
      const secrets = loadKeyring(config, log);
      await withSql(config, async (sql) => {
        await checkMigrated(sql);
        const { sealed } = await keyringFor(sql, secrets);
        if (sealed) log.info('encrypted plaintext secrets left by an older version', { count: sealed, kid: secrets.currentKid });
      });
      await checkRedis(config);
      const running = await startServer(config, log, roles, secrets).catch((err: unknown) => {
        if ((err as { code?: string }).code === 'EADDRINUSE') {
          const e = err as { address?: string; port?: number };
          throw new BootError(`port ${e.port ?? config.PORT} on ${e.address ?? config.HOST} is already in use (another Holdpoint?): stop it, or set PORT (HOLDPOINT_METRICS_PORT for the metrics port).`);
        }
        throw err;
      });
      await new Promise<void>((resolve) => {
        const onSignal = (sig: string) => {
          log.info('signal received', { signal: sig });
          running.stop().then(resolve, (err) => {
            log.error('shutdown failed', { err });
            resolve();
          });
        };
        process.once('SIGTERM', () => onSignal('SIGTERM'));
        process.once('SIGINT', () => onSignal('SIGINT'));
      });
      return 0;
    }

    case 'tenant': {
      if (sub === 'create') {
        const { values, positionals } = parseArgs({ args: rest, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
        const name = z.string().trim().min(1, 'tenant create needs a NAME').max(200).safeParse(positionals.join(' '));
        if (!name.success) throw new UsageError(name.error.issues[0]!.message);
        const secrets = loadKeyring(config, stderrLog);
        const out = await withSql(config, (sql) =>
          sql.begin(async (tx) => {
            const t = await insertTenant(tx, secrets, name.data);
            const keys: Record<string, string> = {};
            for (const role of ROLES) keys[role] = (await insertKey(tx, { tenant_id: t.id, role, name: `${role} (tenant create)` })).key;
            return { tenant_id: t.id, name: t.name, api_keys: keys, webhook_secret: t.webhook_secret };
          }),
        );
        print(
          !!values.json,
          out,
          [
            `tenant ${out.name}: ${out.tenant_id}`,
            `  agent key:      ${out.api_keys.agent}`,
            `  approver key:   ${out.api_keys.approver}`,
            `  admin key:      ${out.api_keys.admin}`,
            `  webhook secret: ${out.webhook_secret}`,
            'Keys are shown once; store them now.',
            'The approver key decides as itself (key:…), one vote. Give each person who approves',
            `their own identity and key: holdpoint approver add alice --tenant ${out.tenant_id} --email alice@example.com`,
          ].join('\n'),
        );
        return 0;
      }
      if (sub === 'list') {
        const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } }, strict: true });
        const rows = await withSql(config, listTenants);
        const out = rows.map((t) => ({ id: t.id, name: t.name, created_at: t.created_at.toISOString() }));
        print(!!values.json, out, out.map((t) => `${t.id}  ${t.name}`).join('\n') || '(no tenants)');
        return 0;
      }
      throw new UsageError('tenant needs a subcommand: create | list');
    }

    case 'approver': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { tenant: { type: 'string' }, email: { type: 'string' }, 'slack-user': { type: 'string' }, json: { type: 'boolean' } },
        allowPositionals: true,
        strict: true,
      });
      const tenant = uuid.safeParse(values.tenant);
      if (!tenant.success) throw new UsageError(`--tenant: ${tenant.error.issues[0]!.message}`);
      const known = (sql: Sql) => getTenant(sql, tenant.data).then((t) => {
        if (!t) throw new AppError('not_found', `tenant ${tenant.data} not found`);
      });
      if (sub === 'add') {
        const input = NewApproverSchema.safeParse({ name: positionals[0] ?? '', email: values.email, slack_user_id: values['slack-user'] });
        if (!input.success) throw new UsageError(input.error.issues.map((i) => `${i.path[0] === 'name' ? 'NAME' : `--${String(i.path[0]).replace('slack_user_id', 'slack-user')}`}: ${i.message}`).join('; '));
        const out = await withSql(config, async (sql) => {
          await known(sql);
          return addApprover(sql, tenant.data, input.data, 'cli');
        });
        print(!!values.json, out, [`approver ${out.approver.name} added`, `  approver key: ${out.api_key}`, 'The key is shown once; it decides as this person.'].join('\n'));
        return 0;
      }
      if (sub === 'list') {
        const rows = await withSql(config, (sql) => listApprovers(sql, tenant.data));
        print(!!values.json, rows, rows.map((a) => [a.name, a.email ?? '', a.slack_user_id ?? ''].join('  ').trim()).join('\n') || '(no approvers)');
        return 0;
      }
      if (sub === 'remove') {
        if (!positionals[0]) throw new UsageError('approver remove needs a NAME');
        const out = await withSql(config, (sql) => removeApprover(sql, tenant.data, positionals[0]!));
        print(!!values.json, out, `removed ${out.approver.name}; revoked ${out.revoked_keys} key(s)`);
        return 0;
      }
      throw new UsageError('approver needs a subcommand: add | list | remove');
    }

    case 'key': {
      if (sub === 'create') {
        const { values } = parseArgs({
          args: rest,
          options: {
            tenant: { type: 'string' },
            role: { type: 'string' },
            name: { type: 'string' },
            approver: { type: 'string' },
            permission: { type: 'string', multiple: true },
            json: { type: 'boolean' },
          },
          strict: true,
        });
        const args = z
          .object({
            tenant: uuid,
            role: z.enum(ROLES),
            name: z.string().max(200).optional(),
            approver: z.string().min(1).max(200).optional(),
            permission: z.array(z.enum(PERMISSIONS)).default([]),
          })
          .safeParse(values);
        if (!args.success) throw new UsageError(args.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
        if (args.data.role === 'agent' && (args.data.approver || args.data.permission.length > 0)) {
          throw new UsageError('agent keys carry no approver and no permissions');
        }
        const { key, row } = await withSql(config, async (sql) => {
          if (!(await getTenant(sql, args.data.tenant))) throw new AppError('not_found', `tenant ${args.data.tenant} not found`);
          if (args.data.approver && !(await getApprover(sql, args.data.tenant, args.data.approver))) {
            throw new AppError('unknown_approver', `no approver named "${args.data.approver}": add the person first (holdpoint approver add)`);
          }
          return insertKey(sql, {
            tenant_id: args.data.tenant,
            role: args.data.role,
            name: args.data.name ?? null,
            approver: args.data.approver ?? null,
            permissions: [...new Set(args.data.permission)],
          });
        });
        print(!!values.json, { id: row.id, role: row.role, key, approver: row.approver, permissions: row.permissions }, `${row.role} key ${row.id}: ${key}`);
        return 0;
      }
      if (sub === 'revoke') {
        const { values, positionals } = parseArgs({ args: rest, options: { tenant: { type: 'string' } }, allowPositionals: true, strict: true });
        const args = z.object({ tenant: uuid, id: z.string().uuid('KEY_ID must be a key id') }).safeParse({ tenant: values.tenant, id: positionals[0] });
        if (!args.success) throw new UsageError(args.error.issues.map((i) => i.message).join('; '));
        const row = await withSql(config, (sql) => revokeKey(sql, args.data.tenant, args.data.id));
        if (!row) throw new AppError('not_found', 'no such key for this tenant');
        process.stdout.write(`revoked ${row.id}\n`);
        return 0;
      }
      throw new UsageError('key needs a subcommand: create | revoke');
    }

    case 'oidc': {
      const { values } = parseArgs({
        args: rest,
        options: { tenant: { type: 'string' }, issuer: { type: 'string' }, 'client-id': { type: 'string' }, 'client-secret': { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } },
        strict: true,
      });
      const tenant = uuid.safeParse(values.tenant);
      if (!tenant.success) throw new UsageError(`--tenant: ${tenant.error.issues[0]!.message}`);
      const redirect = redirectUriOf(config.HOLDPOINT_PUBLIC_URL);
      if (sub === 'set') {
        const secret = values['client-secret'] === '-' ? (await readStdin()).trim() : values['client-secret'];
        const args = ProviderInput.safeParse({ issuer: values.issuer, client_id: values['client-id'], client_secret: secret, display_name: values.name });
        if (!args.success) throw new UsageError(args.error.issues.map((i) => `--${String(i.path[0]).replace('_', '-').replace('display-name', 'name')}: ${i.message}`).join('; '));
        const secrets = loadKeyring(config, stderrLog);
        const r = await withSql(config, (sql) => setProvider(sql, tenant.data, args.data, 'cli', secrets));
        const out = { ...renderProvider(r.row, redirect), ended_sessions: r.ended_sessions };
        print(!!values.json, out, [
          `single sign-on ${r.created ? 'set' : 'updated'}: ${out.display_name} (${out.issuer}, client ${out.client_id})`,
          redirect ? `  register this redirect URI at the provider: ${redirect}` : '  HOLDPOINT_PUBLIC_URL is not set: set it, then register <it>/ui/oidc/callback at the provider',
          `  people sign in at: ${config.HOLDPOINT_PUBLIC_URL?.replace(/\/+$/, '') ?? '<HOLDPOINT_PUBLIC_URL>'}/ui/login?tenant=${tenant.data}`,
          ...(r.ended_sessions ? [`  ended ${r.ended_sessions} session(s) opened by the previous provider`] : []),
        ].join('\n'));
        return 0;
      }
      if (sub === 'get') {
        const row = await withSql(config, (sql) => getProvider(sql, tenant.data));
        if (!row) throw new AppError('not_found', 'single sign-on is not set up for this tenant');
        const out = renderProvider(row, redirect);
        print(!!values.json, out, `${out.display_name}: ${out.issuer} (client ${out.client_id}); redirect URI ${out.redirect_uri ?? '(set HOLDPOINT_PUBLIC_URL)'}`);
        return 0;
      }
      if (sub === 'remove') {
        const r = await withSql(config, (sql) => removeProvider(sql, tenant.data));
        if (!r) throw new AppError('not_found', 'single sign-on is not set up for this tenant');
        process.stdout.write(`single sign-on removed; ended ${r.ended_sessions} session(s)\n`);
        return 0;
      }
      throw new UsageError('oidc needs a subcommand: set | get | remove');
    }

    case 'webhook-secret': {
      if (sub !== 'rotate') throw new UsageError('webhook-secret needs a subcommand: rotate');
      const { values } = parseArgs({ args: rest, options: { tenant: { type: 'string' }, 'overlap-hours': { type: 'string' }, json: { type: 'boolean' } }, strict: true });
      const args = z
        .object({ tenant: uuid, hours: z.coerce.number().min(0, 'must be 0 or more').max(720, 'at most 720 (30 days)').default(24) })
        .safeParse({ tenant: values.tenant, hours: values['overlap-hours'] });
      if (!args.success) throw new UsageError(args.error.issues.map((i) => `--${i.path[0] === 'hours' ? 'overlap-hours' : 'tenant'}: ${i.message}`).join('; '));
      const secrets = loadKeyring(config, stderrLog);
      const r = await withSql(config, (sql) => sql.begin((tx) => rotateWebhookSecret(tx, secrets, args.data.tenant, { overlapMs: Math.round(args.data.hours * 3_600_000), now: new Date() })));
      if (!r) throw new AppError('not_found', `tenant ${args.data.tenant} not found`);
      const out = { webhook_secret: r.webhook_secret, previous_secret_valid_until: r.previous_valid_until?.toISOString() ?? null };
      print(!!values.json, out, [
        `new webhook secret: ${out.webhook_secret}`,
        out.previous_secret_valid_until
          ? `  deliveries are signed with both the new and the old secret until ${out.previous_secret_valid_until}; then with the new one only`
          : '  the old secret no longer signs anything',
        'The secret is shown once; store it now.',
      ].join('\n'));
      return 0;
    }

    case 'secrets': {
      if (sub !== 'rotate-key') throw new UsageError('secrets needs a subcommand: rotate-key');
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } }, strict: true });
      const secrets = loadKeyring(config, stderrLog);
      const r = await withSql(config, (sql) => resealSecrets(sql, secrets, { onlyPlaintext: false }));
      const out = { key_id: secrets.currentKid, ...r };
      print(!!values.json, out, [
        `re-encrypted ${r.webhook_secrets} tenant webhook secret row(s) and ${r.oidc_client_secrets} OIDC client secret(s) under key ${secrets.currentKid}`,
        'Every stored secret is now under HOLDPOINT_SECRET_KEY: HOLDPOINT_SECRET_KEYS_OLD can be emptied once every process runs with this key.',
      ].join('\n'));
      return 0;
    }

    case 'demo': {
      await ensureDatabase(config);
      await withSql(config, (sql) => migrate(sql));
      await checkRedis(config);
      await runDemo(config, createLogger('warn', { service: 'holdpoint' }), (line) => process.stdout.write(`${line}\n`));
      return 0;
    }

    case 'policy': {
      const { values, positionals } = parseArgs({ args: rest, options: { tenant: { type: 'string' } }, allowPositionals: true, strict: true });
      const tenant = sub === 'test' ? { success: true as const, data: '' } : uuid.safeParse(values.tenant);
      if (!tenant.success) throw new UsageError(`--tenant: ${tenant.error.issues[0]!.message}`);
      if (sub === 'set') {
        const file = positionals[0];
        if (!file) throw new UsageError('policy set needs a FILE (or - for stdin)');
        const text = await readSource(file);
        const doc = parsePolicySource(text, file.endsWith('.json') ? 'application/json' : 'application/yaml');
        const saved = await withSql(config, (sql) => createPolicyStore(sql).set(tenant.data, doc, text, 'cli'));
        process.stdout.write(`policy version ${saved.version} is active\n`);
        return 0;
      }
      if (sub === 'test') {
        // Pure evaluation of a draft: no counters (budgets and rate limits see zero), nothing saved.
        const file = positionals[0];
        const request = positionals[1];
        if (!file || !request) throw new UsageError("policy test needs a FILE and a REQUEST (JSON, e.g. '{\"action\":\"payment.send\",\"params\":{\"amount\":5000}}')");
        const text = await readSource(file);
        const parsed = parsePolicy(parsePolicySource(text, file.endsWith('.json') ? 'application/json' : 'application/yaml'));
        if (!parsed.ok) throw new AppError('validation_failed', 'the policy is invalid', { problems: parsed.problems });
        let raw: unknown;
        try {
          raw = JSON.parse(request);
        } catch {
          throw new UsageError('REQUEST must be JSON');
        }
        const req = z
          .strictObject({ action: z.string().min(1), agent_id: z.string().min(1).default('default'), params: z.record(z.string(), z.unknown()).default({}), context: z.record(z.string(), z.unknown()).default({}), cost_usd: z.number().min(0).optional() })
          .safeParse(raw);
        if (!req.success) throw new UsageError(`REQUEST: ${req.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
        const { ops: _ops, findings: _f, ...result } = evaluateRequest(parsed.policy, req.data, { counters: {}, now: Date.now() });
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return 0;
      }
      if (sub === 'get') {
        const p = await withSql(config, (sql) => createPolicyStore(sql).get(tenant.data));
        process.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
        return 0;
      }
      throw new UsageError('policy needs a subcommand: set | get');
    }
  }
  throw new UsageError(`unknown command "${cmd}"`);
}

/** `holdpoint mcp-proxy`: flags over environment, checked with zod; the work is in src/mcp. */
async function mcpProxy(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      'agent-id': { type: 'string' },
      'server-name': { type: 'string' },
      'inbox-url': { type: 'string' },
      upstream: { type: 'string' },
      listen: { type: 'string' },
      'hide-denied': { type: 'boolean' },
      'progress-interval': { type: 'string' },
      'retry-window': { type: 'string' },
      'lease-seconds': { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const env = loadMcpProxyEnv();
  const parsed = McpProxyOptions.safeParse({
    url: values.url ?? env.url,
    key: values.key ?? env.key,
    agentId: values['agent-id'] ?? env.agentId,
    serverName: values['server-name'],
    inboxUrl: values['inbox-url'],
    upstream: values.upstream,
    listen: values.listen,
    hideDenied: values['hide-denied'] ?? false,
    progressInterval: values['progress-interval'],
    retryWindow: values['retry-window'],
    leaseSeconds: values['lease-seconds'],
    command: positionals,
  });
  if (!parsed.success) {
    const flag: Record<string, string> = { url: '--url (or HOLDPOINT_URL)', key: '--key (or HOLDPOINT_API_KEY)', agentId: '--agent-id', command: 'COMMAND' };
    throw new UsageError(`mcp-proxy: ${parsed.error.issues.map((i) => `${flag[String(i.path[0])] ?? `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`}: ${i.message}`).join('; ')}`);
  }
  try {
    await runMcpProxy(parsed.data, env.serverEnv, (line) => process.stderr.write(`holdpoint mcp-proxy: ${line}\n`));
  } catch (err) {
    if (err instanceof McpProxyError) throw new BootError(err.message);
    throw err;
  }
  return 0;
}

/** A file's text (or stdin for -); a missing or unreadable file is one line, not a stack trace. */
async function readSource(file: string): Promise<string> {
  if (file === '-') return readStdin();
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new BootError(`cannot read ${file}: ${why}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`holdpoint: ${err.message}\n\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (err instanceof BootError || err instanceof ConfigError || err instanceof SecretKeyError) {
      process.stderr.write(`holdpoint: ${err.message}\n`);
      process.exitCode = 1;
    } else if (err instanceof AppError) {
      const problems = (err.details as { problems?: { path: string; message: string }[] })?.problems;
      process.stderr.write(`holdpoint: ${err.message}${problems ? `\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}` : ''}\n`);
      process.exitCode = 1;
    } else if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`holdpoint: ${err.message}\n\n${USAGE}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`holdpoint: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    }
  }
}
