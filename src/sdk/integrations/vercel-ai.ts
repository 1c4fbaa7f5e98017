// Vercel AI SDK (`ai` package) tools: wrap a tool set so every `execute` asks
// Holdpoint first. Typed structurally over `{ execute?(input, options) }` so
// the SDK keeps no dependency on `ai` (not even a type import) and the tool
// set comes back with exactly the type it went in with.
import type { Holdpoint } from '../client.ts';
import type { HoldpointError } from '../errors.ts';
import { jsonSnapshot, stableJson } from '../json.ts';
import type { Permit } from '../types.ts';
import { reportFailure, runUnderPermit } from '../permit.ts';
import { blockedOutcome, inputOf, paramsOf, type BlockedStatus, type WrapperGuardOptions } from './outcome.ts';

/**
 * Anything shaped like an `ai` tool: only `execute` matters here (a tool
 * without one runs on the client and is passed through untouched).
 *
 * @example
 * const t: ToolLike = tool({ description: 'Send money', inputSchema: z.object({ amount: z.number() }), execute: async ({ amount }) => pay(amount) });
 */
export interface ToolLike {
  // `any` on purpose: each tool's own input and options types must stay assignable.
  execute?: ((input: any, options: any) => any) | undefined;
}

/**
 * A guarded tool call that did not run, as `onBlocked` sees it.
 *
 * @example
 * const onBlocked = (b: BlockedToolCall) => ({ error: b.status, message: b.message });
 */
export interface BlockedToolCall {
  status: BlockedStatus;
  /** The sentence the model reads by default. */
  message: string;
  toolName: string;
  toolCallId: string | undefined;
  action: string;
  idempotencyKey: string;
  /** The `guard` outcome: `ActionDenied`, `ActionRejected`, `ApprovalPending`, `ActionTimeout`, `ActionClaimed`, or `cancelled`. */
  error: HoldpointError;
}

/**
 * Options for `guardTools`.
 *
 * @example
 * const opts: GuardToolsOptions = { action: (name) => `crm.${name}`, wait: 10 * 60_000, onBlocked: (b) => ({ blocked: b.status, message: b.message }) };
 */
export interface GuardToolsOptions extends WrapperGuardOptions {
  /** Only guard these tool names; the others pass through untouched. Default: every tool with an `execute`. */
  only?: string[];
  /**
   * The idempotency key for a call. Default: `options.toolCallId`, or — when
   * the caller gave none — a SHA-256 of the tool name and its input, so the
   * same call asked twice is one approval.
   */
  idempotencyKey?: (call: { toolName: string; toolCallId: string | undefined; input: unknown }) => string | Promise<string>;
  /** What `execute` returns when the call may not run (default: `blocked.message`). Match the tool's `outputSchema` / `toModelOutput` if it has them. */
  onBlocked?: (blocked: BlockedToolCall) => unknown;
}

interface ExecuteOptionsLike {
  toolCallId?: string;
  abortSignal?: AbortSignal;
}

async function hashKey(toolName: string, input: unknown): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${toolName}\n${stableJson(input)}`));
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  return `tool-${toolName}-${hex.slice(0, 32)}`;
}

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor as unknown;

/**
 * Wraps a Vercel AI SDK tool set so each tool's `execute` is guarded first:
 * the action is the tool name (or `opts.action(name)`), the params its input,
 * the idempotency key the `toolCallId` the SDK passes in. Once the call is
 * allowed or approved the original `execute` runs exactly once — on the
 * input Holdpoint granted: redacted where the policy redacted sensitive
 * values, the original input otherwise — and its result (or error) is
 * reported through the Permit. When it may not run —
 * denied, rejected, still pending, timed out, already run for this call id,
 * cancelled — `execute` returns `onBlocked(blocked)` (by default a short
 * sentence for the model) instead of throwing, and the original never runs.
 * Infrastructure errors (`ConnectionError` unless the client fails open,
 * `ServerError`, `AuthError`) and input JSON cannot carry (`InvalidRequest`,
 * before anything is sent) are thrown, which the SDK shows the model as a
 * tool error.
 *
 * The returned set has the same keys and the same type as the input. A tool
 * whose `execute` is an async generator (preliminary outputs) stays one; any
 * other async iterable it returns is consumed to its last value.
 *
 * @example
 * import { generateText, tool, stepCountIs } from 'ai';
 * import { z } from 'zod';
 * import { Holdpoint, guardTools } from 'holdpoint/client';
 *
 * const hp = new Holdpoint({ agentId: 'billing-bot' });
 * const tools = guardTools(hp, {
 *   sendPayment: tool({
 *     description: 'Send a payment',
 *     inputSchema: z.object({ to: z.string(), amount: z.number() }),
 *     execute: async ({ to, amount }) => payments.send(to, amount),
 *   }),
 * }, { action: (name) => (name === 'sendPayment' ? 'payment.send' : name), wait: 10 * 60_000 });
 * await generateText({ model, tools, stopWhen: stepCountIs(5), prompt: 'Pay invoice 1001' });
 */
export function guardTools<T extends Record<string, ToolLike>>(holdpoint: Holdpoint, tools: T, opts: GuardToolsOptions = {}): T {
  const out: Record<string, ToolLike> = {};
  for (const [toolName, t] of Object.entries(tools)) {
    const original = t.execute;
    if (typeof original !== 'function' || (opts.only && !opts.only.includes(toolName))) {
      out[toolName] = t;
      continue;
    }
    const action = opts.action ? opts.action(toolName) : toolName;

    /** A Permit and the input to run on, or what to return instead. */
    const ask = async (input: unknown, options: ExecuteOptionsLike | undefined): Promise<{ permit: Permit; input: unknown } | { blocked: unknown }> => {
      // Input JSON cannot carry is refused here (InvalidRequest), before the key is hashed or anything is sent.
      const params = jsonSnapshot(paramsOf(input), 'params') as Record<string, unknown>;
      const toolCallId = options?.toolCallId || undefined;
      const idempotencyKey = opts.idempotencyKey
        ? await opts.idempotencyKey({ toolName, toolCallId, input })
        : (toolCallId ?? (await hashKey(toolName, inputOf(params, input))));
      const signal = options?.abortSignal;
      try {
        const permit = await holdpoint.guard(action, {
          idempotencyKey,
          params,
          ...(opts.agentId !== undefined ? { agentId: opts.agentId } : {}),
          ...(opts.context !== undefined ? { context: opts.context } : {}),
          ...(opts.wait !== undefined ? { wait: opts.wait } : {}),
          ...(opts.timeoutSeconds !== undefined ? { timeoutSeconds: opts.timeoutSeconds } : {}),
          ...(opts.callbackUrl !== undefined ? { callbackUrl: opts.callbackUrl } : {}),
          ...(opts.leaseSeconds !== undefined ? { leaseSeconds: opts.leaseSeconds } : {}),
          ...(signal ? { signal } : {}),
        });
        // Redacted by the policy: the tool runs on the redacted values, never the originals.
        return { permit, input: permit.modified ? inputOf(permit.params, input) : input };
      } catch (err) {
        const b = blockedOutcome(err, toolName);
        if (!b) throw err;
        const blocked: BlockedToolCall = { ...b, toolName, toolCallId, action, idempotencyKey };
        return { blocked: opts.onBlocked ? await opts.onBlocked(blocked) : blocked.message };
      }
    };

    let execute: (input: unknown, options: ExecuteOptionsLike) => unknown;
    if (original instanceof (AsyncGeneratorFunction as new () => unknown)) {
      execute = async function* (input, options) {
        const r = await ask(input, options);
        if ('blocked' in r) {
          yield r.blocked;
          return;
        }
        let last: unknown;
        try {
          for await (const o of original.call(t, r.input, options) as AsyncIterable<unknown>) {
            last = o;
            yield o;
          }
        } catch (err) {
          if (!r.permit.reported) await reportFailure(r.permit, err);
          throw err;
        }
        // The final output is the last one yielded (as the SDK itself takes it).
        await runUnderPermit(r.permit, () => last);
      };
    } else {
      execute = async (input, options) => {
        const r = await ask(input, options);
        if ('blocked' in r) return r.blocked;
        return runUnderPermit(r.permit, async () => {
          const result = await original.call(t, r.input, options);
          if (!isAsyncIterable(result)) return result;
          let last: unknown;
          for await (const o of result) last = o;
          return last;
        });
      };
    }
    out[toolName] = { ...t, execute };
  }
  return out as T;
}
