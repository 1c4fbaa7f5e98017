// Sets up a tenant on a running Holdpoint the way a user would: the CLI
// creates it, the API sets its policy and webhook endpoints.
import { runCli, type Holdpoint } from './processes.ts';
import { must } from './http.ts';

export interface Tenant {
  tenant_id: string;
  keys: { agent: string; approver: string; admin: string };
  webhook_secret: string;
}

/**
 * The 50-rule policy: 49 rules that a bench request never matches (globs and
 * `when` conditions to evaluate) and one that parks every `payment.*`.
 */
export function fiftyRulePolicy(timeoutSeconds = 3600) {
  const rules: Record<string, unknown>[] = Array.from({ length: 49 }, (_, i) => ({
    name: `rule-${i}`,
    match: { action: `svc${i}.*`, when: { 'params.amount': { gt: 1000 + i } } },
    decision: i % 7 === 0 ? 'deny' : 'require_approval',
  }));
  rules.push({ name: 'approve-payments', match: { action: 'payment.*' }, decision: 'require_approval' });
  return { defaults: { decision: 'allow', timeout_seconds: timeoutSeconds, min_timeout_seconds: 1 }, rules };
}

export async function createTenant(hp: Holdpoint, opts: { timeoutSeconds?: number; webhook?: { url: string; event_types: string[] } } = {}): Promise<Tenant> {
  const out = await runCli(['tenant', 'create', 'bench', '--json'], hp.env, hp.root);
  const t = JSON.parse(out.slice(out.indexOf('{'))) as { tenant_id: string; api_keys: Tenant['keys']; webhook_secret: string };
  const tenant = { tenant_id: t.tenant_id, keys: t.api_keys, webhook_secret: t.webhook_secret };
  await must('PUT', `${hp.base}/v1/policy`, { key: tenant.keys.admin, body: fiftyRulePolicy(opts.timeoutSeconds) });
  if (opts.webhook) await must('POST', `${hp.base}/v1/webhook-endpoints`, { key: tenant.keys.admin, body: opts.webhook });
  return tenant;
}

/** The body of a guard that parks a new approval; `[<id>]` becomes a fresh idempotency key per request. */
export function guardBody(extra: Record<string, unknown> = {}) {
  return { action: 'payment.send', agent_id: 'bench', params: { amount: 1200, to: 'acct-42', memo: 'invoice 2291' }, idempotency_key: '[<id>]', ...extra };
}

/** The body of a check that the 50-rule policy allows. */
export function checkBody() {
  return { action: 'read.thing', agent_id: 'bench', params: { amount: 5, id: 'doc-7' } };
}
