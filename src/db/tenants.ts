// tenants, and the tenant's webhook signing secret (sealed at rest; see
// sql/0009_sealed_secrets.sql). Only this module opens or seals it.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Keyring } from '../secrets/keyring.ts';
import type { Tx } from './client.ts';

export interface TenantRow {
  id: string;
  name: string;
  created_at: Date;
}

/** The secrets a delivery is signed with: the current one, and during a rotation's overlap the one it replaced. */
export interface WebhookSecrets {
  current: string;
  previous: string | null;
  previous_until: Date | null;
}

export const webhookSecretContext = (tenantId: string) => `tenants.webhook_secret:${tenantId}`;

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** Creates a tenant; the only time, with rotation, that its webhook secret is handed out. */
export async function insertTenant(tx: Tx, secrets: Keyring, name: string): Promise<TenantRow & { webhook_secret: string }> {
  const id = randomUUID();
  const secret = newWebhookSecret();
  const [row] = await tx<TenantRow[]>`
    INSERT INTO tenants (id, name, webhook_secret_sealed) VALUES (${id}, ${name}, ${secrets.seal(secret, webhookSecretContext(id))})
    RETURNING id, name, created_at`;
  return { ...row!, webhook_secret: secret };
}

export async function getTenant(tx: Tx, id: string): Promise<TenantRow | undefined> {
  const [row] = await tx<TenantRow[]>`SELECT id, name, created_at FROM tenants WHERE id = ${id}`;
  return row;
}

export async function listTenants(tx: Tx): Promise<TenantRow[]> {
  return tx<TenantRow[]>`SELECT id, name, created_at FROM tenants ORDER BY created_at`;
}

interface SecretColumns {
  webhook_secret: string | null;
  webhook_secret_sealed: string | null;
  webhook_secret_prev_sealed: string | null;
  webhook_secret_prev_until: Date | null;
}

/**
 * The tenant's webhook secrets, opened. Throws SecretKeyError when the key is
 * wrong: the caller must not sign with anything else. Undefined: no tenant.
 */
export async function getWebhookSecrets(tx: Tx, secrets: Keyring, tenantId: string, now: Date): Promise<WebhookSecrets | undefined> {
  const [row] = await tx<SecretColumns[]>`
    SELECT webhook_secret, webhook_secret_sealed, webhook_secret_prev_sealed, webhook_secret_prev_until
    FROM tenants WHERE id = ${tenantId}`;
  if (!row) return undefined;
  const ctx = webhookSecretContext(tenantId);
  // A plaintext value was written by an older version after this row was sealed: it is the newer one.
  const current = row.webhook_secret ?? secrets.open(row.webhook_secret_sealed!, ctx);
  const live = row.webhook_secret_prev_sealed !== null && row.webhook_secret_prev_until !== null && row.webhook_secret_prev_until > now;
  return {
    current,
    previous: live ? secrets.open(row.webhook_secret_prev_sealed!, ctx) : null,
    previous_until: live ? row.webhook_secret_prev_until : null,
  };
}

/**
 * Gives the tenant a new webhook secret. For `overlapMs` the old one keeps
 * signing too (both signatures on every delivery), so receivers can switch at
 * their own pace; 0 drops it at once. A second rotation within the overlap
 * retires the oldest secret: only the last two are ever kept.
 */
export async function rotateWebhookSecret(
  tx: Tx,
  secrets: Keyring,
  tenantId: string,
  opts: { overlapMs: number; now: Date },
): Promise<{ webhook_secret: string; previous_valid_until: Date | null } | undefined> {
  const [row] = await tx<SecretColumns[]>`
    SELECT webhook_secret, webhook_secret_sealed, webhook_secret_prev_sealed, webhook_secret_prev_until
    FROM tenants WHERE id = ${tenantId} FOR UPDATE`;
  if (!row) return undefined;
  const ctx = webhookSecretContext(tenantId);
  // Opened (not just copied) so a row under an unknown key fails here, not at the next delivery.
  const old = row.webhook_secret ?? secrets.open(row.webhook_secret_sealed!, ctx);
  const secret = newWebhookSecret();
  const until = opts.overlapMs > 0 ? new Date(opts.now.getTime() + opts.overlapMs) : null;
  await tx`
    UPDATE tenants SET
      webhook_secret = NULL,
      webhook_secret_sealed = ${secrets.seal(secret, ctx)},
      webhook_secret_prev_sealed = ${until ? secrets.seal(old, ctx) : null},
      webhook_secret_prev_until = ${until}
    WHERE id = ${tenantId}`;
  return { webhook_secret: secret, previous_valid_until: until };
}

/**
 * Re-seals every tenant's webhook secrets under the current key: plaintext rows
 * (`onlyPlaintext`, at boot and migrate) or also rows under an older key
 * (`holdpoint secrets rotate-key`). Answers how many rows changed.
 */
export async function resealWebhookSecrets(tx: Tx, secrets: Keyring, opts: { onlyPlaintext: boolean }): Promise<number> {
  const rows = opts.onlyPlaintext
    ? await tx<(SecretColumns & { id: string })[]>`
        SELECT id, webhook_secret, webhook_secret_sealed, webhook_secret_prev_sealed, webhook_secret_prev_until
        FROM tenants WHERE webhook_secret IS NOT NULL FOR UPDATE`
    : await tx<(SecretColumns & { id: string })[]>`
        SELECT id, webhook_secret, webhook_secret_sealed, webhook_secret_prev_sealed, webhook_secret_prev_until
        FROM tenants FOR UPDATE`;
  let changed = 0;
  for (const r of rows) {
    const ctx = webhookSecretContext(r.id);
    const stale = (v: string | null) => v !== null && secrets.kidOf(v) !== secrets.currentKid;
    if (r.webhook_secret === null && !stale(r.webhook_secret_sealed) && !stale(r.webhook_secret_prev_sealed)) continue;
    const current = r.webhook_secret ?? secrets.open(r.webhook_secret_sealed!, ctx);
    const prev = r.webhook_secret_prev_sealed && stale(r.webhook_secret_prev_sealed) ? secrets.seal(secrets.open(r.webhook_secret_prev_sealed, ctx), ctx) : r.webhook_secret_prev_sealed;
    const sealed = r.webhook_secret === null && !stale(r.webhook_secret_sealed) ? r.webhook_secret_sealed : secrets.seal(current, ctx);
    await tx`
      UPDATE tenants SET webhook_secret = NULL, webhook_secret_sealed = ${sealed}, webhook_secret_prev_sealed = ${prev}
      WHERE id = ${r.id}`;
    changed++;
  }
  return changed;
}
