// Every sealed secret at once: sealing plaintext left by older versions,
// re-sealing under a new key, and checking at boot that the keyring can open
// what the database holds. The columns belong to tenants.ts and oidc.ts.
import type { Keyring } from '../secrets/keyring.ts';
import type { Sql } from './client.ts';
import { resealClientSecrets } from './oidc.ts';
import { resealWebhookSecrets } from './tenants.ts';

export interface ResealResult {
  webhook_secrets: number;
  oidc_client_secrets: number;
}

/**
 * `onlyPlaintext`: seal what an older version stored in the clear (at migrate
 * and at every boot). Otherwise also re-seal everything under an older key
 * (`holdpoint secrets rotate-key`); afterwards the old keys can be dropped.
 */
export async function resealSecrets(sql: Sql, secrets: Keyring, opts: { onlyPlaintext: boolean }): Promise<ResealResult> {
  return sql.begin(async (tx) => ({
    webhook_secrets: await resealWebhookSecrets(tx, secrets, opts),
    oidc_client_secrets: await resealClientSecrets(tx, secrets, opts),
  }));
}

/** The key ids secrets in the database are sealed under that this keyring cannot open (none: all good). */
export async function unknownSecretKeys(sql: Sql, secrets: Keyring): Promise<string[]> {
  const rows = await sql<{ kid: string }[]>`
    SELECT DISTINCT split_part(v, ':', 2) AS kid FROM (
      SELECT webhook_secret_sealed AS v FROM tenants
      UNION ALL SELECT webhook_secret_prev_sealed FROM tenants
      UNION ALL SELECT client_secret_sealed FROM tenant_oidc
    ) s WHERE v IS NOT NULL`;
  return rows.map((r) => r.kid).filter((k) => !secrets.kids.includes(k)).sort();
}
