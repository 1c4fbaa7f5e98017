// AgentHalt's agenthalt.yaml (`guards:` with budget, deletion, purchase,
// rate_limit, scope, sensitive_data — the same names as its *Config classes)
// → a Holdpoint policy document. Pure.
//
// AgentHalt's guards look at the function call itself; Holdpoint's purchase
// and deletion guards are told which actions they cover and where in params
// the amount or the resource is. AgentHalt's YAML says neither, so the
// importer picks the defaults below and says so (edit them to your actions).
import { re2Problem } from '../regex.ts';
import { isPlain, Section, type ImportNote, type ImportResult } from './reader.ts';

export const DEFAULT_PURCHASE_ACTIONS = ['purchase*', '*.purchase', 'buy_*', '*.buy'];
export const DEFAULT_DELETION_ACTIONS = ['delete_*', '*.delete', 'remove_*', '*.remove'];
export const DEFAULT_AMOUNT_PATH = 'params.amount';
export const DEFAULT_CATEGORY_PATH = 'params.category';
export const DEFAULT_RESOURCE_PATH = 'params.id';
/** AgentHalt does not say over what window max_identical_calls counts. */
export const IDENTICAL_WINDOW_SECONDS = 300;
/** AgentHalt's burst window when burst_threshold comes alone (its documented example uses 5 s). */
export const DEFAULT_BURST_WINDOW_SECONDS = 5;

// AgentHalt blocked_patterns → Holdpoint built-in detectors.
const DETECTORS: Record<string, string> = {
  ssn: 'us_ssn',
  us_ssn: 'us_ssn',
  credit_card: 'credit_card',
  email: 'email',
  phone: 'phone',
  aws_key: 'aws_access_key',
  aws_access_key: 'aws_access_key',
  jwt: 'jwt',
  private_key: 'private_key',
  bearer_token: 'bearer_token',
};

type Doc = Record<string, unknown>;
const nonEmpty = (o: Doc) => Object.keys(o).length > 0;

function positive(s: Section, k: string): number | undefined {
  const v = s.number(k);
  if (v === undefined) return undefined;
  if (v > 0) return v;
  s.note(k, 'unmapped', 'a limit of 0 or less; Holdpoint limits are positive (deny the actions instead)');
  return undefined;
}

function wholeSeconds(s: Section, k: string, v: number, min = 1): number {
  const n = Math.max(min, Math.ceil(v));
  if (n !== v) s.note(k, 'approximate', `${v} s rounded up to ${n} s (whole seconds here)`);
  return n;
}

function budget(s: Section): Doc {
  const out: Doc = {};
  const maxCall = s.number('max_call_cost');
  if (maxCall !== undefined) {
    if (maxCall >= 0) out.max_call_cost = maxCall;
    else s.note('max_call_cost', 'unmapped', 'a negative cost; skipped');
  }
  const session = positive(s, 'max_session_spend');
  if (session !== undefined) {
    out.per_agent = { session };
    s.note('max_session_spend', 'approximate', 'per agent per context.session_id: agents must send session_id in context (calls without one are not counted)');
  }
  const day = positive(s, 'max_daily_spend');
  const month = positive(s, 'max_monthly_spend');
  if (day !== undefined || month !== undefined) {
    out.per_tenant = { ...(day !== undefined ? { day } : {}), ...(month !== undefined ? { month } : {}) };
    for (const k of ['max_daily_spend', 'max_monthly_spend']) {
      if (s.has(k)) s.note(k, 'approximate', "per_tenant: all the tenant's agents together, per UTC day/month (AgentHalt keeps one total per engine)");
    }
  }
  const warn = s.number('warn_threshold');
  if (warn !== undefined) {
    if (warn > 0 && warn <= 1) out.warn_threshold = warn;
    else s.note('warn_threshold', 'unmapped', 'must be above 0 and at most 1; skipped');
  }
  const costs = s.numbers('cost_estimator');
  if (costs) {
    const table: Record<string, number> = {};
    for (const [fn, cost] of Object.entries(costs)) {
      if (cost >= 0) table[fn] = cost;
      else s.notes.push({ key: `${s.key('cost_estimator')}.${fn}`, kind: 'unmapped', why: 'a negative cost; skipped' });
    }
    if (nonEmpty(table)) out.cost_table = table;
    s.note('cost_estimator', 'approximate', 'cost_table: used when a call carries no cost_usd; the names are globs here');
  }
  s.rest();
  return out;
}

function purchase(s: Section): Doc {
  const out: Doc = { actions: DEFAULT_PURCHASE_ACTIONS, amount_path: DEFAULT_AMOUNT_PATH };
  s.notes.push({
    key: s.path,
    kind: 'default',
    why: `AgentHalt names no actions or amount field: actions ${JSON.stringify(DEFAULT_PURCHASE_ACTIONS)} and amount_path ${DEFAULT_AMOUNT_PATH} are defaults — edit them to your purchase calls (a call without a plain-number amount is denied)`,
  });
  const single = s.number('max_single_purchase');
  if (single !== undefined) out.max_single = single;
  const above = s.number('require_approval_above');
  if (above !== undefined) out.require_approval_above = above;
  const total = positive(s, 'max_daily_purchases');
  if (total !== undefined) out.daily_total = total;
  const count = positive(s, 'max_purchase_count_per_day');
  if (count !== undefined) out.daily_count = Math.floor(count);
  const blocked = s.strings('blocked_categories');
  if (blocked && blocked.length > 0) {
    out.category_path = DEFAULT_CATEGORY_PATH;
    out.blocked_categories = blocked;
    s.note('blocked_categories', 'default', `the category is read from ${DEFAULT_CATEGORY_PATH} (a default; edit category_path)`);
  }
  if (s.has('max_daily_purchases') || s.has('max_purchase_count_per_day')) {
    s.notes.push({ key: `${s.path}.daily`, kind: 'approximate', why: 'daily totals and counts are per agent per UTC day' });
  }
  s.rest();
  return out;
}

function deletion(s: Section): Doc {
  const out: Doc = { actions: DEFAULT_DELETION_ACTIONS, resource_path: DEFAULT_RESOURCE_PATH };
  s.notes.push({
    key: s.path,
    kind: 'default',
    why: `AgentHalt names no actions or resource field: actions ${JSON.stringify(DEFAULT_DELETION_ACTIONS)} and resource_path ${DEFAULT_RESOURCE_PATH} are defaults — edit them to your delete calls (a call without a resource there is denied)`,
  });
  const allow = s.strings('allow_patterns');
  if (allow && allow.length > 0) out.allow_patterns = allow;
  const deny = s.strings('deny_patterns');
  if (deny && deny.length > 0) out.deny_patterns = deny;
  const prot = s.strings('protected_resources');
  if (prot && prot.length > 0) out.protected = prot;
  const always = s.boolean('require_approval_always');
  if (always !== undefined) out.require_approval_always = always;
  const bulk = positive(s, 'max_bulk_delete');
  if (bulk !== undefined) out.max_bulk_delete = Math.floor(bulk);
  const perDay = positive(s, 'max_deletions_per_day');
  if (perDay !== undefined) {
    out.max_per_day = Math.floor(perDay);
    s.note('max_deletions_per_day', 'approximate', 'resources deleted per agent per UTC day');
  }
  const soft = s.boolean('soft_delete_only');
  if (soft !== undefined) {
    out.soft_delete_only = soft;
    if (soft) s.note('soft_delete_only', 'default', 'a call is a hard delete when params.permanent is anything but false or absent (hard_delete_path, a default)');
  }
  const cool = positive(s, 'cooldown_seconds');
  if (cool !== undefined) out.cooldown_seconds = cool;
  s.rest();
  return out;
}

function rateLimit(s: Section): Doc {
  const out: Doc = {};
  const perMinute = positive(s, 'max_calls_per_minute');
  if (perMinute !== undefined) {
    out.per_agent = { per_minute: Math.floor(perMinute) };
    s.note('max_calls_per_minute', 'approximate', 'per agent (AgentHalt counts per engine)');
  }
  const perFn = positive(s, 'max_calls_per_minute_per_function');
  if (perFn !== undefined) out.per_agent_action = { per_minute: Math.floor(perFn) };
  const perSession = positive(s, 'max_calls_per_session');
  if (perSession !== undefined) {
    out.per_session = { max: Math.floor(perSession) };
    s.note('max_calls_per_session', 'approximate', 'per agent per context.session_id: calls without a session_id are not counted');
  }
  const identical = positive(s, 'max_identical_calls');
  if (identical !== undefined) {
    out.max_identical_calls = { count: Math.floor(identical), window_seconds: IDENTICAL_WINDOW_SECONDS };
    s.note('max_identical_calls', 'default', `counted over ${IDENTICAL_WINDOW_SECONDS} s (AgentHalt names no window; edit window_seconds)`);
  }
  const threshold = positive(s, 'burst_threshold');
  const window = positive(s, 'burst_window_seconds');
  const cooldown = positive(s, 'cooldown_seconds');
  if (threshold !== undefined) {
    const burst: Doc = { max: Math.floor(threshold) };
    if (window !== undefined) burst.window_seconds = Math.min(3600, wholeSeconds(s, 'burst_window_seconds', window));
    else {
      burst.window_seconds = DEFAULT_BURST_WINDOW_SECONDS;
      s.note('burst_threshold', 'default', `burst window ${DEFAULT_BURST_WINDOW_SECONDS} s (burst_window_seconds not given)`);
    }
    if (cooldown !== undefined) burst.cooldown_seconds = wholeSeconds(s, 'cooldown_seconds', cooldown);
    out.burst = burst;
  } else {
    if (window !== undefined) s.note('burst_window_seconds', 'unmapped', 'no burst_threshold to go with it');
    if (cooldown !== undefined) s.note('cooldown_seconds', 'unmapped', 'the cooldown follows a burst; no burst_threshold to go with it');
  }
  s.rest();
  return out;
}

function scope(s: Section): Doc {
  const out: Doc = {};
  const allow = s.strings('allow_functions');
  if (allow && allow.length > 0) {
    out.allow = allow;
    out.otherwise = 'deny';
  }
  const deny = s.strings('deny_functions');
  if (deny && deny.length > 0) out.deny = deny;
  const approval = s.strings('require_approval_functions');
  if (approval && approval.length > 0) out.require_approval = approval;
  const byAgent = s.mapping('deny_by_agent');
  if (byAgent) {
    const agents: Record<string, { deny: string[] }> = {};
    for (const [agent, list] of Object.entries(byAgent)) {
      if (Array.isArray(list) && list.every((x) => typeof x === 'string')) {
        if (list.length > 0) agents[agent] = { deny: list as string[] };
      } else s.notes.push({ key: `${s.key('deny_by_agent')}.${agent}`, kind: 'unmapped', why: 'expected a list of strings; skipped' });
    }
    if (nonEmpty(agents)) out.agents = agents;
  }
  const ro = s.boolean('read_only_mode');
  if (ro !== undefined) {
    out.read_only = ro;
    if (ro) s.note('read_only_mode', 'approximate', "reads are told apart by Holdpoint's read_patterns and read_verbs (get_*, list_*, search_*, *.get, …)");
  }
  s.rest();
  return out;
}

function sensitive(s: Section): Doc {
  const out: Doc = {};
  const blocked = s.strings('blocked_patterns');
  if (blocked) {
    const detectors = new Set<string>();
    for (const b of blocked) {
      const d = DETECTORS[b.toLowerCase()];
      if (d) detectors.add(d);
      else if (b.toLowerCase() === 'api_key') {
        s.notes.push({ key: `${s.key('blocked_patterns')}.${b}`, kind: 'approximate', why: 'no api_key detector: a value under a key named api_key is caught by field_names (added there if sensitive_fields is set); add a custom pattern for your key format' });
      } else s.notes.push({ key: `${s.key('blocked_patterns')}.${b}`, kind: 'unmapped', why: `no such built-in detector (Holdpoint has ${[...new Set(Object.values(DETECTORS))].join(', ')})` });
    }
    out.detectors = [...detectors];
  }
  const fields = s.strings('sensitive_fields');
  if (fields && fields.length > 0) {
    // AgentHalt's api_key pattern has no detector here; the field name stands in for it.
    const apiKey = blocked?.some((b) => b.toLowerCase() === 'api_key') === true;
    out.field_names = apiKey && !fields.includes('api_key') ? [...fields, 'api_key'] : fields;
  }
  const custom = s.mapping('custom_patterns');
  if (custom) {
    const list: { name: string; pattern: string }[] = [];
    const used = new Set<string>([...Object.values(DETECTORS), 'field']);
    for (const [name, pattern] of Object.entries(custom)) {
      const key = `${s.key('custom_patterns')}.${name}`;
      if (typeof pattern !== 'string') {
        s.notes.push({ key, kind: 'unmapped', why: 'expected a regular expression string; skipped' });
        continue;
      }
      const problem = re2Problem(pattern);
      if (problem) {
        s.notes.push({ key, kind: 'unmapped', why: `${problem}; skipped` });
        continue;
      }
      let id = name.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^[^a-z]+/, '').slice(0, 63);
      if (id === '' || used.has(id)) id = `custom_${list.length + 1}`;
      if (id !== name) s.notes.push({ key, kind: 'approximate', why: `renamed to "${id}" (detector names are lower_snake_case and unique)` });
      used.add(id);
      list.push({ name: id, pattern });
    }
    if (list.length > 0) out.custom = list;
  }
  const redact = s.boolean('redact_on_modify');
  out.on_finding = redact === true ? 'redact' : 'deny';
  if (redact === undefined) s.notes.push({ key: s.key('redact_on_modify'), kind: 'default', why: 'not set: a finding denies, as AgentHalt does by default' });
  s.rest();
  return out;
}

const GUARDS: Record<string, { to: string; fn: (s: Section) => Doc }> = {
  budget: { to: 'budget', fn: budget },
  purchase: { to: 'purchase', fn: purchase },
  deletion: { to: 'deletion', fn: deletion },
  rate_limit: { to: 'rate_limit', fn: rateLimit },
  scope: { to: 'scope', fn: scope },
  sensitive_data: { to: 'sensitive_data', fn: sensitive },
};

export function fromAgentHalt(doc: unknown): ImportResult {
  const notes: ImportNote[] = [];
  const root = new Section('', isPlain(doc) ? doc : {}, notes);
  if (!isPlain(doc)) notes.push({ key: '(root)', kind: 'unmapped', why: 'the file is not a YAML mapping; nothing to import' });
  const guards: Doc = {};
  const g = root.section('guards');
  if (g) {
    for (const [name, { to, fn }] of Object.entries(GUARDS)) {
      const s = g.section(name);
      if (!s) continue;
      const out = fn(s);
      // Purchase and deletion are lists of entries in Holdpoint (one per set of actions).
      if (to === 'purchase' || to === 'deletion') guards[to] = [out];
      else if (nonEmpty(out)) guards[to] = out;
    }
    g.rest('not a guard this importer knows (custom guards are Python code: rewrite them as Holdpoint custom CEL guards or rules); not mapped');
  } else if (isPlain(doc)) notes.push({ key: 'guards', kind: 'unmapped', why: 'no guards section; nothing to import' });
  root.rest();
  notes.push({ key: '(defaults)', kind: 'default', why: 'defaults.decision is allow: AgentHalt lets through what its guards do not stop' });
  return {
    document: {
      description: 'Imported from AgentHalt (holdpoint policy import --from agenthalt)',
      fail_mode: 'closed',
      defaults: { decision: 'allow' },
      ...(nonEmpty(guards) ? { guards } : {}),
    },
    notes,
  };
}
