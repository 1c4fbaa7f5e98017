// What guard does once the server has parked an approval: long-poll until a
// human decides (through restarts and network errors), then turn the decided
// approval into a claimed Permit or the error that says why not.
import { ActionClaimed, ActionRejected, ActionTimeout, ApprovalPending, ConnectionError, HoldpointError, ServerError } from './errors.ts';
import { granted, type Asked } from './params.ts';
import { claimedPermit } from './permit.ts';
import { backoff, sleep, type Transport } from './transport.ts';
import type { GuardOptions } from './options.ts';
import type { Approval, Permit } from './types.ts';

const MAX_POLL_S = 60;

/** The long-poll path for an idempotency key. */
export const byKeyPath = (key: string) => `/v1/approvals/by-key/${encodeURIComponent(key)}`;

/**
 * Long-polls `by-key?wait=N` until the approval leaves pending or `deadline`
 * (epoch ms) passes; returns the approval as last seen. A server that is
 * down or restarting, or a network that drops, only costs a backoff.
 */
export async function waitUntil(t: Transport, timeoutMs: number, key: string, approval: Approval, deadline: number, signal: AbortSignal | undefined): Promise<Approval> {
  let last = approval;
  let trouble = 0;
  while (last.status === 'pending') {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const waitS = Math.min(MAX_POLL_S, Math.max(0.1, Math.ceil(left / 100) / 10));
    const asked = Date.now();
    try {
      const r = await t.request<Approval>({
        method: 'GET',
        path: `${byKeyPath(key)}?wait=${waitS}`,
        timeoutMs: waitS * 1000 + timeoutMs,
        retries: 0,
        ...(signal ? { signal } : {}),
      });
      last = r.body;
      // A server shutting down answers long-polls at once; do not spin on that.
      if (last.status === 'pending' && Date.now() - asked < (waitS * 1000) / 2) {
        await sleep(Math.min(backoff(trouble++, 100, 2_000), Math.max(0, deadline - Date.now())), signal);
      } else {
        trouble = 0;
      }
    } catch (err) {
      // Waiting through an outage or a server error is not acting on one.
      if (!(err instanceof ConnectionError || err instanceof ServerError)) throw err;
      await sleep(Math.min(backoff(trouble++, 100, 2_000), Math.max(0, deadline - Date.now())), signal);
    }
  }
  return last;
}

/** Turns a decided (or still pending) approval into a Permit or the error that says why not. */
export async function settle(t: Transport, approval: Approval, status: number, options: GuardOptions, asked: Asked): Promise<Permit> {
  switch (approval.status) {
    case 'pending':
      throw new ApprovalPending(approval, { status });
    case 'approved':
    case 'executing':
      // An executing approval whose lease lapsed can be claimed again; the server decides.
      return claim(t, approval, options, asked);
    case 'completed':
    case 'failed':
      throw new ActionClaimed(approval, { status });
    case 'rejected':
      throw new ActionRejected(approval, { status });
    case 'expired':
      throw new ActionTimeout(approval, { status });
    case 'cancelled':
      throw new HoldpointError('cancelled', `approval ${approval.id} was cancelled${approval.decision_reason ? `: ${approval.decision_reason}` : ''}`, {
        status,
        details: { approval },
      });
    default:
      throw new HoldpointError('unexpected_response', `unknown approval status ${String(approval.status)}`, { status, details: { approval } });
  }
}

async function claim(t: Transport, approval: Approval, options: GuardOptions, asked: Asked): Promise<Permit> {
  let r: { approval: Approval; claim_token: string };
  try {
    r = (
      await t.request<{ approval: Approval; claim_token: string }>({
        method: 'POST',
        path: `/v1/approvals/${approval.id}/claim`,
        ...(options.leaseSeconds !== undefined ? { body: { lease_seconds: options.leaseSeconds } } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      })
    ).body;
  } catch (err) {
    if (err instanceof HoldpointError && err.code === 'claim_conflict') {
      const now = (err.details as { approval?: Approval } | undefined)?.approval ?? approval;
      // After a lost response the 409 may be about our own claim: say so.
      throw new ActionClaimed(now, { ...(err.status ? { status: err.status } : {}), attempts: err.attempts ?? 1, ambiguous: (err.attempts ?? 1) > 1, cause: err });
    }
    throw err;
  }
  // The approval's params are what the human saw (already redacted): those are what runs.
  return claimedPermit(t, r.approval, r.claim_token, granted(r.approval.params, asked));
}
