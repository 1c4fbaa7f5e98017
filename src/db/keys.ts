// API keys: shown once, stored as sha-256. Format hp_<role>_<32 base62 chars>,
// inside the token charset that Bearer auth accepts.
import { createHash, randomBytes } from 'node:crypto';
import type { Tx } from './client.ts';

export const ROLES = ['agent', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a key may do beyond its role. `assert_identity`: an integration that
 * authenticated the person itself may name that approver on a decision.
 */
export const PERMISSIONS = ['assert_identity'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  role: Role;
  prefix: string;
  name: string | null;
  approver: string | null;
  permissions: Permission[];
  created_at: Date;
  revoked_at: Date | null;
}

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(n: number): string {
  // Rejection sampling keeps every character equally likely.
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      if (b < 248 && out.length < n) out += B62[b % 62];
    }
  }
  return out;
}

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export function generateKey(role: Role): { key: string; hash: Buffer; prefix: string } {
  const key = `hp_${role}_${base62(32)}`;
  return { key, hash: hashKey(key), prefix: key.slice(0, role.length + 8) };
}

export async function insertKey(
  tx: Tx,
  k: { tenant_id: string; role: Role; name?: string | null; approver?: string | null; permissions?: readonly Permission[] },
): Promise<{ key: string; row: ApiKeyRow }> {
  const { key, hash, prefix } = generateKey(k.role);
  const [row] = await tx<ApiKeyRow[]>`
    INSERT INTO api_keys (tenant_id, role, key_hash, prefix, name, approver, permissions)
    VALUES (${k.tenant_id}, ${k.role}, ${hash}, ${prefix}, ${k.name ?? null}, ${k.approver ?? null}, ${[...(k.permissions ?? [])]}::text[])
    RETURNING id, tenant_id, role, prefix, name, approver, permissions, created_at, revoked_at`;
  return { key, row: row! };
}

/** The live key with this hash, or undefined (unknown or revoked). */
export async function findActiveKey(tx: Tx, key: string): Promise<ApiKeyRow | undefined> {
  const [row] = await tx<ApiKeyRow[]>`
    SELECT id, tenant_id, role, prefix, name, approver, permissions, created_at, revoked_at
    FROM api_keys WHERE key_hash = ${hashKey(key)} AND revoked_at IS NULL`;
  return row;
}

export async function listKeys(tx: Tx, tenantId: string): Promise<ApiKeyRow[]> {
  return tx<ApiKeyRow[]>`
    SELECT id, tenant_id, role, prefix, name, approver, permissions, created_at, revoked_at
    FROM api_keys WHERE tenant_id = ${tenantId} ORDER BY created_at DESC`;
}

export async function revokeKey(tx: Tx, tenantId: string, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await tx<ApiKeyRow[]>`
    UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
    WHERE id = ${id} AND tenant_id = ${tenantId}
    RETURNING id, tenant_id, role, prefix, name, approver, permissions, created_at, revoked_at`;
  return row;
}

/** Whether the key is still live: the live feeds re-check this on every heartbeat. */
export async function keyIsActive(tx: Tx, id: string): Promise<boolean> {
  const [row] = await tx<{ ok: number }[]>`SELECT 1 AS ok FROM api_keys WHERE id = ${id} AND revoked_at IS NULL`;
  return row !== undefined;
}
