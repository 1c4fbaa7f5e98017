// The scope guard: which actions an agent may take at all. Deny and
// require-approval lists of action globs, an allow list outside which
// `otherwise` applies, and read-only mode (only read patterns pass). Per-agent
// overrides replace the tenant's lists field by field: a field the override
// leaves out is inherited, so a tenant-wide deny still holds unless replaced. Pure.
import type { EvaluationRequest } from '../evaluate.ts';
import { globMatch } from '../glob.ts';
import type { ScopeConfig } from './config.ts';
import type { CounterOp, Finding } from './types.ts';

export interface EffectiveScope {
  allow: string[];
  deny: string[];
  require_approval: string[];
  otherwise: 'deny' | 'require_approval';
  read_only: boolean;
  /** The `agents` key that applied, if any. */
  override: string | null;
}

/** The override for an agent: its exact id first, then the first glob key (in document order) that matches. */
export function effectiveScope(config: ScopeConfig, agentId: string): EffectiveScope {
  let key: string | null = Object.prototype.hasOwnProperty.call(config.agents, agentId) ? agentId : null;
  key ??= Object.keys(config.agents).find((k) => globMatch(k, agentId)) ?? null;
  const o = key === null ? {} : config.agents[key]!;
  return {
    allow: o.allow ?? config.allow ?? [],
    deny: o.deny ?? config.deny ?? [],
    require_approval: o.require_approval ?? config.require_approval ?? [],
    otherwise: o.otherwise ?? config.otherwise ?? 'deny',
    read_only: o.read_only ?? config.read_only ?? false,
    override: key,
  };
}

export function queries(): [] {
  return [];
}

export function evaluate(config: ScopeConfig, req: EvaluationRequest): { findings: Finding[]; ops: CounterOp[] } {
  const s = effectiveScope(config, req.agent_id);
  const who = s.override === null ? '' : ` for agent ${req.agent_id}`;
  const findings: Finding[] = [];
  if (s.deny.length > 0 && globMatch(s.deny, req.action)) {
    findings.push({ guard: 'scope', decision: 'deny', message: `${req.action} is in the scope deny list${who}`, risk: 1 });
  }
  if (s.read_only && !globMatch(config.read_patterns, req.action)) {
    findings.push({ guard: 'scope', decision: 'deny', message: `read-only scope${who}: ${req.action} is not a read action`, risk: 1 });
  }
  if (s.allow.length > 0 && !globMatch(s.allow, req.action)) {
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
