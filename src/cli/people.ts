// `holdpoint approver`, `key` and `oidc`: who may decide, their keys, and single sign-on.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { type Sql } from '../db/client.ts';
import { getApprover } from '../db/approvers.ts';
import { PERMISSIONS, ROLES, insertKey, revokeKey } from '../db/keys.ts';
import { getTenant } from '../db/tenants.ts';
import { loadKeyring } from '../secrets/key-source.ts';
import { addApprover, listApprovers, NewApproverSchema, removeApprover } from '../identities/approvers.ts';
import { AppError } from '../errors.ts';
import { getProvider, ProviderInput, redirectUriOf, removeProvider, renderProvider, setProvider } from '../identities/oidc.ts';
import type { Logger } from '../log.ts';
import type { Config } from '../config.ts';
import { UsageError, print, readStdin, stderrLog, uuid, withSql } from './common.ts';

export async function approverCommand(sub: string | undefined, rest: string[], config: Config, log: Logger): Promise<number> {
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

export async function keyCommand(sub: string | undefined, rest: string[], config: Config, log: Logger): Promise<number> {
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

export async function oidcCommand(sub: string | undefined, rest: string[], config: Config, log: Logger): Promise<number> {
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
