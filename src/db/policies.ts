import type { Tx, TxOnly } from './client.ts';

export interface PolicyRow {
  tenant_id: string;
  version: number;
  document: unknown;
  source: string | null;
  created_by: string | null;
  created_at: Date;
}

export async function latestPolicy(tx: Tx, tenantId: string): Promise<PolicyRow | undefined> {
  const [row] = await tx<PolicyRow[]>`
    SELECT tenant_id, version, document, source, created_by, created_at
    FROM policies WHERE tenant_id = ${tenantId} ORDER BY version DESC LIMIT 1`;
  return row;
}

export async function getPolicyVersion(tx: Tx, tenantId: string, version: number): Promise<PolicyRow | undefined> {
  const [row] = await tx<PolicyRow[]>`
    SELECT tenant_id, version, document, source, created_by, created_at
    FROM policies WHERE tenant_id = ${tenantId} AND version = ${version}`;
  return row;
}

export async function listPolicyVersions(tx: Tx, tenantId: string): Promise<Omit<PolicyRow, 'document' | 'source'>[]> {
  return tx<PolicyRow[]>`
    SELECT tenant_id, version, created_by, created_at
    FROM policies WHERE tenant_id = ${tenantId} ORDER BY version DESC`;
}

/** Appends the next version. Runs inside a transaction: writers for one tenant take turns. */
export async function insertPolicy(
  tx: TxOnly,
  p: { tenant_id: string; document: unknown; source: string | null; created_by: string | null },
): Promise<PolicyRow> {
  // A separate statement: a lock taken inside the INSERT would not refresh its snapshot.
  await tx`SELECT pg_advisory_xact_lock(hashtext(${'holdpoint_policy:' + p.tenant_id}))`;
  const [row] = await tx<PolicyRow[]>`
    INSERT INTO policies (tenant_id, version, document, source, created_by)
    SELECT ${p.tenant_id},
           coalesce((SELECT max(version) FROM policies WHERE tenant_id = ${p.tenant_id}), 0) + 1,
           ${tx.json(p.document as never)}, ${p.source}, ${p.created_by}
    RETURNING tenant_id, version, document, source, created_by, created_at`;
  return row!;
}
