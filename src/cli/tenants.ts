// `holdpoint tenant`, `webhook-secret` and `secrets`: tenants and the secrets sealed for them.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ROLES, insertKey } from '../db/keys.ts';
import { insertTenant, listTenants, rotateWebhookSecret } from '../db/tenants.ts';
import { resealSecrets } from '../db/secrets.ts';
import { loadKeyring } from '../secrets/key-source.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Config } from '../config.ts';
import { UsageError, print, stderrLog, uuid, withSql } from './common.ts';

export async function tenantCommand(sub: string | undefined, rest: string[], config: Config, log: Logger): Promise<number> {
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

export async function webhookSecretCommand(sub: string | undefined, rest: string[], config: Config, log: Logger): Promise<number> {
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

export async function secretsCommand(sub: string | undefined, rest: string[], config: Config, log: Logger): Promise<number> {
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
