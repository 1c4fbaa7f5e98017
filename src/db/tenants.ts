import { randomBytes } from 'node:crypto';
import type { Tx } from './client.ts';

export interface TenantRow {
  id: string;
  name: string;
  webhook_secret: string;
  created_at: Date;
}

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export async function insertTenant(tx: Tx, name: string): Promise<TenantRow> {
  const [row] = await tx<TenantRow[]>`
    INSERT INTO tenants (name, webhook_secret) VALUES (${name}, ${newWebhookSecret()})
    RETURNING id, name, webhook_secret, created_at`;
  return row!;
}

export async function getTenant(tx: Tx, id: string): Promise<TenantRow | undefined> {
  const [row] = await tx<TenantRow[]>`
    SELECT id, name, webhook_secret, created_at FROM tenants WHERE id = ${id}`;
  return row;
}

export async function listTenants(tx: Tx): Promise<TenantRow[]> {
  return tx<TenantRow[]>`SELECT id, name, webhook_secret, created_at FROM tenants ORDER BY created_at`;
}
