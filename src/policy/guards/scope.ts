// The scope guard: which actions an agent may take at all. Deny and
// require-approval lists of action globs, an allow list outside which
// `otherwise` applies, and read-only mode (only reads pass). Pure.
//
// Per-agent overrides (`agents`) only ever add restrictions, because a deny
// the tenant wrote must hold for every agent: every override whose key is the
// agent's id or a glob matching it applies, and
//   deny, require_approval  — the union of the tenant's and the overrides' lists;
//   read_only               — on if the tenant or any override says so;
//   otherwise               — the strictest (deny over require_approval);
//   allow                   — narrows: the action must be in the tenant's allow
//                             list (if any) and in each override's (if any).
// To give one agent more than the tenant's allow list, widen the tenant list
// and narrow the other agents with overrides.
//
// An action is a read when it matches `read_patterns` (globs, e.g. `*.get`), or
// when its last dotted segment opens with one of `read_verbs` as a whole word
// (`get_user`, `listUsers`, `search-docs`) and no word after it is a write word
// (`list_delete`, `getOrCreate`). `getaway.book` is not a read: `getaway` is
// one word.
import type { EvaluationRequest } from '../evaluate.ts';
import { globMatch } from '../glob.ts';
import { normalizeText } from '../normalize.ts';
import type { ScopeConfig } from './config.ts';
import type { CounterOp, Finding } from './types.ts';

export interface EffectiveScope {
  /** Every non-empty allow list that applies; the action must match each. */
  allow: string[][];
  deny: string[];
  require_approval: string[];
  otherwise: 'deny' | 'require_approval';
  read_only: boolean;
  /** The `agents` keys that applied, in document order. */
  overrides: string[];
}

/** The tenant's lists with every override that matches the agent added (see the module comment). */
export function effectiveScope(config: ScopeConfig, agentId: string): EffectiveScope {
  const id = normalizeText(agentId);
  const keys = Object.keys(config.agents).filter((k) => normalizeText(k) === id || globMatch(k, agentId));
  const layers = [config, ...keys.map((k) => config.agents[k]!)];
  const allow: string[][] = [];
  const deny: string[] = [];
  const require_approval: string[] = [];
  let otherwise: 'deny' | 'require_approval' = config.otherwise ?? 'deny';
  let read_only = false;
  for (const l of layers) {
    if (l.allow && l.allow.length > 0) allow.push(l.allow);
    deny.push(...(l.deny ?? []));
    require_approval.push(...(l.require_approval ?? []));
    if (l.otherwise === 'deny') otherwise = 'deny';
    read_only ||= l.read_only === true;
  }
  return { allow, deny, require_approval, otherwise, read_only, overrides: keys };
}

// Words that make an action a write whatever verb opens it.
const WRITE_WORDS = new Set([
  'add', 'append', 'apply', 'approve', 'archive', 'assign', 'ban', 'block', 'book', 'buy', 'cancel', 'change', 'charge',
  'clear', 'commit', 'copy', 'create', 'del', 'delete', 'deploy', 'destroy', 'disable', 'drop', 'edit', 'enable', 'erase',
  'exec', 'execute', 'flush', 'grant', 'import', 'insert', 'invite', 'kill', 'lock', 'merge', 'modify', 'move', 'mutate',
  'order', 'patch', 'pay', 'post', 'publish', 'purge', 'push', 'put', 'refund', 'reject', 'remove', 'rename', 'replace',
  'reset', 'restart', 'restore', 'revoke', 'rm', 'run', 'save', 'sell', 'send', 'set', 'share', 'sign', 'start', 'stop',
  'store', 'submit', 'sync', 'transfer', 'truncate', 'unlock', 'update', 'upload', 'upsert', 'wipe', 'write',
]);

/** The words of one name: split at `_`, `-`, spaces and camelCase humps; lower-cased. */
export function words(name: string): string[] {
  return (name.match(/[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+/g) ?? []).map((w) => w.toLowerCase());
}

export function isReadAction(config: Pick<ScopeConfig, 'read_patterns' | 'read_verbs'>, action: string): boolean {
  if (globMatch(config.read_patterns, action)) return true;
  // Case matters for camelCase humps, so no case folding here (words() lower-cases after splitting).
  const clean = normalizeText(action, true);
  const last = clean.slice(clean.lastIndexOf('.') + 1);
  const ws = words(last);
  if (ws.length === 0 || !config.read_verbs.includes(ws[0]!)) return false;
  // The whole segment must be words and separators: no `get$x`, no hidden characters.
  if (!/^[A-Za-z0-9_\- ]+$/.test(last)) return false;
  return !ws.slice(1).some((w) => WRITE_WORDS.has(w));
}

export function queries(): [] {
  return [];
}

export function evaluate(config: ScopeConfig, req: EvaluationRequest): { findings: Finding[]; ops: CounterOp[] } {
  const s = effectiveScope(config, req.agent_id);
  const who = s.overrides.length === 0 ? '' : ` for agent ${req.agent_id}`;
  const findings: Finding[] = [];
  if (s.deny.length > 0 && globMatch(s.deny, req.action)) {
    findings.push({ guard: 'scope', decision: 'deny', message: `${req.action} is in the scope deny list${who}`, risk: 1 });
  }
  if (s.read_only && !isReadAction(config, req.action)) {
    findings.push({ guard: 'scope', decision: 'deny', message: `read-only scope${who}: ${req.action} is not a read action`, risk: 1 });
  }
  if (s.allow.some((list) => !globMatch(list, req.action))) {
    findings.push({
      guard: 'scope',
      decision: s.otherwise,
      message: `${req.action} is outside the allowed scope${who}`,
      risk: s.otherwise === 'deny' ? 1 : 0.5,
    });
  }
  if (s.require_approval.length > 0 && globMatch(s.require_approval, req.action)) {
    findings.push({ guard: 'scope', decision: 'require_approval', message: `${req.action} needs approval by scope${who}`, risk: 0.5 });
  }
  return { findings, ops: [] };
}
