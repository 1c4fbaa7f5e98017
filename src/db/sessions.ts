// Web inbox sessions. The browser holds a random token; only its sha-256 is
// stored. A session is opened with an API key or by an approver who signed in
// at the tenant's OpenID Connect provider, and lives while that key (not
// revoked) or that approver (not removed) does: the lookup joins it, so
// revoking the key or removing the approver signs the browser out at its next
// request.
import { createHash, randomBytes } from 'node:crypto';
import type { Tx } from './client.ts';
import type { Role } from './keys.ts';

export interface SessionAuth {
  tenant_id: string;
  tenant_name: string;
  /** How the session was opened: an API key, or the tenant's identity provider. */
  method: 'key' | 'oidc';
  key_id: string | null;
  key_prefix: string | null;
  role: Role;
  /** The key's bound approver, or the approver who signed in at the provider. */
  approver: string | null;
  csrf_token: string;
  expires_at: Date;
}

export const sha256 = (token: string) => createHash('sha256').update(token, 'utf8').digest();
export const newToken = () => randomBytes(32).toString('base64url');

/** Opens a session for an API key (key_id) or for a signed-in approver (approver): exactly one of them. */
export async function createSession(
  tx: Tx,
  s: { tenant_id: string; now: Date; ttlMs: number } & ({ key_id: string; approver?: undefined } | { approver: string; key_id?: undefined }),
): Promise<{ token: string; csrf_token: string; expires_at: Date }> {
  const token = newToken();
  const csrf = newToken();
  const expires = new Date(s.now.getTime() + s.ttlMs);
  await tx`
    INSERT INTO ui_sessions (token_hash, tenant_id, key_id, approver, csrf_token, created_at, expires_at)
    VALUES (${sha256(token)}, ${s.tenant_id}, ${s.key_id ?? null}, ${s.approver ?? null}, ${csrf}, ${s.now}, ${expires})`;
  return { token, csrf_token: csrf, expires_at: expires };
}

/** The live session for this token: not expired, its key not revoked, its approver not removed. */
export async function findSession(tx: Tx, token: string, now: Date): Promise<SessionAuth | undefined> {
  const [row] = await tx<SessionAuth[]>`
    SELECT s.tenant_id, t.name AS tenant_name,
           CASE WHEN s.key_id IS NULL THEN 'oidc' ELSE 'key' END AS method,
           s.key_id, k.prefix AS key_prefix,
           COALESCE(k.role, 'approver') AS role,
           CASE WHEN s.key_id IS NULL THEN a.name ELSE k.approver END AS approver,
           s.csrf_token, s.expires_at
    FROM ui_sessions s
    JOIN tenants t ON t.id = s.tenant_id
    LEFT JOIN api_keys k ON k.id = s.key_id
    LEFT JOIN approvers a ON a.tenant_id = s.tenant_id AND a.name = s.approver
    WHERE s.token_hash = ${sha256(token)} AND s.expires_at > ${now}
      AND CASE WHEN s.key_id IS NULL THEN a.name IS NOT NULL ELSE k.id IS NOT NULL AND k.revoked_at IS NULL END`;
  return row;
}

export async function deleteSession(tx: Tx, token: string): Promise<void> {
  await tx`DELETE FROM ui_sessions WHERE token_hash = ${sha256(token)}`;
}

/** Ends every session the tenant's identity provider opened (the provider was changed or removed). */
export async function deleteProviderSessions(tx: Tx, tenantId: string): Promise<number> {
  const r = await tx`DELETE FROM ui_sessions WHERE tenant_id = ${tenantId} AND approver IS NOT NULL`;
  return r.count;
}

/** Housekeeping at sign-in: expired sessions go, a few at a time. */
export async function deleteExpiredSessions(tx: Tx, now: Date): Promise<void> {
  await tx`
    DELETE FROM ui_sessions WHERE token_hash IN (
      SELECT token_hash FROM ui_sessions WHERE expires_at <= ${now} LIMIT 100)`;
}
