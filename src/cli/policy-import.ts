// `holdpoint policy import --from agentsentinel|agenthalt FILE [--tenant ID --apply]`:
// translate another product's YAML into a Holdpoint policy, print it as YAML
// on stdout and every source key that did not map (or mapped approximately,
// or took a default) on stderr. With --apply it is stored exactly as
// `policy set` stores it, and the new version is printed (as a YAML comment,
// so stdout stays a valid policy).
import { stringify } from 'yaml';
import { AppError } from '../errors.ts';
import type { Config } from '../config.ts';
import { IMPORT_SOURCES, isImportSource } from '../policy/import/index.ts';
import { parsePolicy } from '../policy/schema.ts';
import { createPolicyStore, parsePolicySource } from '../services/policies.ts';
import { UsageError, readSource, uuid, withSql } from './common.ts';

export interface ImportArgs {
  from: string | undefined;
  file: string | undefined;
  tenant: string | undefined;
  apply: boolean;
}

export async function policyImport(args: ImportArgs, config: Config): Promise<number> {
  const sources = Object.keys(IMPORT_SOURCES).join(' | ');
  if (!args.from || !isImportSource(args.from)) throw new UsageError(`policy import needs --from ${sources}`);
  if (!args.file) throw new UsageError('policy import needs a FILE (or - for stdin)');
  const tenant = args.apply ? uuid.safeParse(args.tenant) : undefined;
  if (tenant && !tenant.success) throw new UsageError(`--tenant: ${tenant.error.issues[0]!.message}`);
  if (!args.apply && args.tenant !== undefined) throw new UsageError('--tenant is for --apply');

  const text = await readSource(args.file);
  const source = parsePolicySource(text, args.file.endsWith('.json') ? 'application/json' : 'application/yaml');
  const { document, notes } = IMPORT_SOURCES[args.from](source);
  for (const n of notes) process.stderr.write(`holdpoint: ${n.kind}: ${n.key}: ${n.why}\n`);
  // The importer only writes what the schema takes; a refusal here is its bug, said plainly.
  const parsed = parsePolicy(document);
  if (!parsed.ok) throw new AppError('validation_failed', 'the imported policy does not validate (an importer bug; please report it)', { problems: parsed.problems });
  const yaml = stringify(document, { lineWidth: 0 });
  process.stdout.write(`# holdpoint policy imported from ${args.from} (${args.file})\n${yaml}`);
  if (tenant?.success) {
    const saved = await withSql(config, (sql) => createPolicyStore(sql).set(tenant.data, document, yaml, `cli:import:${args.from}`));
    process.stdout.write(`# policy version ${saved.version} is active\n`);
  }
  return 0;
}
