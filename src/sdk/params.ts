// What an action runs on. Holdpoint may grant different params from those
// sent (the policy redacted sensitive values); a Permit carries the granted
// ones and says whether they differ, and `guarded` maps them back onto the
// wrapped function's arguments — or refuses, rather than run it on the
// caller's unredacted originals.
import { HoldpointError } from './errors.ts';
import { stableJson } from './json.ts';
import type { Permit } from './types.ts';

/** What the server let this action run on, and whether that differs from what was sent. */
export interface Granted {
  params: Record<string, unknown>;
  modified: boolean;
  redactedPaths: string[];
}

/** What guard sent and was told, carried from the first answer to the Permit. */
export interface Asked {
  sent: Record<string, unknown>;
  redactedPaths: string[];
}

/** One plain-object argument: it is the params itself. */
function isPlainObject(args: unknown[]): boolean {
  const [only] = args;
  return args.length === 1 && typeof only === 'object' && only !== null && Object.getPrototypeOf(only) === Object.prototype;
}

/**
 * `guarded`'s params when none are given: one plain-object argument is the
 * params itself, anything else goes as `{ args }`.
 *
 * @example
 * defaultParams([{ to: 'bob' }]); // { to: 'bob' }
 * defaultParams(['bob', 5]); // { args: ['bob', 5] }
 */
export function defaultParams(args: unknown[]): Record<string, unknown> {
  return isPlainObject(args) ? (args[0] as Record<string, unknown>) : { args };
}

/**
 * The params a Permit carries: the server's, flagged `modified` when the
 * policy redacted something or they are not what was sent.
 *
 * @example
 * const g = granted(approval.params, { sent: body.params, redactedPaths: reply.redacted_paths });
 */
export function granted(params: Record<string, unknown>, asked: Asked): Granted {
  const modified = asked.redactedPaths.length > 0 || (params !== asked.sent && stableJson(params) !== stableJson(asked.sent));
  return { params, modified, redactedPaths: asked.redactedPaths };
}

/**
 * The arguments `guarded` calls fn with: the originals, unless Holdpoint
 * changed the params — then `fromParams` of the granted params, or
 * `params_modified` when there is no way back.
 *
 * @example
 * fn(...argsFor(permit, args, defaultFromParams));
 */
export function argsFor<A extends unknown[]>(permit: Permit, args: A, fromParams: ((params: Record<string, unknown>, original: A) => A | null) | undefined): A {
  if (!permit.modified) return args;
  const out = fromParams?.(permit.params, args);
  if (out) return out;
  throw new HoldpointError(
    'params_modified',
    `the policy redacted ${permit.redactedPaths.join(', ') || 'the params'}, and guarded() cannot map the redacted params back to fn's arguments: give it fromParams`,
    { details: { redactedPaths: permit.redactedPaths } },
  );
}

/**
 * The inverse of `defaultParams`: arguments from granted params, or null
 * when they do not have the shape `defaultParams` gave them.
 *
 * @example
 * defaultFromParams({ args: ['bob', '[REDACTED:email]'] }, ['bob', 'jane@example.com']); // ['bob', '[REDACTED:email]']
 */
export function defaultFromParams<A extends unknown[]>(params: Record<string, unknown>, args: A): A | null {
  if (isPlainObject(args)) return [params] as unknown as A;
  const list = params.args;
  return Array.isArray(list) && list.length === args.length ? (list as A) : null;
}
