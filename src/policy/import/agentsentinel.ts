// AgentSentinel's policy (callguard.yaml, or the keyword arguments of
// PolicyEngine.configure written as YAML) → a Holdpoint policy document. Pure.
//
//   budgets.session / session_budget   → guards.budget.per_agent.session (per context.session_id)
//   budgets.run / run_budget           → guards.budget.per_agent.run (per context.run_id)
//   budgets.actions / action_budgets   → guards.budget.per_action[name] {session, per: agent}
//   denied_actions                     → guards.scope.deny
//   allowed_actions                    → guards.scope.allow (otherwise: deny)
//   strict_mode: true                  → fail_mode: closed (Holdpoint always enforces)
import { exactNames, isPlain, Section, type ImportNote, type ImportResult } from './reader.ts';

export function fromAgentSentinel(doc: unknown): ImportResult {
  const notes: ImportNote[] = [];
  const root = new Section('', isPlain(doc) ? doc : {}, notes);
  if (!isPlain(doc)) notes.push({ key: '(root)', kind: 'unmapped', why: 'the file is not a YAML mapping; nothing to import' });

  const budget: Record<string, unknown> = {};
  const perAgent: Record<string, number> = {};
  const perAction: Record<string, unknown> = {};

  const b = root.section('budgets');
  // The YAML form (budgets.*) and the configure() form (*_budget) say the same; the YAML form wins.
  const both = (k: string, configure: string) => {
    const yaml = b?.has(k) === true;
    if (yaml && root.has(configure)) root.skip(configure, `budgets.${k} is set too; it wins`);
    return yaml;
  };
  const session = both('session', 'session_budget') ? b!.number('session') : root.number('session_budget');
  const run = both('run', 'run_budget') ? b!.number('run') : root.number('run_budget');
  const actions = both('actions', 'action_budgets') ? b!.numbers('actions') : root.numbers('action_budgets');
  b?.rest();

  const key = (k: string, configure: string) => (b?.has(k) ? `budgets.${k}` : configure);
  if (session !== undefined) {
    if (session > 0) {
      perAgent.session = session;
      notes.push({ key: key('session', 'session_budget'), kind: 'approximate', why: 'Holdpoint adds spend up per agent per context.session_id: agents must send session_id in context (calls without one are not counted), and cost_usd with each call' });
    } else notes.push({ key: key('session', 'session_budget'), kind: 'unmapped', why: 'a budget of 0 or less; Holdpoint limits are positive (deny the actions instead)' });
  }
  if (run !== undefined) {
    if (run > 0) {
      perAgent.run = run;
      notes.push({ key: key('run', 'run_budget'), kind: 'approximate', why: 'Holdpoint adds spend up per agent per context.run_id (CostTracker.reset_run() becomes a new run_id); calls without a run_id are not counted' });
    } else notes.push({ key: key('run', 'run_budget'), kind: 'unmapped', why: 'a budget of 0 or less; Holdpoint limits are positive (deny the actions instead)' });
  }
  if (actions) {
    for (const [name, limit] of Object.entries(actions)) {
      if (limit > 0) perAction[name] = { session: limit, per: 'agent' };
      else notes.push({ key: `${key('actions', 'action_budgets')}.${name}`, kind: 'unmapped', why: 'a budget of 0 or less; Holdpoint limits are positive' });
    }
    if (Object.keys(perAction).length > 0) {
      notes.push({ key: key('actions', 'action_budgets'), kind: 'approximate', why: "each action's total spend is limited per agent per context.session_id (per_action {session, per: agent}); AgentSentinel keeps it for the life of its process" });
    }
  }
  if (Object.keys(perAgent).length > 0) budget.per_agent = perAgent;
  if (Object.keys(perAction).length > 0) budget.per_action = perAction;

  const scope: Record<string, unknown> = {};
  const denied = root.strings('denied_actions');
  if (denied && denied.length > 0) scope.deny = exactNames(denied, root, 'denied_actions');
  const allowed = root.strings('allowed_actions');
  if (allowed && allowed.length > 0) {
    scope.allow = exactNames(allowed, root, 'allowed_actions');
    scope.otherwise = 'deny';
  } else if (allowed) root.note('allowed_actions', 'approximate', 'an empty allow list; left out (AgentSentinel treats it as no allow list)');

  const strict = root.boolean('strict_mode');
  if (strict === false) root.note('strict_mode', 'unmapped', 'Holdpoint has no warn-only mode: every limit and deny list is enforced');
  else if (strict === true) root.note('strict_mode', 'approximate', 'mapped to fail_mode: closed — Holdpoint enforces every limit, and an evaluation error denies');
  root.rest();

  const guards: Record<string, unknown> = {};
  if (Object.keys(budget).length > 0) guards.budget = budget;
  if (Object.keys(scope).length > 0) guards.scope = scope;
  notes.push({ key: '(defaults)', kind: 'default', why: 'defaults.decision is allow: AgentSentinel lets through whatever its lists and budgets do not stop' });
  return {
    document: {
      description: 'Imported from AgentSentinel (holdpoint policy import --from agentsentinel)',
      fail_mode: 'closed',
      defaults: { decision: 'allow' },
      ...(Object.keys(guards).length > 0 ? { guards } : {}),
    },
    notes,
  };
}
