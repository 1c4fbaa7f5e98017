// The `holdpoint` command. Every command validates its arguments with zod and
// exits 2 on bad usage, 1 on failure, with one clear line on stderr.
import { parseArgs } from 'node:util';
import { ConfigError, loadSettings, type Config } from './config.ts';
import { EmbeddedError } from './embedded/errors.ts';
import { provideServices } from './embedded/services.ts';
import type { Logger } from './log.ts';
import { migrate } from './db/migrate.ts';
import { SecretKeyError } from './secrets/keyring.ts';
import { loadKeyring } from './secrets/key-source.ts';
import { AppError } from './errors.ts';
import { createLogger } from './log.ts';
import { APPROVALS_USAGE } from './cli/approvals.ts';
// Commands load their modules when they run: `holdpoint --help` or an approver's
// `approvals list` should not pay for the server, BullMQ and the MCP SDK.
import { BootError, UsageError, checkMigrated, checkRedis, ensureDatabase, keyringFor, stderrLog, withSql } from './cli/common.ts';

const USAGE = `usage: holdpoint <command>

  migrate                               apply sql/ migrations (safe to run concurrently)
  start [--api | --worker]              run the API and workers (default: both)
  status [--json]                       which Postgres and Redis are in use: external (DATABASE_URL,
                                        REDIS_URL) or embedded, their addresses and data directories
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
  policy import --from agentsentinel|agenthalt FILE [--tenant ID --apply]
                                        translate another product's YAML into a policy (stdout) and say what
                                        did not map (stderr); --apply stores it like policy set
  decisions export --tenant ID [--format csv|jsonl] [--out FILE] [--since T] [--until T] [--agent-id A]
             [--action A] [--decision D] [--tag T] [--approval-id ID] [--session-id S] [--run-id R]
                                        the decision log, oldest first (docs/ledger.md); stdout unless --out
  webhook-secret rotate --tenant ID [--overlap-hours H] [--json]
                                        a new webhook signing secret; the old one also signs for H hours (default 24, 0: none)
  secrets rotate-key [--json]           re-encrypt every stored secret under HOLDPOINT_SECRET_KEY; then
                                        HOLDPOINT_SECRET_KEYS_OLD can be emptied
  oidc set --tenant ID --issuer URL --client-id ID --client-secret S|- [--name LABEL] [--json]
                                        sign in to the web inbox at the tenant's OpenID Connect provider
  oidc get --tenant ID [--json]         the provider (never the secret) and the redirect URI to register
  oidc remove --tenant ID               stop single sign-on and end the sessions it opened
  demo                                  a full round trip to watch (creates a demo tenant)
  ${APPROVALS_USAGE}
                                        decide from the terminal, over HTTP (docs/cli.md); exit 0 ok, 1 error, 2 usage
  mcp-proxy --url URL --key KEY [--agent-id ID] [--server-name NAME] [--hide-denied]
            [--listen HOST:PORT] (-- COMMAND [ARGS…] | --upstream URL)
                                        guard every MCP tools/call of a server (docs/mcp.md);
                                        HOLDPOINT_URL, HOLDPOINT_API_KEY, HOLDPOINT_AGENT_ID

environment: DATABASE_URL, REDIS_URL (unset: an embedded Postgres and a private redis-server,
data in ./.holdpoint), PORT, HOLDPOINT_SECRET_KEY, ... (see docs/configuration.md)`;

/** What each command uses; the embedded services start only for what is used and not configured. */
const NEEDS: Record<string, { postgres: boolean; redis: boolean }> = {
  migrate: { postgres: true, redis: false },
  start: { postgres: true, redis: true },
  tenant: { postgres: true, redis: false },
  approver: { postgres: true, redis: false },
  key: { postgres: true, redis: false },
  oidc: { postgres: true, redis: false },
  'webhook-secret': { postgres: true, redis: false },
  secrets: { postgres: true, redis: false },
  demo: { postgres: true, redis: true },
  policy: { postgres: true, redis: false },
  decisions: { postgres: true, redis: false },
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return cmd ? 0 : 2;
  }
  if (cmd === 'mcp-proxy') return (await import('./cli/mcp.ts')).mcpProxy(sub ? [sub, ...rest] : rest);
  // An approver's client of a running Holdpoint: no database, no server configuration.
  if (cmd === 'approvals') return (await import('./cli/approvals.ts')).approvalsCommand(sub, rest);
  const settings = loadSettings();
  if (cmd === 'status') return (await import('./cli/status.ts')).statusCommand(sub ? [sub, ...rest] : rest, settings);
  const needs = NEEDS[cmd];
  if (!needs) throw new UsageError(`unknown command "${cmd}"`);
  const log = createLogger(settings.LOG_LEVEL, { service: 'holdpoint' });
  // policy test and a policy import that does not --apply read files only.
  const offline = cmd === 'policy' && (sub === 'test' || (sub === 'import' && !rest.includes('--apply')));
  const provided = await provideServices(settings, { role: cmd === 'start' ? 'server' : 'command', need: offline ? { postgres: false, redis: false } : needs, log });
  try {
    return await command(cmd, sub, rest, provided.config, log);
  } finally {
    await provided.release();
  }
}

async function command(cmd: string, sub: string | undefined, rest: string[], config: Config, log: Logger): Promise<number> {
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
      const { startServer } = await import('./server.ts');
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

    case 'tenant':
      return (await import('./cli/tenants.ts')).tenantCommand(sub, rest, config, log);

    case 'approver':
      return (await import('./cli/people.ts')).approverCommand(sub, rest, config, log);

    case 'key':
      return (await import('./cli/people.ts')).keyCommand(sub, rest, config, log);

    case 'oidc':
      return (await import('./cli/people.ts')).oidcCommand(sub, rest, config, log);

    case 'webhook-secret':
      return (await import('./cli/tenants.ts')).webhookSecretCommand(sub, rest, config, log);

    case 'secrets':
      return (await import('./cli/tenants.ts')).secretsCommand(sub, rest, config, log);

    case 'demo': {
      await ensureDatabase(config);
      await withSql(config, (sql) => migrate(sql));
      await checkRedis(config);
      const { runDemo } = await import('./demo.ts');
      await runDemo(config, createLogger('warn', { service: 'holdpoint' }), (line) => process.stdout.write(`${line}\n`));
      return 0;
    }

    case 'policy':
      return (await import('./cli/policy.ts')).policyCommand(sub, rest, config, log);

    case 'decisions':
      return (await import('./cli/decisions.ts')).decisionsCommand(sub, rest, config, log);
  }
  throw new UsageError(`unknown command "${cmd}"`);
}

/** `holdpoint mcp-proxy`: flags over environment, checked with zod; the work is in src/mcp. */
export async function run(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`holdpoint: ${err.message}\n\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (err instanceof BootError || err instanceof ConfigError || err instanceof SecretKeyError || err instanceof EmbeddedError) {
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
