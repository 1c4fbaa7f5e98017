// `holdpoint approvals`: a console approver (AgentHalt's ConsoleApprovalHandler,
// against a real Holdpoint). list / show / approve / reject, and `review`,
// which walks the pending approvals and asks approve / reject / skip at the
// terminal. Everything goes over HTTP with the approver's own key, so the
// server's identity rules decide whose vote it is; nothing here reads the
// database or the server's configuration.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { STATUSES } from '../approvals/status.ts';
import { loadMcpProxyEnv } from '../config.ts';
import { approverClient, type Approval, type ApproverClient, ApprovalsCliError } from './approvals-api.ts';
import { UsageError, print } from './common.ts';

export const APPROVALS_USAGE = `approvals list [--status S] [--limit N] [--json]
  approvals show ID [--json]
  approvals approve ID [--reason R]
  approvals reject ID [--reason R]
  approvals review [--limit N]          walk pending approvals: approve / reject / skip / quit at the prompt
                                        all: [--url URL] [--key KEY] (HOLDPOINT_URL, HOLDPOINT_API_KEY): your approver key`;

const Common = z.object({
  url: z
    .string()
    .min(1, { message: 'is required: where Holdpoint runs', abort: true })
    .regex(/^https?:\/\/[^\s/]+/, 'must be an http:// or https:// URL'),
  key: z.string().min(1, { message: 'is required: your approver key', abort: true }).regex(/^[\x21-\x7e]+$/, 'holds characters an Authorization header cannot carry'),
  json: z.boolean().default(false),
});
const Id = z.string().uuid('must be an approval id (uuid)');
const Limit = z.coerce.number().int().min(1).max(1000).default(50);
const Reason = z.string().max(2000, 'is at most 2000 characters').optional();

const FLAG: Record<string, string> = { url: '--url (or HOLDPOINT_URL)', key: '--key (or HOLDPOINT_API_KEY)', id: 'ID' };

function usage(error: z.ZodError): UsageError {
  return new UsageError(`approvals: ${error.issues.map((i) => `${FLAG[String(i.path[0])] ?? `--${String(i.path[0])}`}: ${i.message}`).join('; ')}`);
}

function parse<T extends z.ZodRawShape>(shape: T, values: Record<string, unknown>): z.infer<z.ZodObject<typeof Common.shape & T>> {
  const r = Common.extend(shape).safeParse(values);
  if (!r.success) throw usage(r.error);
  return r.data as z.infer<z.ZodObject<typeof Common.shape & T>>;
}

const json = (v: unknown) => JSON.stringify(v);

/** One line per approval, for `list`. */
export function approvalLine(a: Approval): string {
  const votes = a.votes.length ? `  votes ${a.votes.map((v) => `${v.approver}:${v.vote}`).join(',')}` : '';
  return `${a.id}  ${a.status.padEnd(9)}  ${a.action}  agent=${a.agent_id}  expires=${a.expires_at}${votes}`;
}

/** The whole approval, for `show` and `review`: what a person needs to decide. */
export function approvalText(a: Approval): string {
  const reasons = (a.reasons as { message?: string; rule?: string }[]).map((r) => `    - ${r.rule ? `${r.rule}: ` : ''}${r.message ?? ''}`);
  const lines = [
    `approval ${a.id}  [${a.status}]`,
    `  action:   ${a.action}`,
    `  agent:    ${a.agent_id}`,
    `  key:      ${a.idempotency_key}`,
    `  params:   ${json(a.params)}`,
    ...(Object.keys(a.context ?? {}).length ? [`  context:  ${json(a.context)}`] : []),
    ...(reasons.length ? ['  why:', ...reasons] : []),
    `  needs:    ${a.required_approvals} approval(s); votes: ${a.votes.length ? a.votes.map((v) => `${v.approver} ${v.vote}${v.reason ? ` ("${v.reason}")` : ''}`).join(', ') : 'none'}`,
    `  created:  ${a.created_at}`,
    `  expires:  ${a.expires_at}`,
  ];
  if (a.decided_at) lines.push(`  decided:  ${a.decided_at} by ${a.decided_by ?? '?'}${a.decision_reason ? ` ("${a.decision_reason}")` : ''}`);
  return lines.join('\n');
}

const outcome = (a: Approval) =>
  a.status === 'pending' ? `vote recorded; approval ${a.id} is still pending (${a.votes.filter((v) => v.vote === 'approve').length}/${a.required_approvals} approvals)` : `approval ${a.id} is now ${a.status}`;

/** The lines a person types, one at a time; null at the end of input. */
function lineReader(input: NodeJS.ReadableStream) {
  const rl = createInterface({ input, terminal: false });
  const it = rl[Symbol.asyncIterator]();
  return {
    async next(prompt: string, out: NodeJS.WritableStream): Promise<string | null> {
      out.write(prompt);
      const r = await it.next();
      return r.done ? null : r.value.trim();
    },
    close: () => rl.close(),
  };
}

const ANSWERS: Record<string, 'approve' | 'reject' | 'skip' | 'quit'> = {
  a: 'approve', approve: 'approve', y: 'approve', yes: 'approve',
  r: 'reject', reject: 'reject', n: 'reject', no: 'reject',
  s: 'skip', skip: 'skip', '': 'skip',
  q: 'quit', quit: 'quit',
};

/**
 * Walks the pending approvals, oldest deadline first, asking approve /
 * reject / skip / quit for each (a reject asks for a reason). An approval
 * decided meanwhile by someone else is reported and passed; a key that may
 * not decide stops the review. Returns the tally.
 *
 * @example
 * const t = await review(approverClient(url, key), process.stdin, process.stdout, 50);
 */
export async function review(api: ApproverClient, input: NodeJS.ReadableStream, out: NodeJS.WritableStream, limit: number) {
  const pending = (await api.list({ status: 'pending', limit })).sort((a, b) => a.expires_at.localeCompare(b.expires_at));
  const tally = { approved: 0, rejected: 0, skipped: 0, changed_elsewhere: 0 };
  if (pending.length === 0) {
    out.write('no pending approvals\n');
    return tally;
  }
  const lines = lineReader(input);
  try {
    for (const [i, a] of pending.entries()) {
      out.write(`\n(${i + 1}/${pending.length}) ${approvalText(a)}\n`);
      let answer: (typeof ANSWERS)[string] | undefined;
      for (;;) {
        const typed = await lines.next('approve, reject, skip or quit? [a/r/s/q] ', out);
        if (typed === null) {
          answer = 'quit';
          break;
        }
        answer = ANSWERS[typed.toLowerCase()];
        if (answer) break;
        out.write(`"${typed}" is not an answer\n`);
      }
      if (answer === 'quit') {
        tally.skipped += pending.length - i;
        break;
      }
      if (answer === 'skip') {
        tally.skipped++;
        continue;
      }
      const reason = answer === 'reject' ? ((await lines.next('reason (optional): ', out)) ?? '') : '';
      try {
        const after = await api.decide(a.id, answer, reason || undefined);
        out.write(`${outcome(after)}\n`);
        if (answer === 'approve') tally.approved++;
        else tally.rejected++;
      } catch (err) {
        // Decided by someone else, or expired, while this one was on screen: say so and go on.
        if (err instanceof ApprovalsCliError && err.code === 'already_decided') {
          out.write(`${err.message}\n`);
          tally.changed_elsewhere++;
          continue;
        }
        throw err;
      }
    }
  } finally {
    lines.close();
  }
  out.write(`\napproved ${tally.approved}, rejected ${tally.rejected}, skipped ${tally.skipped}${tally.changed_elsewhere ? `, decided elsewhere ${tally.changed_elsewhere}` : ''}\n`);
  return tally;
}

/** `holdpoint approvals <sub> …`; exit 0 ok, 1 error (a refusal, an unreachable server), 2 usage. */
export async function approvalsCommand(sub: string | undefined, rest: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      reason: { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  // The same variables as the SDK and mcp-proxy: where Holdpoint is, and whose key.
  const env = loadMcpProxyEnv();
  const common = { url: values.url ?? env.url ?? '', key: values.key ?? env.key ?? '', json: values.json };
  const api = (a: { url: string; key: string }) => approverClient(a.url, a.key);
  const only = (n: number, what: string) => {
    if (positionals.length !== n) throw new UsageError(`approvals ${sub} takes ${what}`);
  };

  switch (sub) {
    case 'list': {
      only(0, 'no positional arguments');
      const a = parse({ status: z.enum(STATUSES).optional(), limit: Limit }, { ...common, status: values.status, limit: values.limit });
      const rows = await api(a).list({ status: a.status, limit: a.limit });
      print(a.json, rows, rows.map(approvalLine).join('\n') || (a.status ? `(no ${a.status} approvals)` : '(no approvals)'));
      return 0;
    }
    case 'show': {
      only(1, 'one ID');
      const a = parse({ id: Id }, { ...common, id: positionals[0] });
      const row = await api(a).get(a.id);
      print(a.json, row, approvalText(row));
      return 0;
    }
    case 'approve':
    case 'reject': {
      only(1, 'one ID');
      const a = parse({ id: Id, reason: Reason }, { ...common, id: positionals[0], reason: values.reason });
      const after = await api(a).decide(a.id, sub, a.reason);
      print(a.json, after, outcome(after));
      return 0;
    }
    case 'review': {
      only(0, 'no positional arguments');
      const a = parse({ limit: Limit }, { ...common, limit: values.limit });
      const tally = await review(api(a), process.stdin, process.stdout, a.limit);
      if (a.json) process.stdout.write(`${JSON.stringify(tally)}\n`);
      return 0;
    }
  }
  throw new UsageError(`approvals needs a subcommand: list | show | approve | reject | review`);
}
