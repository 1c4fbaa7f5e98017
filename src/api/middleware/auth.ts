// Bearer API keys: sha-256 looked up in api_keys; revoked or unknown → 401.
import type { MiddlewareHandler } from 'hono';
import type { Sql } from '../../db/client.ts';
import { findActiveKey, type Role } from '../../db/keys.ts';
import { AppError } from '../../errors.ts';
import type { AppEnv, Auth } from '../env.ts';

const TOKEN = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/;

export function authenticate(sql: Sql): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) throw new AppError('unauthorized', 'missing Authorization: Bearer <api key>');
    const m = TOKEN.exec(header.trim());
    if (!m) throw new AppError('unauthorized', 'Authorization header must be "Bearer <api key>"');
    const key = await findActiveKey(sql, m[1]!);
    if (!key) throw new AppError('unauthorized', 'unknown or revoked API key');
    c.set('auth', {
      tenant_id: key.tenant_id,
      key_id: key.id,
      key_prefix: key.prefix,
      role: key.role,
      approver: key.approver,
      permissions: key.permissions,
    } satisfies Auth);
    await next();
  };
}

/** Admin keys may do everything; otherwise the key's role must be listed. */
export function allow(auth: Auth, ...roles: Role[]): void {
  if (auth.role === 'admin' || roles.includes(auth.role)) return;
  throw new AppError('forbidden', `this route needs a ${roles.join(' or ')} key; this is a ${auth.role} key`);
}
