// OpenAI-style tool calls (Chat Completions `tool_calls`, and anything shaped
// like them): guard each call with its id as the idempotency key, so a model
// loop that replays the same tool call — after a crash, a retry, a second
// worker — gets the same approval and runs the action at most once. Typed
// structurally: nothing here imports the `openai` package.
import type { Holdpoint } from '../client.ts';
import { HoldpointError, InvalidRequest } from '../errors.ts';
import { jsonSnapshot } from '../json.ts';
import type { Permit } from '../types.ts';
import { runUnderPermit } from '../permit.ts';
import { blockedOutcome, paramsOf, type BlockedStatus, type WrapperGuardOptions } from './outcome.ts';

/**
 * A tool call as OpenAI returns it in `choices[0].message.tool_calls`
 * (`arguments` is a JSON string written by the model).
 *
 * @example
 * const call: OpenAIToolCall = { id: 'call_abc', type: 'function', function: { name: 'send_email', arguments: '{"to":"a@example.com"}' } };
 */
export interface OpenAIToolCall {
  id: string;
  type?: 'function';
  function: { name: string; arguments: string };
}

/**
 * Options for `guardToolCall` and `runToolCall`.
 *
 * @example
 * const opts: ToolCallGuardOptions = { action: (name) => `email.${name}`, agentId: 'support-bot', wait: 5 * 60_000 };
 */
export interface ToolCallGuardOptions extends WrapperGuardOptions {
  signal?: AbortSignal;
}

/**
 * What `guardToolCall` found: `allowed` with the arguments to act on and a
 * Permit (act, then `complete` / `fail` it), or why not with the `message` to
 * hand the model as the tool's output. `error` is arguments that are not a
 * JSON object, or hold a number JSON cannot carry (`1e999` parses to
 * Infinity): the model can fix and retry. `args` are the params Holdpoint
 * granted — redacted where the policy redacted sensitive values
 * (`permit.modified`) — not the model's originals.
 *
 * @example
 * const r: ToolCallResult = await guardToolCall(hp, call);
 * const content = r.status === 'allowed' ? JSON.stringify(await send(r.args)) : r.message;
 */
export type ToolCallResult<A extends Record<string, unknown> = Record<string, unknown>> =
  | { status: 'allowed'; toolCallId: string; action: string; args: A; permit: Permit }
  | { status: BlockedStatus; toolCallId: string; action: string; message: string; error: HoldpointError }
  | { status: 'error'; toolCallId: string; action: string; message: string; error: Error };

/**
 * The tool message that answers a tool call, ready to append to `messages`.
 *
 * @example
 * const reply: OpenAIToolMessage = { role: 'tool', tool_call_id: call.id, content: '{"sent":true}' };
 */
export interface OpenAIToolMessage {
  role: 'tool';
  tool_call_id: string;
  content: string;
}

function parseArguments(raw: string): { ok: true; args: Record<string, unknown> } | { ok: false; why: string; error?: InvalidRequest } {
  if (raw === undefined || raw === null || raw.trim() === '') return { ok: true, args: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    return { ok: false, why: `are not valid JSON (${(err as Error).message})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, why: 'must be a JSON object' };
  try {
    // JSON.parse turns 1e999 into Infinity, which would reach the policy as null.
    jsonSnapshot(parsed, 'params');
  } catch (err) {
    if (err instanceof InvalidRequest) return { ok: false, why: `are not valid: ${err.message}`, error: err };
    throw err;
  }
  return { ok: true, args: parsed as Record<string, unknown> };
}

/**
 * Guards one OpenAI tool call: parses its `arguments`, then `guard`s the
 * action (the tool name, or `opts.action(name)`) with the parsed arguments as
 * params and the tool call id as the idempotency key. Never throws for an
 * outcome the model should hear about — denied, rejected, pending, timeout,
 * already run (`claimed`), cancelled, or arguments that are not a JSON object
 * or hold a non-finite number (`error`, nothing asked) — and returns the
 * message to give it instead. Throws what is not the model's business:
 * `ConnectionError` (unless the client fails open), `ServerError`,
 * `AuthError`, `InvalidRequest` (e.g. a `context` JSON cannot carry), other
 * `HoldpointError`s. On `allowed`, act on `r.args`: the params Holdpoint
 * granted, redacted where the policy redacted sensitive values.
 *
 * @example
 * import { Holdpoint, guardToolCall } from 'holdpoint/client';
 *
 * const hp = new Holdpoint({ agentId: 'support-bot' });
 * for (const call of completion.choices[0].message.tool_calls ?? []) {
 *   const r = await guardToolCall(hp, call, { wait: 60_000 });
 *   if (r.status !== 'allowed') {
 *     messages.push({ role: 'tool', tool_call_id: call.id, content: r.message });
 *     continue;
 *   }
 *   const out = await tools[call.function.name](r.args);
 *   await r.permit.complete(out);
 *   messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(out) });
 * }
 */
export async function guardToolCall<A extends Record<string, unknown> = Record<string, unknown>>(
  holdpoint: Holdpoint,
  toolCall: OpenAIToolCall,
  opts: ToolCallGuardOptions = {},
): Promise<ToolCallResult<A>> {
  const name = toolCall.function.name;
  const action = opts.action ? opts.action(name) : name;
  const base = { toolCallId: toolCall.id, action };
  const parsed = parseArguments(toolCall.function.arguments);
  if (!parsed.ok) {
    const message = `The arguments for ${name} ${parsed.why}. Nothing was done; call ${name} again with a JSON object that matches its parameters.`;
    return { ...base, status: 'error', message, error: parsed.error ?? new HoldpointError('invalid_tool_arguments', message) };
  }
  try {
    const permit = await holdpoint.guard(action, {
      idempotencyKey: toolCall.id,
      params: parsed.args,
      ...(opts.agentId !== undefined ? { agentId: opts.agentId } : {}),
      ...(opts.context !== undefined ? { context: opts.context } : {}),
      ...(opts.wait !== undefined ? { wait: opts.wait } : {}),
      ...(opts.timeoutSeconds !== undefined ? { timeoutSeconds: opts.timeoutSeconds } : {}),
      ...(opts.callbackUrl !== undefined ? { callbackUrl: opts.callbackUrl } : {}),
      ...(opts.leaseSeconds !== undefined ? { leaseSeconds: opts.leaseSeconds } : {}),
      ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
    });
    // What Holdpoint granted (redacted where it redacted), never the model's originals.
    return { ...base, status: 'allowed', args: permit.params as A, permit };
  } catch (err) {
    const blocked = blockedOutcome(err, name);
    if (!blocked) throw err;
    return { ...base, ...blocked };
  }
}

/**
 * Guards a tool call and, once it is allowed or approved, runs
 * `impl(args, permit)` exactly once — `args` being the params Holdpoint
 * granted, redacted where the policy redacted — and reports `complete(result)` (or
 * `fail(error)`, re-throwing `impl`'s error). Returns the tool message for
 * the model: the result as JSON (a string result as it is), or the message
 * saying why it did not run. Throws what `guardToolCall` throws, what `impl`
 * throws, and `HoldpointError` `report_failed` (with `details.result`) when
 * the action ran but its completion could not be recorded.
 *
 * @example
 * import OpenAI from 'openai';
 * import { Holdpoint, runToolCall } from 'holdpoint/client';
 *
 * const hp = new Holdpoint({ agentId: 'support-bot' });
 * const msg = (await openai.chat.completions.create({ model, messages, tools })).choices[0].message;
 * messages.push(msg);
 * for (const call of msg.tool_calls ?? []) {
 *   messages.push(await runToolCall(hp, call, (args: { to: string; body: string }) => mailer.send(args), { wait: 5 * 60_000 }));
 * }
 */
export async function runToolCall<A extends Record<string, unknown> = Record<string, unknown>, R = unknown>(
  holdpoint: Holdpoint,
  toolCall: OpenAIToolCall,
  impl: (args: A, permit: Permit) => R | Promise<R>,
  opts: ToolCallGuardOptions = {},
): Promise<OpenAIToolMessage> {
  const r = await guardToolCall<A>(holdpoint, toolCall, opts);
  const reply = (content: string): OpenAIToolMessage => ({ role: 'tool', tool_call_id: toolCall.id, content });
  if (r.status !== 'allowed') return reply(r.message);
  const result = await runUnderPermit(r.permit, () => impl(r.args, r.permit));
  return reply(typeof result === 'string' ? result : (JSON.stringify(result) ?? 'null'));
}
