// The active policy per tenant, validated once and cached briefly. A PUT in this
// process takes effect at once; other processes see it within TTL_MS.
import { parse as parseYaml } from 'yaml';
import type { Sql } from '../db/client.ts';
import { insertPolicy, latestPolicy, listPolicyVersions, getPolicyVersion } from '../db/policies.ts';
import { AppError } from '../errors.ts';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../policy/schema.ts';

const TTL_MS = 2_000;

export interface ActivePolicy {
  version: number;
  policy: Policy;
}

export function parsePolicySource(text: string, contentType: string | undefined): unknown {
  const ct = (contentType ?? '').toLowerCase();
  try {
    if (ct.includes('json')) return JSON.parse(text);
    return parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    const json = ct.includes('json');
    throw new AppError(json ? 'malformed_json' : 'validation_failed', `policy is not valid ${json ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
}

export function createPolicyStore(sql: Sql, clock: () => Date = () => new Date()) {
  const cache = new Map<string, { at: number; active: ActivePolicy }>();

  async function current(tenantId: string): Promise<ActivePolicy> {
    const hit = cache.get(tenantId);
    const now = clock().getTime();
    if (hit && now - hit.at < TTL_MS) return hit.active;
    const row = await latestPolicy(sql, tenantId);
    let active: ActivePolicy;
    if (!row) active = { version: 0, policy: DEFAULT_POLICY };
    else {
      const parsed = parsePolicy(row.document);
      // Stored policies were validated on the way in; if a schema change ever
      // invalidates one, fail closed rather than run without it.
      active = parsed.ok
        ? { version: row.version, policy: parsed.policy }
        : { version: row.version, policy: { ...DEFAULT_POLICY, defaults: { ...DEFAULT_POLICY.defaults, decision: 'deny', reason: 'stored policy no longer validates' } } };
    }
    cache.set(tenantId, { at: now, active });
    return active;
  }

  return {
    current,
    async get(tenantId: string, version?: number) {
      if (version !== undefined) {
        const row = await getPolicyVersion(sql, tenantId, version);
        if (!row) throw new AppError('not_found', `policy version ${version} not found`);
        return { version: row.version, document: row.document, source: row.source, created_by: row.created_by, created_at: row.created_at.toISOString() };
      }
      const row = await latestPolicy(sql, tenantId);
      if (!row) return { version: 0, document: DEFAULT_POLICY, source: null, created_by: null, created_at: null };
      return { version: row.version, document: row.document, source: row.source, created_by: row.created_by, created_at: row.created_at.toISOString() };
    },
    async versions(tenantId: string) {
      return (await listPolicyVersions(sql, tenantId)).map((r) => ({ version: r.version, created_by: r.created_by, created_at: r.created_at.toISOString() }));
    },
    /** Validates and stores a new version; an invalid document leaves the old one active. */
    async set(tenantId: string, doc: unknown, source: string | null, createdBy: string | null) {
      const parsed = parsePolicy(doc);
      if (!parsed.ok) throw new AppError('validation_failed', 'policy is invalid; the previous version stays active', { problems: parsed.problems });
      const row = await sql.begin((tx) => insertPolicy(tx, { tenant_id: tenantId, document: parsed.policy, source, created_by: createdBy }));
      cache.delete(tenantId);
      return { version: row.version, document: row.document, created_at: row.created_at.toISOString() };
    },
    invalidate(tenantId: string) {
      cache.delete(tenantId);
    },
  };
}

export type PolicyStore = ReturnType<typeof createPolicyStore>;
