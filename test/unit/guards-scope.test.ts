import { describe, expect, it } from 'vitest';
import * as scope from '../../src/policy/guards/scope.ts';
import type { EvaluationRequest } from '../../src/policy/evaluate.ts';
import { parsePolicy, type PolicyInput } from '../../src/policy/schema.ts';

function config(c: Record<string, unknown>) {
  const r = parsePolicy({ guards: { scope: c } } as PolicyInput);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy.guards!.scope!;
}

const req = (action: string, agent_id = 'bot'): EvaluationRequest => ({ action, agent_id, params: {}, context: {} });
const decisions = (c: ReturnType<typeof config>, action: string, agent?: string) => scope.evaluate(c, req(action, agent)).findings.map((f) => f.decision);

describe('scope', () => {
  it('deny and require_approval lists apply to matching actions only', () => {
    const c = config({ deny: ['admin.*'], require_approval: ['payment.*'] });
    expect(decisions(c, 'admin.delete_user')).toEqual(['deny']);
    expect(decisions(c, 'payment.send')).toEqual(['require_approval']);
    expect(decisions(c, 'email.send')).toEqual([]);
  });

  it('a non-empty allow list sends every other action to `otherwise`, deny by default', () => {
    expect(decisions(config({ allow: ['read.*'] }), 'write.file')).toEqual(['deny']);
    expect(decisions(config({ allow: ['read.*'] }), 'read.file')).toEqual([]);
    expect(decisions(config({ allow: ['read.*'], otherwise: 'require_approval' }), 'write.file')).toEqual(['require_approval']);
    expect(decisions(config({ allow: [] }), 'write.file')).toEqual([]);
  });

  it('read-only lets through only actions matching the read patterns', () => {
    const c = config({ read_only: true });
    expect(decisions(c, 'crm.contacts.list')).toEqual([]);
    expect(decisions(c, 'search.web')).toEqual([]);
    expect(decisions(c, 'crm.contacts.update')).toEqual(['deny']);
    const custom = config({ read_only: true, read_patterns: ['*.fetch'], read_verbs: [] });
    expect(decisions(custom, 'doc.fetch')).toEqual([]);
    expect(decisions(custom, 'doc.get')).toEqual(['deny']);
  });

  it('a per-agent override adds to the tenant lists and narrows the allow list', () => {
    const c = config({
      deny: ['admin.*'],
      allow: ['*'],
      agents: { 'support-bot': { allow: ['ticket.*', 'kb.*'], read_only: true }, 'intern-*': { deny: ['*.delete'] } },
    });
    expect(decisions(c, 'ticket.reply', 'support-bot')).toEqual(['deny']); // read-only
    expect(decisions(c, 'kb.get', 'support-bot')).toEqual([]);
    expect(decisions(c, 'email.get', 'support-bot')).toEqual(['deny']); // outside its allow list
    expect(decisions(c, 'admin.get', 'support-bot')).toContain('deny'); // the tenant deny is inherited
    expect(decisions(c, 'admin.get', 'intern-3')).toEqual(['deny']); // the tenant deny still holds
    expect(decisions(c, 'file.delete', 'intern-3')).toEqual(['deny']);
    expect(decisions(c, 'email.get', 'billing-bot')).toEqual([]);
    expect(scope.evaluate(c, req('email.get', 'support-bot')).findings[0]!.message).toBe('email.get is outside the allowed scope for agent support-bot');
  });

  it('every matching override applies: an exact id with an empty deny list does not lift a glob key\'s deny', () => {
    const c = config({ agents: { 'bot-*': { deny: ['*'] }, 'bot-1': { deny: [] } } });
    expect(effective(c, 'bot-1')).toEqual(['bot-*', 'bot-1']);
    expect(effective(c, 'bot-2')).toEqual(['bot-*']);
    expect(decisions(c, 'kb.get', 'bot-1')).toEqual(['deny']);
  });

  it('needs no counters', () => {
    expect(scope.queries()).toEqual([]);
  });
});

function effective(c: ReturnType<typeof config>, agent: string) {
  return scope.effectiveScope(c, agent).overrides;
}
