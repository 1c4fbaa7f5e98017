// What a replay recording holds for one call, and how it turns back into the
// SDK's answer. The recorded form is plain snake_case JSON (the Python SDK
// writes the same shapes). Decoding is strict in one direction: anything it
// does not recognise is refused (`replay_file_invalid`), never read as an
// allow, so a recording can only give back an allow it actually holds.
import { ActionClaimed, ActionDenied, ActionRejected, ActionTimeout, ApprovalPending, HoldpointError } from './errors.ts';
import { replayedPermit } from './permit.ts';
import type { Approval, Decision, Permit, Reason } from './types.ts';

/** A `check` answer as recorded. */
export interface RecordedDecision {
  decision: Decision['decision'];
  reasons: Reason[];
  decision_id: string | null;
  policy_version: number | null;
  matched_rules: string[];
  params: Record<string, unknown>;
  redacted_paths: string[];
  failed_open: boolean;
}

/** A `guard` that granted a Permit, as recorded. */
export interface RecordedPermit {
  kind: 'allowed' | 'claimed' | 'failed_open';
  decision_id: string | null;
  params: Record<string, unknown>;
  modified: boolean;
  redacted_paths: string[];
  approval: Approval | null;
  claim_token: string | null;
}

/** A `guard` that said "do not act", as recorded. */
export type RecordedRefusal =
  | { type: 'denied'; reasons: Reason[]; decision_id: string }
  | { type: 'pending' | 'rejected' | 'expired' | 'claimed' | 'cancelled'; approval: Approval };

/**
 * One call's answer in a recording: a check's decision, a guard's permit, or
 * a guard's refusal.
 *
 * @example
 * const a: ReplayAnswer = { refusal: { type: 'denied', reasons: [], decision_id: '0190…' } };
 */
export type ReplayAnswer = { decision: RecordedDecision } | { permit: RecordedPermit } | { refusal: RecordedRefusal };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const DECISIONS = new Set(['allow', 'modify', 'deny', 'require_approval']);

function invalid(why: string): HoldpointError {
  return new HoldpointError('replay_file_invalid', `the replay recording is not one the SDK wrote: ${why}`);
}

/** A check's Decision as recorded. */
export function encodeDecision(d: Decision): { decision: RecordedDecision } {
  return {
    decision: {
      decision: d.decision,
      reasons: d.reasons,
      decision_id: d.decisionId,
      policy_version: d.policyVersion,
      matched_rules: d.matchedRules,
      params: d.params,
      redacted_paths: d.redactedPaths,
      failed_open: d.failedOpen,
    },
  };
}

/** A guard's Permit as recorded. */
export function encodePermit(p: Permit): { permit: RecordedPermit } {
  return {
    permit: {
      kind: p.failedOpen ? 'failed_open' : p.approvalId ? 'claimed' : 'allowed',
      decision_id: p.decisionId,
      params: p.params,
      modified: p.modified,
      redacted_paths: p.redactedPaths,
      approval: p.approval,
      claim_token: p.claimToken,
    },
  };
}

/** A guard's refusal as recorded; null for an error that is no answer (a network failure, a bad key, a bad request). */
export function encodeRefusal(err: unknown): { refusal: RecordedRefusal } | null {
  if (err instanceof ActionDenied) return { refusal: { type: 'denied', reasons: err.reasons, decision_id: err.decisionId } };
  if (err instanceof ApprovalPending) return { refusal: { type: 'pending', approval: err.approval } };
  if (err instanceof ActionRejected) return { refusal: { type: 'rejected', approval: err.approval } };
  if (err instanceof ActionTimeout) return { refusal: { type: 'expired', approval: err.approval } };
  if (err instanceof ActionClaimed) return { refusal: { type: 'claimed', approval: err.approval } };
  const approval = err instanceof HoldpointError && err.code === 'cancelled' ? (err.details as { approval?: Approval } | undefined)?.approval : undefined;
  if (approval) return { refusal: { type: 'cancelled', approval } };
  return null;
}

/** The recorded Decision of a check; refuses anything that is not one. */
export function decodeDecision(answer: ReplayAnswer): Decision {
  const d = (answer as { decision?: unknown }).decision;
  if (!isRecord(d) || !DECISIONS.has(d.decision as string) || !isRecord(d.params)) throw invalid('a check was answered with something other than a recorded decision');
  const decision = d.decision as Decision['decision'];
  return {
    allowed: decision === 'allow',
    modified: decision === 'modify',
    denied: decision === 'deny',
    requiresApproval: decision === 'require_approval',
    decision,
    reasons: Array.isArray(d.reasons) ? (d.reasons as Reason[]) : [],
    decisionId: typeof d.decision_id === 'string' ? d.decision_id : null,
    policyVersion: typeof d.policy_version === 'number' ? d.policy_version : null,
    matchedRules: Array.isArray(d.matched_rules) ? (d.matched_rules as string[]) : [],
    params: d.params,
    redactedPaths: Array.isArray(d.redacted_paths) ? (d.redacted_paths as string[]) : [],
    failedOpen: d.failed_open === true,
  };
}

const approvalOf = (r: Record<string, unknown>): Approval => {
  if (!isRecord(r.approval) || typeof r.approval.id !== 'string') throw invalid(`a recorded ${String(r.type)} refusal carries no approval`);
  return r.approval as unknown as Approval;
};

/** The recorded outcome of a guard: the Permit it granted (whose reports go nowhere), or the refusal it throws. */
export function decodeGuard(answer: ReplayAnswer): Permit {
  const refusal = (answer as { refusal?: unknown }).refusal;
  if (isRecord(refusal)) {
    switch (refusal.type) {
      case 'denied':
        throw new ActionDenied(Array.isArray(refusal.reasons) ? (refusal.reasons as Reason[]) : [], String(refusal.decision_id ?? ''));
      case 'pending':
        throw new ApprovalPending(approvalOf(refusal));
      case 'rejected':
        throw new ActionRejected(approvalOf(refusal));
      case 'expired':
        throw new ActionTimeout(approvalOf(refusal));
      case 'claimed':
        throw new ActionClaimed(approvalOf(refusal));
      case 'cancelled': {
        const approval = approvalOf(refusal);
        throw new HoldpointError('cancelled', `approval ${approval.id} was cancelled${approval.decision_reason ? `: ${approval.decision_reason}` : ''}`, { details: { approval } });
      }
      default:
        throw invalid(`unknown refusal ${JSON.stringify(refusal.type)}`);
    }
  }
  const p = (answer as { permit?: unknown }).permit;
  if (!isRecord(p) || !['allowed', 'claimed', 'failed_open'].includes(p.kind as string) || !isRecord(p.params)) {
    throw invalid('a guard was answered with something other than a recorded permit or refusal');
  }
  const approval = p.kind === 'claimed' && isRecord(p.approval) ? (p.approval as unknown as Approval) : null;
  if (p.kind === 'claimed' && !approval) throw invalid('a recorded claimed permit carries no approval');
  return replayedPermit({
    approvalId: approval?.id ?? null,
    decisionId: typeof p.decision_id === 'string' ? p.decision_id : null,
    approver: approval?.decided_by ?? null,
    approvedAt: approval?.decided_at ? new Date(approval.decided_at) : null,
    params: p.params,
    modified: p.modified === true,
    redactedPaths: Array.isArray(p.redacted_paths) ? (p.redacted_paths as string[]) : [],
    claimToken: typeof p.claim_token === 'string' ? p.claim_token : null,
    approval,
    failedOpen: p.kind === 'failed_open',
  });
}
