// What a guarded tool call becomes when it may not run: a status and a short
// sentence the model can read and act on. Shared by the OpenAI and Vercel AI
// wrappers, so both tell a model the same thing. Only the outcomes of `guard`
// (denied, rejected, pending, timeout, claimed, cancelled) become messages;
// anything else (Holdpoint unreachable, a bad key) is the application's
// problem, not the model's, and is re-thrown.
import { ActionClaimed, ActionDenied, ActionRejected, ActionTimeout, ApprovalPending, HoldpointError } from '../errors.ts';
import type { Permit, WaitOption } from '../types.ts';

/**
 * Why a guarded tool call did not run: the policy `denied` it, a human
 * `rejected` it, it is still `pending` (not waiting, or the wait ran out),
 * nobody decided before the deadline (`timeout`), it already ran or is
 * running for this tool call id (`claimed`), or its approval was `cancelled`.
 *
 * @example
 * const retryLater = (s: BlockedStatus) => s === 'pending';
 */
/**
 * What both framework wrappers pass on to `guard`.
 *
 * @example
 * const opts: WrapperGuardOptions = { action: (name) => `crm.${name}`, agentId: 'support-bot', wait: 5 * 60_000 };
 */
export interface WrapperGuardOptions {
  /** The Holdpoint action for a tool name (default: the tool name itself). */
  action?: (toolName: string) => string;
  /** Default: the client's `agentId`. */
  agentId?: string;
  context?: Record<string, unknown>;
  /** Block until a human decides (`true` until the deadline, or ms). Default: do not wait; a parked call answers `pending`. */
  wait?: WaitOption;
  timeoutSeconds?: number;
  callbackUrl?: string;
  leaseSeconds?: number;
}

export type BlockedStatus = 'denied' | 'rejected' | 'pending' | 'timeout' | 'claimed' | 'cancelled';

/**
 * The `guard` outcome as a status and a message for the model; null when the
 * error is not an outcome (the caller re-throws it). Internal to the wrappers.
 *
 * @example
 * const b = blockedOutcome(err, 'send_email');
 * if (!b) throw err;
 * return b.message;
 */
export function blockedOutcome(err: unknown, tool: string): { status: BlockedStatus; message: string; error: HoldpointError } | null {
  if (err instanceof ActionDenied) {
    const why = err.reasons.map((r) => r.message).filter(Boolean).join('; ');
    return { status: 'denied', error: err, message: `The action ${tool} was denied by policy${why ? `: ${why}` : ''}. It was not performed; do not retry it.` };
  }
  if (err instanceof ActionRejected) {
    return {
      status: 'rejected',
      error: err,
      message: `The action ${tool} was rejected by ${err.rejectedBy ?? 'an approver'}${err.reason ? `: ${err.reason}` : ''}. It was not performed.`,
    };
  }
  if (err instanceof ApprovalPending) {
    return { status: 'pending', error: err, message: `The action ${tool} is waiting for human approval (approval id ${err.approvalId}); it has not been performed yet. Try again later.` };
  }
  if (err instanceof ActionTimeout) {
    return { status: 'timeout', error: err, message: `The action ${tool} was not approved in time (approval ${err.approvalId} expired). It was not performed.` };
  }
  if (err instanceof ActionClaimed) {
    const what = err.approvalStatus === 'executing' ? 'is already being performed' : 'has already been performed';
    return { status: 'claimed', error: err, message: `The action ${tool} ${what} for this tool call (approval ${err.approvalId} is ${err.approvalStatus}); it was not run again.` };
  }
  if (err instanceof HoldpointError && err.code === 'cancelled') {
    return { status: 'cancelled', error: err, message: `The approval for ${tool} was cancelled. It was not performed.` };
  }
  return null;
}

/**
 * Guard params from tool input: an object as it is, anything else under `input`. Internal to the wrappers.
 *
 * @example
 * paramsOf('hi'); // { input: 'hi' }
 */
export function paramsOf(input: unknown): Record<string, unknown> {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) return input as Record<string, unknown>;
  return input === undefined ? {} : { input };
}

/**
 * The inverse of `paramsOf`: tool input from the params Holdpoint granted
 * (redacted where it redacted), shaped like the original input. Internal to the wrappers.
 *
 * @example
 * inputOf({ input: '[REDACTED:email]' }, 'mail jane@example.com'); // '[REDACTED:email]'
 */
export function inputOf(params: Record<string, unknown>, original: unknown): unknown {
  return typeof original === 'object' && original !== null && !Array.isArray(original) ? params : params.input;
}
