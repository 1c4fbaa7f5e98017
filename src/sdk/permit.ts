// A Permit's report calls. Each reports at most once; a retried report whose
// first response was lost comes back 409 with the state it already reached,
// which counts as success.
import { HoldpointError, InvalidRequest } from './errors.ts';
import { spentFields, type Spent } from './fields.ts';
import { jsonSnapshot } from './json.ts';
import type { Granted } from './params.ts';
import type { Transport } from './transport.ts';
import type { Approval, Permit } from './types.ts';

/** What an Error becomes on the wire: `{name, message}`; other values go as they are. */
export function serialiseError(err: unknown): unknown {
  if (err instanceof Error) return { name: err.name, message: err.message };
  if (err === undefined || err === null || typeof err === 'object') return err ?? undefined;
  return { name: 'Error', message: String(err) };
}

export type Fields = Omit<Permit, 'complete' | 'fail' | 'reported'>;

/** The report's body fields besides the outcome: `cost_usd` and `duration_ms`, when given. */
type SpentBody = ReturnType<typeof spentFields>;

function withReports(fields: Fields, report: (ok: boolean, payload: unknown, spent: SpentBody) => Promise<void>): Permit {
  let reported = false;
  const once = async (ok: boolean, payload: unknown, s: Spent | undefined) => {
    if (reported) throw new HoldpointError('already_reported', 'this permit was already completed or failed');
    // Refused before anything is sent, and the permit can still report (failed open too, where nothing is sent at all).
    if (payload !== undefined) jsonSnapshot(payload, ok ? 'result' : 'error');
    const spent = spentFields(s);
    await report(ok, payload, spent);
    reported = true;
  };
  return {
    ...fields,
    get reported() {
      return reported;
    },
    complete: (result?: unknown, spent?: Spent) => once(true, result, spent),
    fail: (error?: unknown, spent?: Spent) => once(false, serialiseError(error), spent),
  };
}

const lostThenDone = (err: unknown, code: string) =>
  err instanceof HoldpointError && err.code === code && (err.attempts ?? 1) > 1;

/** A plain allow: reports go to POST /v1/report against the decision. */
export function allowedPermit(t: Transport, decisionId: string, granted: Granted): Permit {
  return withReports(
    { approvalId: null, decisionId, approver: null, approvedAt: null, ...granted, claimToken: null, approval: null, failedOpen: false },
    (ok, payload, spent) => reportDecision(t, decisionId, ok, payload, spent),
  );
}

/**
 * `POST /v1/report` for an allowed decision (a Permit's, or a `check` the
 * caller acted on). Internal to the SDK.
 *
 * @example
 * await reportDecision(t, decision.decisionId, true, { id: 'msg_1' }, { duration_ms: 84 });
 */
export async function reportDecision(t: Transport, decisionId: string, ok: boolean, payload: unknown, spent: SpentBody): Promise<void> {
  try {
    await t.request({
      method: 'POST',
      path: '/v1/report',
      body: { decision_id: decisionId, status: ok ? 'completed' : 'failed', ...(payload === undefined ? {} : { result: payload }), ...spent },
    });
  } catch (err) {
    // A retry after a lost response finds the decision already reported.
    if (lostThenDone(err, 'invalid_state')) return;
    throw err;
  }
}

/** An approved action this process has claimed: reports complete or fail the lease. */
export function claimedPermit(t: Transport, approval: Approval, claimToken: string, granted: Granted): Permit {
  return withReports(
    {
      approvalId: approval.id,
      decisionId: approval.decision_id,
      approver: approval.decided_by,
      approvedAt: approval.decided_at ? new Date(approval.decided_at) : null,
      ...granted,
      claimToken,
      approval,
      failedOpen: false,
    },
    async (ok, payload, spent) => {
      try {
        await t.request({
          method: 'POST',
          path: `/v1/approvals/${approval.id}/${ok ? 'complete' : 'fail'}`,
          body: { claim_token: claimToken, ...(payload === undefined ? {} : ok ? { result: payload } : { error: payload }), ...spent },
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
    { approvalId: null, decisionId: null, approver: null, approvedAt: null, params, modified: false, redactedPaths: [], claimToken: null, approval: null, failedOpen: true },
    async () => {},
  );
}

/** A Permit answered from a replay recording: there is no server, so its reports go nowhere. */
export function replayedPermit(fields: Fields): Permit {
  return withReports(fields, async () => {});
}

/** Milliseconds on a monotonic clock where the runtime has one (every current one does). */
const clockMs = (): number => globalThis.performance?.now() ?? Date.now();

/**
 * Reports that the action failed, and never throws: the caller is about to
 * re-throw the action's own error, which is the one that matters. A thrown
 * value JSON cannot carry is reported as its string. Internal to the SDK.
 *
 * @example
 * if (!permit.reported) await reportFailure(permit, err);
 */
export async function reportFailure(permit: Permit, err: unknown, spent?: Spent): Promise<void> {
  await permit
    .fail(err, spent)
    .catch((e: unknown) => (e instanceof InvalidRequest && !permit.reported ? permit.fail({ name: 'Error', message: String(err) }, spent) : undefined))
    .catch(() => undefined);
}

/**
 * Runs `fn` under a Permit and reports the outcome, as `Holdpoint.withGuard`
 * does: `complete(result)`, or `fail(error)` and re-throw `fn`'s error —
 * either with `durationMs`, how long `fn` ran, measured here. A
 * result JSON cannot carry (a BigInt, a cycle, …) still completes — the
 * action ran — with `{ result_not_serialisable: <why> }` on the record, and
 * is returned as it is. Used by `withGuard` and the framework wrappers.
 *
 * @example
 * const out = await runUnderPermit(permit, () => impl(args, permit));
 */
export async function runUnderPermit<T>(permit: Permit, fn: () => T | Promise<T>): Promise<T> {
  let result: T;
  const started = clockMs();
  const took = (): Spent => ({ durationMs: Math.max(0, Math.round(clockMs() - started)) });
  try {
    result = await fn();
  } catch (err) {
    if (!permit.reported) await reportFailure(permit, err, took());
    throw err;
  }
  if (!permit.reported) {
    const spent = took();
    try {
      await permit.complete(result, spent).catch((err: unknown) => {
        if (!(err instanceof InvalidRequest) || permit.reported) throw err;
        // The action ran: record that it did, and why its result is not on the record.
        return permit.complete({ result_not_serialisable: err.message }, spent);
      });
    } catch (err) {
      throw new HoldpointError('report_failed', `the action ran but its completion could not be reported: ${(err as Error)?.message ?? err}`, {
        details: { result },
        cause: err,
      });
    }
  }
  return result;
}
