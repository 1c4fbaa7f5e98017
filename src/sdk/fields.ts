// The agent-supplied fields beside params — tags, cost and duration —
// checked before anything is sent, with the server's own limits. A value the
// server would refuse is the caller's InvalidRequest here: never a request, a
// retry, or something failOpen could mistake for an outage.
import { InvalidRequest } from './errors.ts';

/** At most this many tags per call (the server's limit). */
export const MAX_TAGS = 20;
/** One tag: 1–64 characters of letters, digits and `_ . : / -`, not starting with `. : / -` (the server's rule). */
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,63}$/;
const MAX_COST_USD = 1e9;
const MAX_DURATION_MS = 7 * 86_400_000;

function refuse(path: string, problem: string): never {
  throw new InvalidRequest('validation_failed', `${path} ${problem}`, { details: { path, problem } });
}

/**
 * Tags as sent (`tags` in the body), or `InvalidRequest` naming the first
 * that the server would refuse.
 *
 * @example
 * checkTags(['billing', 'team:payments']); // ['billing', 'team:payments']
 * checkTags(['has space']); // throws InvalidRequest (details.path 'tags.0')
 */
export function checkTags(tags: unknown): string[] {
  if (!Array.isArray(tags)) refuse('tags', 'must be an array of strings');
  if (tags.length > MAX_TAGS) refuse('tags', `has ${tags.length} tags; at most ${MAX_TAGS} are allowed`);
  tags.forEach((t, i) => {
    if (typeof t !== 'string') refuse(`tags.${i}`, 'must be a string');
    if (!TAG.test(t)) refuse(`tags.${i}`, `(${JSON.stringify(t.slice(0, 80))}) must be 1–64 characters of letters, digits and _ . : / -, not starting with . : / -`);
  });
  return [...tags];
}

/**
 * A cost in USD as sent (`cost_usd`): a finite number from 0 to 1e9.
 *
 * @example
 * checkCost(0.02, 'costUsd'); // 0.02
 */
export function checkCost(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_COST_USD) refuse(path, `must be a number of USD from 0 to ${MAX_COST_USD}`);
  return v;
}

/**
 * A duration in ms as sent (`duration_ms`): whole milliseconds (a fraction is
 * rounded, as `performance.now()` differences have one), up to 7 days.
 *
 * @example
 * checkDuration(84.4, 'durationMs'); // 84
 */
export function checkDuration(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_DURATION_MS) refuse(path, `must be a number of milliseconds from 0 to ${MAX_DURATION_MS}`);
  return Math.round(v);
}

/** What a report may say besides its outcome: what running the action cost and took. */
export interface Spent {
  /** What the action actually cost, in USD: turns a budget reservation into this spend. */
  costUsd?: number;
  /** How long the action ran, in ms. */
  durationMs?: number;
}

/**
 * The `cost_usd` / `duration_ms` body fields of a report, checked.
 *
 * @example
 * spentFields({ costUsd: 0.4, durationMs: 120 }); // { cost_usd: 0.4, duration_ms: 120 }
 */
export function spentFields(s: Spent | undefined): { cost_usd?: number; duration_ms?: number } {
  if (s === undefined || s === null) return {};
  if (typeof s !== 'object') refuse('options', 'must be an object ({ costUsd?, durationMs? })');
  return {
    ...(s.costUsd === undefined ? {} : { cost_usd: checkCost(s.costUsd, 'costUsd') }),
    ...(s.durationMs === undefined ? {} : { duration_ms: checkDuration(s.durationMs, 'durationMs') }),
  };
}
