// The time budget of one evaluation. The core never reads a clock: the edge
// passes `elapsed()` (milliseconds since this evaluation started) in the
// context, and the core asks it between units of work — before each rule,
// each guard, each string the sensitive-data guard scans. Every unit is linear
// in its input (RE2 patterns, linear globs), so the overrun past the budget is
// at most one unit. Past the budget, fail_mode decides. Pure.
import { DEFAULT_EVALUATION_BUDGET_MS, type Policy } from './schema.ts';

export class EvaluationBudgetExceeded extends Error {
  constructor(readonly budgetMs: number) {
    super(`evaluation exceeded its time budget of ${budgetMs} ms`);
    this.name = 'EvaluationBudgetExceeded';
  }
}

/** Throws EvaluationBudgetExceeded once `elapsed()` passes the policy's budget; a no-op without `elapsed`. */
export type Checkpoint = () => void;

export const NO_CHECKPOINT: Checkpoint = () => {};

export const budgetMs = (policy: Pick<Policy, 'evaluation_budget_ms'>): number => policy.evaluation_budget_ms ?? DEFAULT_EVALUATION_BUDGET_MS;

export function budgetCheck(policy: Pick<Policy, 'evaluation_budget_ms'>, ctx: { elapsed?: () => number }): Checkpoint {
  const elapsed = ctx.elapsed;
  if (elapsed === undefined) return NO_CHECKPOINT;
  const budget = budgetMs(policy);
  return () => {
    if (elapsed() > budget) throw new EvaluationBudgetExceeded(budget);
  };
}
