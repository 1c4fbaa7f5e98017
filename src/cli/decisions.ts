// `holdpoint decisions export`: the decision log to a file or stdout, read
// straight from Postgres (no API key needed: whoever runs the CLI holds
// DATABASE_URL, which is more than any key).
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { Ident, Tag } from '../api/schemas.ts';
import { getTenant } from '../db/tenants.ts';
import { ledgerKey } from '../db/decisions.ts';
import { AppError } from '../errors.ts';
import { decisionExport } from '../services/decision-export.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { UsageError, uuid, withSql } from './common.ts';

const Args = z.object({
  tenant: uuid,
  format: z.enum(['csv', 'jsonl']).default('csv'),
  'agent-id': Ident().optional(),
  action: Ident().optional(),
  decision: z.enum(['allow', 'modify', 'deny', 'require_approval']).optional(),
  since: z.string().datetime({ offset: true }).optional(),
  until: z.string().datetime({ offset: true }).optional(),
  tag: Tag.optional(),
  'approval-id': z.string().uuid().optional(),
  'session-id': Ident(100_000).optional(),
  'run-id': Ident(100_000).optional(),
  out: z.string().min(1).optional(),
});

export async function decisionsCommand(sub: string | undefined, rest: string[], config: Config, log: Logger): Promise<number> {
  if (sub !== 'export') throw new UsageError('decisions needs a subcommand: export');
  const { values } = parseArgs({
    args: rest,
    options: Object.fromEntries(Object.keys(Args.shape).map((k) => [k, { type: 'string' as const }])),
    strict: true,
  });
  const a = Args.safeParse(values);
  if (!a.success) throw new UsageError(a.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
  const o = a.data;
  await withSql(config, async (sql) => {
    if (!(await getTenant(sql, o.tenant))) throw new AppError('not_found', `tenant ${o.tenant} not found`);
    const stream = decisionExport(
      sql,
      o.tenant,
      {
        agent_id: o['agent-id'],
        action: o.action,
        decision: o.decision,
        since: o.since ? new Date(o.since) : undefined,
        until: o.until ? new Date(o.until) : undefined,
        tag: o.tag,
        approval_id: o['approval-id'],
        session_id: o['session-id'] ? (ledgerKey(o['session-id']) ?? undefined) : undefined,
        run_id: o['run-id'] ? (ledgerKey(o['run-id']) ?? undefined) : undefined,
      },
      o.format,
      (err) => log.error('decision export failed', { err }),
    );
    await pipeline(Readable.fromWeb(stream as never), o.out ? createWriteStream(o.out) : process.stdout);
  });
  return 0;
}
