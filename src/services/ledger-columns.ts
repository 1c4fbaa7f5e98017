// What the ledger stores beyond the decision itself: the cost the budget used
// and the params in the form Holdpoint may keep. Pure functions of the
// evaluation, so the rules are tested without a database.
import type { EvaluationRequest } from '../policy/evaluate.ts';
import { costOf } from '../policy/guards/budget.ts';
import type { Evaluator } from './evaluator.ts';

type Evaluated = Pick<Awaited<ReturnType<Evaluator['evaluate']>>, 'active' | 'evaluation'>;
type LedgerInput = EvaluationRequest;

/**
 * The cost the budget guard used for this call — the request's cost_usd, else
 * the policy's cost table (costOf) — so that the ledger sums to the spend
 * counters. Without a budget guard, the request's cost_usd or null.
 */
export function ledgerCost(e: Evaluated, input: LedgerInput): number | null {
  const budget = e.active.policy.guards?.budget;
  if (!budget) return input.cost_usd ?? null;
  try {
    return costOf(budget, input);
  } catch {
    // The guard failed on the same input and said so in the reasons.
    return input.cost_usd ?? null;
  }
}

/**
 * The params the ledger keeps: the redacted form whenever the sensitive_data
 * guard redacted anything, whatever the decision. Where that guard is
 * configured but did not finish (it failed, or the time budget ran out) the
 * params were never checked, so none are kept (null): the ledger never holds
 * what the policy meant to mask.
 */
export function ledgerParams(e: Evaluated, params: Record<string, unknown>): Record<string, unknown> | null {
  const ev = e.evaluation;
  if (ev.params) return ev.params;
  if (!e.active.policy.guards?.sensitive_data) return params;
  const unfinished = ev.reasons.some((r) => r.source === 'engine');
  return unfinished ? null : params;
}
