// A Permit's report calls. Each reports at most once; a retried report whose
// first response was lost comes back 409 with the state it already reached,
// which counts as success.
import { HoldpointError } from './errors.ts';
import type { Transport } from './transport.ts';
import type { Approval, Permit } from './types.ts';

/** What an Error becomes on the wire: `{name, message}`; other values go as they are. */
export function serialiseError(err: unknown): unknown {
  if (err instanceof Error) return { name: err.name, message: err.message };
  if (err === undefined || err === null || typeof err === 'object') return err ?? undefined;
  return { name: 'Error', message: String(err) };
}

type Fields = Omit<Permit, 'complete' | 'fail' | 'reported'>;

function withReports(fields: Fields, report: (ok: boolean, payload: unknown) => Promise<void>): Permit {
  let reported = false;
  const once = async (ok: boolean, payload: unknown) => {
    if (reported) throw new HoldpointError('already_reported', 'this permit was already completed or failed');
    await report(ok, payload);
    reported = true;
  };
  return {
    ...fields,
    get reported() {
      return reported;
    },
    complete: (result?: unknown) => once(true, result),
    fail: (error?: unknown) => once(false, serialiseError(error)),
  };
}

const lostThenDone = (err: unknown, code: string) =>
  err instanceof HoldpointError && err.code === code && (err.attempts ?? 1) > 1;

/** A plain allow: reports go to POST /v1/report against the decision. */
export function allowedPermit(t: Transport, decisionId: string, params: Record<string, unknown>): Permit {
  return withReports(
    { approvalId: null, decisionId, approver: null, approvedAt: null, params, claimToken: null, approval: null, failedOpen: false },
    async (ok, payload) => {
      try {
        await t.request({
          method: 'POST',
          path: '/v1/report',
          body: { decision_id: decisionId, status: ok ? 'completed' : 'failed', ...(payload === undefined ? {} : { result: payload }) },
        });
      } catch (err) {
        // A retry after a lost response finds the decision already reported.
        if (lostThenDone(err, 'invalid_state')) return;
        throw err;
      }
    },
  );
}

/** An approved action this process has claimed: reports complete or fail the lease. */
export function claimedPermit(t: Transport, approval: Approval, claimToken: string): Permit {
  return withReports(
    {
      approvalId: approval.id,
      decisionId: approval.decision_id,
      approver: approval.decided_by,
      approvedAt: approval.decided_at ? new Date(approval.decided_at) : null,
      params: approval.params,
      claimToken,
      approval,
      failedOpen: false,
    },
    async (ok, payload) => {
      try {
        await t.request({
          method: 'POST',
          path: `/v1/approvals/${approval.id}/${ok ? 'complete' : 'fail'}`,
          body: { claim_token: claimToken, ...(payload === undefined ? {} : ok ? { result: payload } : { error: payload }) },
        });
      } catch (err) {
        const now = ((err as HoldpointError).details as { approval?: Approval } | undefined)?.approval?.status;
        if (lostThenDone(err, 'claim_conflict') && now === (ok ? 'completed' : 'failed')) return;
        throw err;
      }
    },
  );
}

/** Holdpoint was unreachable and failOpen allowed it: nothing to report to. */
export function failedOpenPermit(params: Record<string, unknown>): Permit {
  return withReports(
    { approvalId: null, decisionId: null, approver: null, approvedAt: null, params, claimToken: null, approval: null, failedOpen: true },
    async () => {},
  );
}

/**
 * Runs `fn` under a Permit and reports the outcome, as `Holdpoint.withGuard`
 * does: `complete(result)`, or `fail(error)` and re-throw `fn`'s error.
 * Used by `withGuard` and the framework wrappers.
 *
 * @example
 * const out = await runUnderPermit(permit, () => impl(args, permit));
 */
export async function runUnderPermit<T>(permit: Permit, fn: () => T | Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    if (!permit.reported) await permit.fail(err).catch(() => undefined);
    throw err;
  }
  if (!permit.reported) {
    try {
      await permit.complete(result);
    } catch (err) {
      throw new HoldpointError('report_failed', `the action ran but its completion could not be reported: ${(err as Error)?.message ?? err}`, {
        details: { result },
        cause: err,
      });
    }
  }
  return result;
}
