// The tenant's OpenID Connect provider (tenant_oidc) and the sign-ins in flight
// (oidc_logins). See sql/0007_oidc.sql for the contract.
import type { Keyring } from '../secrets/keyring.ts';
import type { Tx } from './client.ts';

export interface OidcProviderRow {
  tenant_id: string;
  issuer: string;
  client_id: string;
  /** Open with openClientSecret: sealed (sql/0009), or plain when an older version wrote it. */
  client_secret_sealed: string | null;
  client_secret_plain: string | null;
  display_name: string;
  updated_by: string | null;
  updated_at: Date;
}

export interface OidcLoginRow {
  tenant_id: string;
  browser_hash: Buffer;
  issuer: string;
  nonce: string;
  code_verifier: string;
  next: string | null;
  expires_at: Date;
}

export const clientSecretContext = (tenantId: string) => `tenant_oidc.client_secret:${tenantId}`;

/** The client secret, opened; throws SecretKeyError under a wrong key. A plaintext value is newer (an older version wrote it). */
export function openClientSecret(secrets: Keyring, p: Pick<OidcProviderRow, 'tenant_id' | 'client_secret_sealed' | 'client_secret_plain'>): string {
  return p.client_secret_plain ?? secrets.open(p.client_secret_sealed!, clientSecretContext(p.tenant_id));
}

/** Re-seals client secrets under the current key: plaintext ones only, or also those under an older key. */
export async function resealClientSecrets(tx: Tx, secrets: Keyring, opts: { onlyPlaintext: boolean }): Promise<number> {
  const rows = await tx<{ tenant_id: string; client_secret: string | null; client_secret_sealed: string | null }[]>`
    SELECT tenant_id, client_secret, client_secret_sealed FROM tenant_oidc
    WHERE client_secret IS NOT NULL OR ${!opts.onlyPlaintext} FOR UPDATE`;
  let changed = 0;
  for (const r of rows) {
    if (r.client_secret === null && secrets.kidOf(r.client_secret_sealed!) === secrets.currentKid) continue;
    const plain = openClientSecret(secrets, { tenant_id: r.tenant_id, client_secret_plain: r.client_secret, client_secret_sealed: r.client_secret_sealed });
    await tx`
      UPDATE tenant_oidc SET client_secret = NULL, client_secret_sealed = ${secrets.seal(plain, clientSecretContext(r.tenant_id))}
      WHERE tenant_id = ${r.tenant_id}`;
    changed++;
  }
  return changed;
}

export async function getProvider(tx: Tx, tenantId: string): Promise<OidcProviderRow | undefined> {
  const [row] = await tx<OidcProviderRow[]>`
    SELECT tenant_id, issuer, client_id, client_secret_sealed, client_secret AS client_secret_plain, display_name, updated_by, updated_at
    FROM tenant_oidc WHERE tenant_id = ${tenantId}`;
  return row;
}

/** Sets the tenant's provider; also answers what it replaced (undefined when there was none). */
export async function upsertProvider(
  tx: Tx,
  secrets: Keyring,
  p: Pick<OidcProviderRow, 'tenant_id' | 'issuer' | 'client_id' | 'display_name' | 'updated_by'> & { client_secret: string },
): Promise<{ row: OidcProviderRow; previous: OidcProviderRow | undefined }> {
  const [previous] = await tx<OidcProviderRow[]>`
    SELECT tenant_id, issuer, client_id, client_secret_sealed, client_secret AS client_secret_plain, display_name, updated_by, updated_at
    FROM tenant_oidc WHERE tenant_id = ${p.tenant_id} FOR UPDATE`;
  const [row] = await tx<OidcProviderRow[]>`
    INSERT INTO tenant_oidc (tenant_id, issuer, client_id, client_secret_sealed, display_name, updated_by, updated_at)
    VALUES (${p.tenant_id}, ${p.issuer}, ${p.client_id}, ${secrets.seal(p.client_secret, clientSecretContext(p.tenant_id))}, ${p.display_name}, ${p.updated_by}, now())
    ON CONFLICT (tenant_id) DO UPDATE SET
      issuer = EXCLUDED.issuer, client_id = EXCLUDED.client_id, client_secret = NULL, client_secret_sealed = EXCLUDED.client_secret_sealed,
      display_name = EXCLUDED.display_name, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at
    RETURNING tenant_id, issuer, client_id, client_secret_sealed, client_secret AS client_secret_plain, display_name, updated_by, updated_at`;
  return { row: row!, previous };
}

export async function deleteProvider(tx: Tx, tenantId: string): Promise<OidcProviderRow | undefined> {
  const [row] = await tx<OidcProviderRow[]>`
    DELETE FROM tenant_oidc WHERE tenant_id = ${tenantId}
    RETURNING tenant_id, issuer, client_id, client_secret_sealed, client_secret AS client_secret_plain, display_name, updated_by, updated_at`;
  return row;
}

export async function insertLogin(
  tx: Tx,
  l: { state_hash: Buffer; browser_hash: Buffer; tenant_id: string; issuer: string; nonce: string; code_verifier: string; next: string | null; now: Date; ttlMs: number },
): Promise<void> {
  await tx`
    INSERT INTO oidc_logins (state_hash, browser_hash, tenant_id, issuer, nonce, code_verifier, next, created_at, expires_at)
    VALUES (${l.state_hash}, ${l.browser_hash}, ${l.tenant_id}, ${l.issuer}, ${l.nonce}, ${l.code_verifier}, ${l.next}, ${l.now}, ${new Date(l.now.getTime() + l.ttlMs)})`;
}

/** Consumes the sign-in for this state: single-use, whether or not it then checks out. Undefined when unknown, used or expired. */
export async function takeLogin(tx: Tx, stateHash: Buffer, now: Date): Promise<OidcLoginRow | undefined> {
  const [row] = await tx<(OidcLoginRow & { expires_at: Date })[]>`
    DELETE FROM oidc_logins WHERE state_hash = ${stateHash}
    RETURNING tenant_id, browser_hash, issuer, nonce, code_verifier, next, expires_at`;
  return row && row.expires_at > now ? row : undefined;
}

/** Housekeeping at each sign-in start: abandoned sign-ins go, a few at a time. */
export async function deleteExpiredLogins(tx: Tx, now: Date): Promise<void> {
  await tx`
    DELETE FROM oidc_logins WHERE state_hash IN (
      SELECT state_hash FROM oidc_logins WHERE expires_at <= ${now} LIMIT 100)`;
}
