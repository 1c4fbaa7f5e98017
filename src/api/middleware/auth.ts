// Bearer API keys: sha-256 looked up in api_keys; revoked or unknown → 401, and
// past HOLDPOINT_BAD_KEY_RATE_LIMIT such requests from one client address in a
// window → 429 with Retry-After. A valid key is never refused by that limit.
import type { MiddlewareHandler } from 'hono';
import type { AddressLimiter } from '../../services/address-limits.ts';
import { clientAddress } from '../client-address.ts';
import type { Sql } from '../../db/client.ts';
import { findActiveKey, type Role } from '../../db/keys.ts';
import { AppError } from '../../errors.ts';
import type { AppEnv, Auth } from '../env.ts';

const TOKEN = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/;

export function authenticate(sql: Sql, opts?: { addresses: AddressLimiter; trustedProxyHops: number }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) throw new AppError('unauthorized', 'missing Authorization: Bearer <api key>');
    const m = TOKEN.exec(header.trim());
    if (!m) throw new AppError('unauthorized', 'Authorization header must be "Bearer <api key>"');
    const key = await findActiveKey(sql, m[1]!);
    if (!key) {
      const verdict = opts ? await opts.addresses.hit('bad_key', clientAddress(c, opts.trustedProxyHops)) : { ok: true as const };
      if (!verdict.ok) {
        throw new AppError('rate_limited', 'too many requests with unknown or revoked API keys from this address; retry later', { retry_after_seconds: verdict.retryAfterSeconds });
      }
      throw new AppError('unauthorized', 'unknown or revoked API key');
    }
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
