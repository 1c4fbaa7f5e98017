// `holdpoint policy`: set, get, test a draft against a request, and import
// another product's policy (./policy-import.ts).
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { createPolicyStore, parsePolicySource } from '../services/policies.ts';
import { evaluateRequest } from '../policy/evaluate.ts';
import { parsePolicy } from '../policy/schema.ts';
import type { Logger } from '../log.ts';
import type { Config } from '../config.ts';
import { UsageError, readSource, uuid, withSql } from './common.ts';
import { policyImport } from './policy-import.ts';

export async function policyCommand(sub: string | undefined, rest: string[], config: Config, log: Logger): Promise<number> {
  const { values, positionals } = parseArgs({
    args: rest,
    options: { tenant: { type: 'string' }, ...(sub === 'import' ? { from: { type: 'string' as const }, apply: { type: 'boolean' as const } } : {}) },
    allowPositionals: true,
    strict: true,
  });
  if (sub === 'import') {
    const v = values as { tenant?: string; from?: string; apply?: boolean };
    return policyImport({ from: v.from, file: positionals[0], tenant: v.tenant, apply: v.apply === true }, config);
  }
  const tenant = sub === 'test' ? { success: true as const, data: '' } : uuid.safeParse(values.tenant);
  if (!tenant.success) throw new UsageError(`--tenant: ${tenant.error.issues[0]!.message}`);
  if (sub === 'set') {
    const file = positionals[0];
    if (!file) throw new UsageError('policy set needs a FILE (or - for stdin)');
    const text = await readSource(file);
    const doc = parsePolicySource(text, file.endsWith('.json') ? 'application/json' : 'application/yaml');
    const saved = await withSql(config, (sql) => createPolicyStore(sql).set(tenant.data, doc, text, 'cli'));
    process.stdout.write(`policy version ${saved.version} is active\n`);
    return 0;
  }
  if (sub === 'test') {
    // Pure evaluation of a draft: no counters (budgets and rate limits see zero), nothing saved.
    const file = positionals[0];
    const request = positionals[1];
    if (!file || !request) throw new UsageError("policy test needs a FILE and a REQUEST (JSON, e.g. '{\"action\":\"payment.send\",\"params\":{\"amount\":5000}}')");
    const text = await readSource(file);
    const parsed = parsePolicy(parsePolicySource(text, file.endsWith('.json') ? 'application/json' : 'application/yaml'));
    if (!parsed.ok) throw new AppError('validation_failed', 'the policy is invalid', { problems: parsed.problems });
    let raw: unknown;
    try {
      raw = JSON.parse(request);
    } catch {
      throw new UsageError('REQUEST must be JSON');
    }
    const req = z
      .strictObject({ action: z.string().min(1), agent_id: z.string().min(1).default('default'), params: z.record(z.string(), z.unknown()).default({}), context: z.record(z.string(), z.unknown()).default({}), cost_usd: z.number().min(0).optional() })
      .safeParse(raw);
    if (!req.success) throw new UsageError(`REQUEST: ${req.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    const { ops: _ops, findings: _f, ...result } = evaluateRequest(parsed.policy, req.data, { counters: {}, now: Date.now() });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  if (sub === 'get') {
    const p = await withSql(config, (sql) => createPolicyStore(sql).get(tenant.data));
    process.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
    return 0;
  }
  throw new UsageError('policy needs a subcommand: set | get | test | import');
}
