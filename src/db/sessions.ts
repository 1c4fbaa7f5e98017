// Web inbox sessions. The browser holds a random token; only its sha-256 is
// stored. A session lives while its API key does: the lookup joins the key, so
// revoking it signs the browser out at its next request.
import { createHash, randomBytes } from 'node:crypto';
import type { Tx } from './client.ts';
import type { Role } from './keys.ts';

export interface SessionAuth {
  tenant_id: string;
  tenant_name: string;
  key_id: string;
  key_prefix: string;
  role: Role;
  approver: string | null;
  csrf_token: string;
  expires_at: Date;
}

const hash = (token: string) => createHash('sha256').update(token, 'utf8').digest();
export const newToken = () => randomBytes(32).toString('base64url');

export async function createSession(tx: Tx, s: { tenant_id: string; key_id: string; now: Date; ttlMs: number }): Promise<{ token: string; csrf_token: string; expires_at: Date }> {
  const token = newToken();
  const csrf = newToken();
  const expires = new Date(s.now.getTime() + s.ttlMs);
  await tx`
    INSERT INTO ui_sessions (token_hash, tenant_id, key_id, csrf_token, created_at, expires_at)
    VALUES (${hash(token)}, ${s.tenant_id}, ${s.key_id}, ${csrf}, ${s.now}, ${expires})`;
  return { token, csrf_token: csrf, expires_at: expires };
}

/** The live session for this token: not expired, its key not revoked. */
export async function findSession(tx: Tx, token: string, now: Date): Promise<SessionAuth | undefined> {
  const [row] = await tx<SessionAuth[]>`
    SELECT s.tenant_id, t.name AS tenant_name, s.key_id, k.prefix AS key_prefix, k.role, k.approver, s.csrf_token, s.expires_at
    FROM ui_sessions s
    JOIN api_keys k ON k.id = s.key_id AND k.revoked_at IS NULL
    JOIN tenants t ON t.id = s.tenant_id
    WHERE s.token_hash = ${hash(token)} AND s.expires_at > ${now}`;
  return row;
}

export async function deleteSession(tx: Tx, token: string): Promise<void> {
  await tx`DELETE FROM ui_sessions WHERE token_hash = ${hash(token)}`;
}

/** Housekeeping at sign-in: expired sessions go, a few at a time. */
export async function deleteExpiredSessions(tx: Tx, now: Date): Promise<void> {
  await tx`
    DELETE FROM ui_sessions WHERE token_hash IN (
      SELECT token_hash FROM ui_sessions WHERE expires_at <= ${now} LIMIT 100)`;
}
