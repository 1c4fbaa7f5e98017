// Shaping what a caller passes into what is sent: configuration, guard's two
// argument forms, the checked extras (cost, tags), a report's outcome, and a
// call's identity in a replay recording.
import { HoldpointError, InvalidRequest } from './errors.ts';
import { checkCost, checkTags } from './fields.ts';
import type { GuardOptions, GuardRestOptions } from './options.ts';
import type { ReplayCall } from './replay.ts';

/** An environment variable where the runtime has a `process` (edge runtimes do not); empty counts as unset. */
export function env(name: string): string | undefined {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  return v ? v : undefined;
}

/** The base URL without trailing slashes, once baseUrl and apiKey are known to be usable. */
export function configured(baseUrl: string, apiKey: string): string {
  // Caught here, not at the first request, where fetch would reject with a TypeError that reads as a network failure.
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new HoldpointError('config_invalid', `baseUrl ${JSON.stringify(baseUrl)} is not a URL (expected e.g. https://holdpoint.internal)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HoldpointError('config_invalid', `baseUrl must be http:// or https://, not ${url.protocol}`);
  if (!/^[\x21-\x7e]+$/.test(apiKey)) throw new HoldpointError('config_invalid', 'apiKey holds characters an Authorization header cannot carry (whitespace or non-ASCII)');
  return baseUrl.replace(/\/+$/, '');
}

/** `cost_usd` and `tags` as sent, checked first: a value the server would refuse is InvalidRequest here. */
export function extras(o: { costUsd?: number | undefined; tags?: string[] | undefined }): { cost_usd?: number; tags?: string[] } {
  return { ...(o.costUsd !== undefined ? { cost_usd: checkCost(o.costUsd, 'costUsd') } : {}), ...(o.tags !== undefined ? { tags: checkTags(o.tags) } : {}) };
}

/** The two forms of guard's arguments as one options object: a string third argument means positional. */
export function guardOptions(second: GuardOptions | Record<string, unknown>, key: unknown, rest: GuardRestOptions | undefined): GuardOptions {
  if (key === undefined) return second as GuardOptions;
  if (typeof key !== 'string') {
    throw new HoldpointError('idempotency_key_missing', `guard(action, params, idempotencyKey) needs the key as a string, not ${key === null ? 'null' : typeof key}`);
  }
  if (typeof second !== 'object' || second === null || Array.isArray(second)) {
    throw new InvalidRequest('not_serialisable', 'guard(action, params, idempotencyKey): params must be a plain object', { details: { path: 'params' } });
  }
  return { ...rest, params: second as Record<string, unknown>, idempotencyKey: key };
}

/** What identifies a call in a replay recording: the inputs a policy reads besides action and agent. */
export function replayCall(method: 'check' | 'guard', action: string, agentId: string | undefined, key: string | null, body: Record<string, unknown>): ReplayCall {
  const inputs: Record<string, unknown> = { params: body.params };
  for (const k of ['context', 'tags', 'cost_usd']) if (body[k] !== undefined) inputs[k] = body[k];
  return { method, action, agentId: agentId ?? null, idempotencyKey: key, inputs };
}

/** A report's status words: true for success. */
export const REPORT_STATUS: Record<string, boolean> = { success: true, completed: true, error: false, failed: false };
