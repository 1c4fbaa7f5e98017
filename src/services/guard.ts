// check, guard and report: the calls an agent makes before and after it acts.
// guard evaluates first and inserts with ON CONFLICT on the idempotency key: a
// new key costs one statement; a retry finds its key taken and replays the
// first outcome. Whatever is refused after evaluation takes its counters back.
import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson } from '../approvals/chain.ts';
import { isEngineName } from '../approvals/identity.ts';
import { renderApproval, type ApprovalView } from '../approvals/render.ts';
import { applyAgentRequest } from '../approvals/routing.ts';
import type { Status } from '../approvals/status.ts';
import * as approvalsDb from '../db/approvals.ts';
import type { ApprovalRow } from '../db/approvals.ts';
import { isApproverName } from '../db/approvers.ts';
import type { Tx } from '../db/client.ts';
import * as decisionsDb from '../db/decisions.ts';
import type { DecisionRow } from '../db/decisions.ts';
import { AppError } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import { defaultRouting, type EvaluationRequest } from '../policy/evaluate.ts';
import { ledgerCost, ledgerParams } from './ledger-columns.ts';
import type { ServiceDeps } from './approvals.ts';
import { announcingDecisions } from './decision-feed.ts';
import type { Evaluator } from './evaluator.ts';
import { webhookBody } from './webhook-body.ts';

export interface GuardInput {
  action: string;
  agent_id: string;
  params: Record<string, unknown>;
  context: Record<string, unknown>;
  idempotency_key: string;
  callback_url?: string | null | undefined;
  timeout_seconds?: number | undefined;
  /** What the call costs, for budgets (else the policy's cost table). */
  cost_usd?: number | undefined;
  /** A human decides even where the policy would allow (a deny still denies). HumanLayer function calls. */
  require_human?: boolean | undefined;
  /** The channel the agent asks for; allowed only if the route lists it in agent_may_route_to (else 422 channel_not_allowed). */
  slack_channel?: string | null | undefined;
  /** The agent's labels for the ledger. Never a policy input (see policyRequest). */
  tags?: string[] | undefined;
}

/**
 * What the policy sees of a call: never the tags (labels the agent picks
 * freely; a rule on them would let the agent choose its own decision) nor the
 * delivery options.
 */
export function policyRequest(input: Pick<GuardInput, 'action' | 'agent_id' | 'params' | 'context' | 'cost_usd'>): EvaluationRequest {
  return {
    action: input.action,
    agent_id: input.agent_id,
    params: input.params,
    context: input.context,
    ...(input.cost_usd === undefined ? {} : { cost_usd: input.cost_usd }),
  };
}

export type GuardStatus = 'allowed' | 'denied' | Status;

export interface GuardOutcome {
  status: GuardStatus;
  reasons: unknown[];
  decision_id: string;
  policy_version: number | null;
  risk_score: number | null;
  /** Set when sensitive values were redacted: the params to use instead, and where. */
  params?: Record<string, unknown> | undefined;
  redacted_paths: string[];
  approval: ApprovalView | null;
  /** True when this call created the approval (false on every retry). */
  created: boolean;
}

export function requestHash(action: string, agentId: string, params: unknown): string {
  return createHash('sha256').update(canonicalJson({ action, agent_id: agentId, params })).digest('hex');
}

/** The row Postgres will hold for a just-parked approval (to render it before the insert). */
function pendingRow(a: approvalsDb.NewApproval): ApprovalRow {
  return {
    ...a,
    status: 'pending',
    slack_channel: null,
    slack_ts: null,
    slack_synced_at: null,
    slack_result_ts: null,
    slack_error: null,
    decided_at: null,
    decided_by: null,
    decision_reason: null,
    decision_channel: null,
    decision_option: null,
    claim_token: null,
    claim_expires_at: null,
    claimed_at: null,
    result: null,
    error: null,
    completed_at: null,
    updated_at: a.created_at,
  };
}

/** What the flow needs from the approval service: rendering and the after-commit jobs. */
export interface GuardFlowHelpers {
  view(tx: Tx, row: ApprovalRow): Promise<ApprovalView>;
  dispatch(p: { tenantId: string; slack?: { first: boolean; version: Date } | undefined; deliveries: { id: string; event_id: string; target: string }[]; expire?: { id: string; at: Date } | undefined; effects: never[]; approvalId: string }): Promise<void>;
}

export function createGuardFlow(deps: ServiceDeps, h: GuardFlowHelpers) {
  const { sql, clock } = deps;
  const { view, dispatch } = h;

  function outcomeOf(d: DecisionRow, approval: ApprovalView | null, created: boolean, params?: Record<string, unknown>): GuardOutcome {
    const status: GuardStatus = approval ? approval.status : d.decision === 'deny' ? 'denied' : 'allowed';
    return {
      status,
      reasons: d.reasons,
      decision_id: d.id,
      policy_version: d.policy_version,
      risk_score: d.risk_score,
      redacted_paths: d.redacted_paths ?? [],
      ...(params ? { params } : {}),
      approval,
      created,
    };
  }

  async function replay(tenantId: string, d: DecisionRow, input: GuardInput): Promise<GuardOutcome> {
    if (d.request_hash !== requestHash(input.action, input.agent_id, input.params)) {
      throw new AppError(
        'idempotency_key_reused',
        'this idempotency key was used for a different action, agent or params',
        { idempotency_key: input.idempotency_key, decision_id: d.id },
      );
    }
    let approval: ApprovalView | null = null;
    if (d.approval_id) {
      const row = await approvalsDb.getApproval(sql, tenantId, d.approval_id);
      if (row) approval = await view(sql, row);
    }
    // An allowed call whose params were redacted gets the redacted params again, never its originals.
    return outcomeOf(d, approval, false, approval ? undefined : (d.granted_params ?? undefined));
  }

  /**
   * Budgets: a completed action's reservation becomes spend (its reported cost,
   * else what was reserved); a failed one costs only what it reports.
   */
  async function settleSpend(d: DecisionRow, status: 'completed' | 'failed', cost: number | undefined): Promise<void> {
    if (d.budget_buckets.length === 0) return;
    if (status === 'completed' || cost !== undefined) await deps.evaluator.settle(d.tenant_id, d.id, d.budget_buckets, cost ?? null);
    else await deps.evaluator.release(d.tenant_id, d.id, d.budget_buckets);
  }

  /** The key is taken (a retry, or a concurrent twin that won): answer what the first call got. */
  async function replayKey(tenantId: string, input: GuardInput): Promise<GuardOutcome> {
    const d = await decisionsDb.getDecisionByKey(sql, tenantId, input.idempotency_key);
    if (!d) throw new AppError('idempotency_key_reused', 'an approval already holds this idempotency key');
    return replay(tenantId, d, input);
  }

  /** What the guards and the request contribute to the decision row: the ledger columns. */
  function guardColumns(e: Awaited<ReturnType<Evaluator['evaluate']>>, input: Omit<GuardInput, 'idempotency_key'>) {
    const cost = ledgerCost(e, policyRequest(input));
    return {
      risk_score: e.evaluation.risk_score,
      cost_usd: cost === null ? null : String(cost),
      budget_buckets: e.buckets,
      redacted_paths: e.evaluation.redacted_paths,
      failed_open: Boolean(e.evaluation.failed_open),
      eval_ms: Math.round(e.eval_ms * 1000) / 1000,
      params: ledgerParams(e, input.params),
      context: input.context,
      tags: input.tags ?? [],
      session_id: decisionsDb.ledgerKey(input.context.session_id),
      run_id: decisionsDb.ledgerKey(input.context.run_id),
    };
  }

  /** guard, after evaluation: refuse, record the decision, or park the approval. Throws leave the counters to the caller. */
  async function park(tenantId: string, input: GuardInput, now: Date, decisionId: string, ev: Awaited<ReturnType<Evaluator['evaluate']>>, clash: boolean): Promise<GuardOutcome> {
    const { active, evaluation } = ev;
    // The caller (guard) takes back the counters of a refusal.
    const refuse = (err: AppError): never => {
      throw err;
    };
    if (clash) refuse(new AppError('agent_id_conflict', `agent_id "${input.agent_id}" is the name of an approver; an agent cannot act as a person who approves`, { field: 'agent_id' }));
    const hash = requestHash(input.action, input.agent_id, input.params);
    // Sensitive values redacted by the policy never reach the approval (or Slack).
    const params = evaluation.params ?? input.params;
    let route = evaluation.decision === 'require_approval' ? evaluation.routing : null;
    if (!route && input.require_human && evaluation.decision !== 'deny') route = defaultRouting(active.policy);
    // What the agent asked of its own review (deadline, channel) only within what the route allows.
    const asked = route ? applyAgentRequest(route, input) : null;
    if (asked && !asked.ok) refuse(new AppError(asked.code, asked.message, asked.details));
    const routing = asked?.ok ? asked.routing : null;
    const approvalId = routing ? randomUUID() : null;
    const decision: decisionsDb.NewDecision = {
      ...guardColumns(ev, input),
      id: decisionId,
      tenant_id: tenantId,
      kind: 'guard',
      idempotency_key: input.idempotency_key,
      request_hash: hash,
      action: input.action,
      agent_id: input.agent_id,
      decision: routing ? 'require_approval' : evaluation.decision,
      reasons: evaluation.reasons,
      policy_version: active.version,
      approval_id: approvalId,
      created_at: now,
    };

    if (!routing || !approvalId) {
      const d = await decisionsDb.insertDecision(sql, { ...decision, ...(evaluation.params && evaluation.decision !== 'deny' ? { granted_params: evaluation.params } : {}) });
      if (d) return outcomeOf(d, null, false, evaluation.params);
      // Lost the race for the key (or a retry): the first call counted; this one takes its counts back.
      await deps.evaluator.undo(tenantId, decisionId, ev.applied);
      return replayKey(tenantId, input);
    }

    const timeout = asked?.ok ? asked.timeout_seconds : routing.timeout_seconds;
    const approval: approvalsDb.NewApproval = {
      id: approvalId,
      tenant_id: tenantId,
      idempotency_key: input.idempotency_key,
      request_hash: hash,
      action: input.action,
      agent_id: input.agent_id,
      params,
      context: input.context,
      reasons: evaluation.reasons,
      required_approvals: routing.required_approvals,
      timeout_seconds: timeout,
      on_timeout: routing.on_timeout,
      expires_at: new Date(now.getTime() + timeout * 1000),
      callback_url: input.callback_url ?? null,
      routing,
      policy_version: active.version,
      decision_id: decision.id,
      created_at: now,
    };
    const v = renderApproval(pendingRow(approval), []);
    const eventId = uuidv7(now.getTime());
    const parked = await approvalsDb.insertParkedApproval(sql, {
      decision,
      approval,
      event: {
        id: eventId,
        type: 'requested',
        actor: input.agent_id,
        channel: 'api',
        data: { action: input.action, reasons: evaluation.reasons, routing, policy_version: active.version },
        created_at: now,
      },
      webhook: { type: 'approval.requested', payload: webhookBody({ id: eventId, type: 'approval.requested', created_at: now }, v) },
    });
    if (!parked) {
      await deps.evaluator.undo(tenantId, decisionId, ev.applied);
      return replayKey(tenantId, input);
    }
    await dispatch({
      tenantId,
      slack: routing.slack_channel ? { first: true, version: now } : undefined,
      deliveries: parked.deliveries,
      expire: { id: approvalId, at: approval.expires_at },
      effects: [],
      approvalId,
    });
    return {
      status: 'pending',
      reasons: evaluation.reasons,
      decision_id: decision.id,
      policy_version: active.version,
      risk_score: evaluation.risk_score,
      redacted_paths: evaluation.redacted_paths,
      ...(evaluation.params ? { params: evaluation.params } : {}),
      approval: v,
      created: true,
    };
  }

  return announcingDecisions(deps, {
    settleSpend,

    /** Evaluates the policy and records the decision; creates nothing else. */
    async check(tenantId: string, input: Omit<GuardInput, 'idempotency_key' | 'callback_url' | 'timeout_seconds'>) {
      const now = clock();
      const id = uuidv7(now.getTime());
      const ev = await deps.evaluator.evaluate(tenantId, policyRequest(input), id);
      const { active, evaluation } = ev;
      // A check whose decision is not stored counts nothing: take back its hits and reservations.
      const d = await decisionsDb.insertDecision(sql, {
        ...guardColumns(ev, input),
        id,
        tenant_id: tenantId,
        kind: 'check',
        idempotency_key: null,
        request_hash: requestHash(input.action, input.agent_id, input.params),
        action: input.action,
        agent_id: input.agent_id,
        decision: evaluation.decision,
        reasons: evaluation.reasons,
        policy_version: active.version,
        approval_id: null,
        created_at: now,
      }).catch(async (err: unknown) => {
        await deps.evaluator.undo(tenantId, id, ev.applied);
        throw err;
      });
      return {
        decision: evaluation.decision,
        reasons: evaluation.reasons,
        decision_id: d!.id,
        policy_version: active.version,
        matched_rules: evaluation.matched_rules,
        risk_score: evaluation.risk_score,
        params: evaluation.params ?? input.params,
        redacted_paths: evaluation.redacted_paths,
        failed_open: Boolean(evaluation.failed_open),
      };
    },

    /**
     * Evaluates and, when a human must decide, parks the action as an approval.
     * The idempotency key makes every retry return the first call's outcome.
     */
    async guard(tenantId: string, input: GuardInput): Promise<GuardOutcome> {
      // Evaluate first and insert with ON CONFLICT: a new key costs one statement;
      // a retry finds its key taken and replays the first outcome.
      const now = clock();
      const decisionId = uuidv7(now.getTime());
      if (isEngineName(input.agent_id)) {
        throw new AppError('agent_id_conflict', `agent_id "${input.agent_id}" is a name the engine writes (system, timeout, or one with a colon)`, { field: 'agent_id' });
      }
      // An agent named like an approver would silently block that person's votes
      // as self-approval: refuse it (read beside the evaluation, not after it).
      const [evaluated, clash] = await Promise.allSettled([deps.evaluator.evaluate(tenantId, policyRequest(input), decisionId), isApproverName(sql, tenantId, input.agent_id)]);
      if (evaluated.status === 'rejected') throw evaluated.reason;
      const ev = evaluated.value;
      try {
        if (clash.status === 'rejected') throw clash.reason;
        return await park(tenantId, input, now, decisionId, ev, clash.value);
      } catch (err) {
        // Refused after evaluation, or the insert failed: this call leaves no
        // decision, so it must not count against rate limits or hold budget.
        await deps.evaluator.undo(tenantId, decisionId, ev.applied);
        throw err;
      }
    },

    async report(
      tenantId: string,
      decisionId: string,
      r: { status: 'completed' | 'failed'; result?: unknown; cost_usd?: number | undefined; duration_ms?: number | undefined },
    ) {
      const d = await decisionsDb.getDecision(sql, tenantId, decisionId);
      if (!d) throw new AppError('not_found', `decision ${decisionId} not found`);
      if (d.decision !== 'allow' && d.decision !== 'modify') {
        throw new AppError('invalid_state', `only allowed decisions are reported here (this one was ${d.decision}); approvals use complete / fail`);
      }
      const row = await decisionsDb.reportDecision(sql, tenantId, decisionId, r, clock());
      if (!row) throw new AppError('invalid_state', 'this decision was already reported');
      await settleSpend(row, r.status, r.cost_usd);
      return renderDecision(row);
    },
  });
}

export function renderDecision(d: DecisionRow) {
  return {
    id: d.id,
    kind: d.kind,
    action: d.action,
    agent_id: d.agent_id,
    decision: d.decision,
    reasons: d.reasons,
    policy_version: d.policy_version,
    approval_id: d.approval_id,
    idempotency_key: d.idempotency_key,
    created_at: d.created_at.toISOString(),
    risk_score: d.risk_score,
    cost_usd: d.cost_usd === null ? null : Number(d.cost_usd),
    redacted_paths: d.redacted_paths,
    failed_open: d.failed_open,
    eval_ms: d.eval_ms,
    report_status: d.report_status,
    report_result: d.report_result ?? null,
    report_cost_usd: d.report_cost_usd === null ? null : Number(d.report_cost_usd),
    report_duration_ms: d.report_duration_ms,
    reported_at: d.reported_at ? d.reported_at.toISOString() : null,
    params: d.params,
    context: d.context,
    tags: d.tags,
    session_id: d.session_id,
    run_id: d.run_id,
  };
}
