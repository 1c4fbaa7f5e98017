// The one path every channel takes to change an approval: API, Slack, web inbox,
// workers. Each change is: lock the row, ask the pure core, write the patch with
// a guarded UPDATE, append the events and their webhook outbox rows — one
// transaction — then, after commit, enqueue jobs. Enqueue failures are logged,
// not surfaced: Postgres already holds the truth and the reconciler re-adds
// whatever Redis missed.
import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson, verifyChain } from '../approvals/chain.ts';
import { renderApproval, type ApprovalView } from '../approvals/render.ts';
import { webhookTypeFor, type Status } from '../approvals/status.ts';
import { transition, type ApprovalState, type AuditRecord, type Effect, type TransitionEvent } from '../approvals/transition.ts';
import * as approvalsDb from '../db/approvals.ts';
import type { ApprovalRow, VoteRow } from '../db/approvals.ts';
import type { Sql, Tx } from '../db/client.ts';
import { decodeCursor, encodeCursor } from '../db/cursor.ts';
import * as decisionsDb from '../db/decisions.ts';
import type { DecisionRow } from '../db/decisions.ts';
import { appendEvent, chainAll, eventsForApproval, toChainEvent } from '../db/events.ts';
import { insertDeliveries } from '../db/webhooks.ts';
import { AppError } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { defaultRouting } from '../policy/evaluate.ts';
import { isEngineName } from '../approvals/identity.ts';
import { applyAgentRequest } from '../approvals/routing.ts';
import { isApproverName } from '../db/approvers.ts';
import type { Evaluator } from './evaluator.ts';
import { jobIds, type Queues } from '../queue/queues.ts';
import type { Notifier } from './notifier.ts';
import type { PolicyStore } from './policies.ts';

export interface ServiceDeps {
  sql: Sql;
  queues: Queues;
  policies: PolicyStore;
  notifier: Notifier;
  log: Logger;
  clock: () => Date;
  claimLeaseSeconds?: number;
  /** Whether the producer's Redis connection is up; BullMQ's add waits for a connection instead of failing. */
  redisReady?: () => boolean;
  /** Slack is configured: approvals routed to a channel get notify-slack jobs. */
  slackEnabled?: boolean;
  /** Policy evaluation with the stateful guards' counters. */
  evaluator: Evaluator;
  /** Operator metrics: human votes and time to decision. */
  metrics?: Pick<Metrics, 'vote'> | undefined;
}

/** Outcomes after which a budget reservation is settled or released. */
const SETTLING = new Set<Status>(['rejected', 'expired', 'cancelled', 'completed', 'failed']);

/** How long a request waits for its after-commit enqueues before answering anyway. */
const ENQUEUE_WAIT_MS = 2_000;
const CHAIN_DEBOUNCE_MS = 25;

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

interface Pending {
  tenantId: string;
  /** The approval's Slack message needs posting (first) or re-rendering at this version. */
  slack?: { first: boolean; version: Date } | undefined;
  deliveries: { id: string; event_id: string; target: string }[];
  expire?: { id: string; at: Date } | undefined;
  effects: Effect[];
  approvalId: string;
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

/** The actual cost an agent reported with complete / fail. */
function costOf(e: TransitionEvent): number | undefined {
  return e.type === 'complete' || e.type === 'fail' ? e.cost_usd : undefined;
}

function stateOf(row: ApprovalRow, votes: readonly VoteRow[]): ApprovalState {
  return {
    status: row.status,
    agent_id: row.agent_id,
    required_approvals: row.required_approvals,
    on_timeout: row.on_timeout,
    expires_at: row.expires_at,
    approvers: row.routing?.approvers?.identities ?? [],
    votes,
    claim_token: row.claim_token,
    claim_expires_at: row.claim_expires_at,
  };
}

export function webhookBody(event: { id: string; type: string; created_at: Date }, approval: ApprovalView): string {
  return JSON.stringify({ type: event.type, id: event.id, created_at: event.created_at.toISOString(), data: approval });
}

export function createApprovalService(deps: ServiceDeps) {
  const { sql, queues, log, clock } = deps;
  const leaseDefault = deps.claimLeaseSeconds ?? 300;

  /**
   * The queries that append audit records and their webhook outbox rows. Ids are
   * made here, so the caller can pipeline them: nothing waits for a result.
   */
  function record(tx: Tx, row: ApprovalRow, view: ApprovalView, records: readonly AuditRecord[], now: Date): Promise<Pending['deliveries']>[] {
    const queries: Promise<Pending['deliveries']>[] = [];
    for (const r of records) {
      const id = uuidv7(now.getTime());
      queries.push(appendEvent(tx, { ...r, id, tenant_id: row.tenant_id, approval_id: row.id, created_at: now }).then(() => []));
      const type = webhookTypeFor(r.type);
      if (type) {
        const payload = webhookBody({ id, type, created_at: now }, view);
        queries.push(insertDeliveries(tx, { tenant_id: row.tenant_id, event_id: id, type, callback_url: row.callback_url, payload, now }));
      }
    }
    return queries;
  }

  // One chain job per tenant per CHAIN_DEBOUNCE_MS from this process: it is
  // added after the commits it covers, so it links all of them. A process that
  // dies with a timer pending leaves the rest to the reconciler (and to reads).
  const chainTimers = new Map<string, NodeJS.Timeout>();
  function chainSoon(tenantId: string): void {
    if (chainTimers.has(tenantId)) return;
    const timer = setTimeout(() => {
      chainTimers.delete(tenantId);
      if (deps.redisReady && !deps.redisReady()) return;
      queues.chain.add('chain', { tenant_id: tenantId }, { jobId: jobIds.chain(tenantId) }).catch((err) => log.debug('chain job not added', { err }));
    }, CHAIN_DEBOUNCE_MS);
    timer.unref();
    chainTimers.set(tenantId, timer);
  }

  /** After commit: jobs. Never throws — the reconciler repairs what fails here. */
  async function dispatch(p: Pending): Promise<void> {
    if (deps.redisReady && !deps.redisReady()) {
      log.warn('redis is not connected; leaving jobs to the reconciler', { approval_id: p.approvalId });
      return;
    }
    const now = clock().getTime();
    const work: Promise<unknown>[] = [];
    if (p.expire) {
      work.push(
        queues.expire.add('expire', { approval_id: p.expire.id }, { jobId: jobIds.expire(p.expire.id), delay: Math.max(0, p.expire.at.getTime() - now) }),
      );
    }
    chainSoon(p.tenantId);
    for (const d of p.deliveries) {
      work.push(queues.deliver.add('deliver', { delivery_id: d.id }, { jobId: jobIds.deliver(d.event_id, d.target) }));
    }
    if (p.slack && deps.slackEnabled) {
      const jobId = p.slack.first ? jobIds.notify(p.approvalId) : jobIds.slackSync(p.approvalId, p.slack.version);
      work.push(queues.slack.add('sync', { approval_id: p.approvalId }, { jobId }));
    }
    for (const e of p.effects) {
      if (e.type === 'cancel_expiry') {
        // Only to keep Redis small: a stale expiry job re-reads the row and does nothing.
        work.push(queues.expire.remove(jobIds.expire(p.approvalId)));
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const results = await Promise.race([
      Promise.allSettled(work),
      new Promise<PromiseSettledResult<unknown>[]>((resolve) => {
        timer = setTimeout(() => resolve([{ status: 'rejected', reason: new Error(`enqueue took over ${ENQUEUE_WAIT_MS} ms`) }]), ENQUEUE_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length > 0) {
      log.warn('enqueue after commit failed; the reconciler will retry', {
        approval_id: p.approvalId,
        failures: failed.length,
        err: (failed[0] as PromiseRejectedResult).reason,
      });
    }
  }

  async function view(tx: Tx, row: ApprovalRow): Promise<ApprovalView> {
    const votes = (await approvalsDb.votesFor(tx, [row.id])).get(row.id) ?? [];
    return renderApproval(row, votes);
  }

  async function views(tx: Tx, rows: ApprovalRow[]): Promise<ApprovalView[]> {
    const votes = await approvalsDb.votesFor(tx, rows.map((r) => r.id));
    return rows.map((r) => renderApproval(r, votes.get(r.id) ?? []));
  }

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

  /** After an approval's outcome: spend what ran, free what will never run. */
  async function budgetAfter(approval: ApprovalView, tenantId: string, cost: number | undefined, prefetched?: DecisionRow | null): Promise<void> {
    if (!approval.decision_id) return;
    const released = approval.status === 'rejected' || approval.status === 'expired' || approval.status === 'cancelled';
    const finished = approval.status === 'completed' || approval.status === 'failed';
    if (!released && !finished) return;
    const d = prefetched !== undefined ? prefetched : await decisionsDb.getDecision(sql, tenantId, approval.decision_id);
    if (!d || d.budget_buckets.length === 0) return;
    if (released) await deps.evaluator.release(tenantId, d.id, d.budget_buckets);
    else await settleSpend(d, approval.status as 'completed' | 'failed', cost);
  }

  /** The key is taken (a retry, or a concurrent twin that won): answer what the first call got. */
  async function replayKey(tenantId: string, input: GuardInput): Promise<GuardOutcome> {
    const d = await decisionsDb.getDecisionByKey(sql, tenantId, input.idempotency_key);
    if (!d) throw new AppError('idempotency_key_reused', 'an approval already holds this idempotency key');
    return replay(tenantId, d, input);
  }

  /**
   * Applies one event to one approval under its row lock. `tenantId` null is for
   * workers acting on ids from jobs.
   */
  async function apply(
    tenantId: string | null,
    id: string,
    event: TransitionEvent,
  ): Promise<{ approval: ApprovalView; changed: boolean; refusal?: { code: string; message: string } }> {
    const now = clock();
    const out = await sql.begin(async (tx) => {
      const locked = await approvalsDb.lockApproval(tx, id);
      if (!locked || (tenantId !== null && locked.row.tenant_id !== tenantId)) throw new AppError('not_found', `approval ${id} not found`);
      const { row, votes } = locked;
      const r = transition(stateOf(row, votes), event, now);
      if (!r.ok) return { kind: 'refused' as const, row, votes, code: r.code, message: r.message };
      if (r.noop) return { kind: 'noop' as const, row, votes };

      // Everything below is known now, so it goes to Postgres as one pipeline.
      const next: ApprovalRow = { ...row, ...(r.patch as Partial<ApprovalRow>), updated_at: now };
      const allVotes = r.vote
        ? [...votes.filter((v) => v.approver !== r.vote!.approver), { approval_id: id, ...r.vote, created_at: now }]
        : votes;
      const v = renderApproval(next, allVotes);
      // An outcome that settles or releases a budget reservation reads its decision in the same
      // pipeline, rather than in a round trip of its own after commit (budgetAfter).
      const settles = Boolean(row.decision_id) && SETTLING.has(next.status);
      const [updated, decision, ...rest] = await Promise.all([
        // Always written, if only updated_at: a vote that changes no status still changes what Slack shows.
        approvalsDb.updateApproval(tx, id, r.from, r.patch, now),
        settles ? decisionsDb.getDecision(tx, row.tenant_id, row.decision_id!).then((d) => d ?? null) : Promise.resolve(undefined),
        r.vote ? approvalsDb.upsertVote(tx, { approval_id: id, ...r.vote }, now).then(() => []) : Promise.resolve([]),
        ...record(tx, next, v, r.events, now),
      ]);
      // We hold the row lock, so the guarded UPDATE cannot lose; if it ever
      // does, roll back rather than keep events for a change that did not happen.
      if (!updated) throw new AppError('already_decided', 'approval changed concurrently');
      const deliveries = (rest as Pending['deliveries'][]).flat();
      const budget = decision as DecisionRow | null | undefined;
      const slack = row.routing?.slack_channel ? { first: false, version: now } : undefined;
      return { kind: 'changed' as const, view: v, budget, refusal: r.refusal, pending: { tenantId: row.tenant_id, slack, deliveries, effects: r.effects, approvalId: id } satisfies Pending };
    });
    if (event.type === 'vote' && deps.metrics) {
      const v = out.kind === 'changed' ? out.view : undefined;
      const outcome = out.kind === 'refused' || (out.kind === 'changed' && out.refusal) ? 'refused' : !v ? 'duplicate' : v.status === 'approved' || v.status === 'rejected' ? v.status : 'voted';
      deps.metrics.vote({ channel: event.channel, outcome, created_at: v && new Date(v.created_at), decided_at: v?.decided_at ? new Date(v.decided_at) : undefined });
    }
    if (out.kind === 'changed') {
      await dispatch(out.pending);
      await budgetAfter(out.view, out.pending.tenantId, costOf(event), out.budget);
      return { approval: out.view, changed: true, ...(out.refusal ? { refusal: out.refusal } : {}) };
    }
    const approval = renderApproval(out.row, out.votes);
    if (out.kind === 'noop') return { approval, changed: false };
    return { approval, changed: false, refusal: { code: out.code, message: out.message } };
  }

  /** Like apply, but a refusal becomes the matching API error carrying the current approval. */
  async function applyOrThrow(tenantId: string, id: string, event: TransitionEvent): Promise<ApprovalView> {
    const r = await apply(tenantId, id, event);
    if (r.refusal) {
      const code = r.refusal.code as 'already_decided' | 'claim_conflict' | 'invalid_state' | 'self_approval' | 'not_an_approver';
      throw new AppError(code, r.refusal.message, { approval: r.approval });
    }
    return r.approval;
  }

  /** What the guards contribute to the decision row. */
  function guardColumns(e: Awaited<ReturnType<Evaluator['evaluate']>>, cost: number | undefined) {
    return {
      risk_score: e.evaluation.risk_score,
      cost_usd: cost === undefined ? null : String(cost),
      budget_buckets: e.buckets,
      redacted_paths: e.evaluation.redacted_paths,
      failed_open: Boolean(e.evaluation.failed_open),
      eval_ms: Math.round(e.eval_ms * 1000) / 1000,
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
      ...guardColumns(ev, input.cost_usd),
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

  return {
    /** Evaluates the policy and records the decision; creates nothing else. */
    async check(tenantId: string, input: Omit<GuardInput, 'idempotency_key' | 'callback_url' | 'timeout_seconds'>) {
      const now = clock();
      const id = uuidv7(now.getTime());
      const ev = await deps.evaluator.evaluate(tenantId, input, id);
      const { active, evaluation } = ev;
      // A check whose decision is not stored counts nothing: take back its hits and reservations.
      const d = await decisionsDb.insertDecision(sql, {
        ...guardColumns(ev, input.cost_usd),
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
      const [evaluated, clash] = await Promise.allSettled([deps.evaluator.evaluate(tenantId, input, decisionId), isApproverName(sql, tenantId, input.agent_id)]);
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

    async get(tenantId: string, id: string): Promise<ApprovalView> {
      const row = await approvalsDb.getApproval(sql, tenantId, id);
      if (!row) throw new AppError('not_found', `approval ${id} not found`);
      return view(sql, row);
    },

    async getByKey(tenantId: string, key: string): Promise<ApprovalView> {
      const row = await approvalsDb.getApprovalByKey(sql, tenantId, key);
      if (!row) throw new AppError('not_found', `no approval for idempotency key ${key}`);
      return view(sql, row);
    },

    /**
     * Long-poll: returns as soon as the approval leaves pending, or after
     * `waitMs` with it still pending. Woken by Postgres NOTIFY, not by polling.
     */
    async waitByKey(tenantId: string, key: string, waitMs: number): Promise<ApprovalView> {
      const deadline = clock().getTime() + waitMs;
      let row = await approvalsDb.getApprovalByKey(sql, tenantId, key);
      if (!row) throw new AppError('not_found', `no approval for idempotency key ${key}`);
      while (row.status === 'pending') {
        const left = deadline - clock().getTime();
        if (left <= 0) break;
        // Subscribe first, then re-read: a change between the two is not missed.
        const w = deps.notifier.wait(row.id, left);
        const again: ApprovalRow | undefined = await approvalsDb.getApproval(sql, tenantId, row.id);
        if (!again) break;
        row = again;
        if (row.status !== 'pending') {
          w.cancel();
          break;
        }
        const why = await w.promise;
        if (why === 'closed') break;
        // Woken: the row and its votes in one round trip — this read is the long-poll's latency.
        const next = await approvalsDb.getApprovalWithVotes(sql, tenantId, row.id);
        if (!next) break;
        if (next.row.status !== 'pending') return renderApproval(next.row, next.votes);
        row = next.row;
      }
      return view(sql, row);
    },

    async list(tenantId: string, f: Omit<approvalsDb.ListFilter, 'before'> & { cursor?: string | undefined }) {
      let before: approvalsDb.ListFilter['before'];
      if (f.cursor) before = decodeCursor(f.cursor);
      const rows = await approvalsDb.listApprovals(sql, tenantId, { ...f, before, limit: f.limit + 1 });
      const page = rows.slice(0, f.limit);
      const last = page[page.length - 1];
      return {
        data: await views(sql, page),
        next_cursor: rows.length > f.limit && last ? encodeCursor(last) : null,
      };
    },

    decide(
      tenantId: string,
      id: string,
      d: {
        decision: 'approve' | 'reject';
        approver: string;
        reason?: string | undefined;
        option?: string | undefined;
        channel: 'api' | 'slack' | 'web' | 'webhook';
        /** The key that named the approver (assert_identity), recorded beside the person. */
        asserted_by?: string | undefined;
      },
    ) {
      return applyOrThrow(tenantId, id, {
        type: 'vote',
        approver: d.approver,
        vote: d.decision,
        reason: d.reason,
        option: d.option,
        channel: d.channel,
        ...(d.asserted_by === undefined ? {} : { asserted_by: d.asserted_by }),
      });
    },

    cancel(tenantId: string, id: string, actor: string, reason?: string) {
      return applyOrThrow(tenantId, id, { type: 'cancel', actor, reason });
    },

    async claim(tenantId: string, id: string, actor: string, leaseSeconds?: number) {
      const token = randomUUID();
      const approval = await applyOrThrow(tenantId, id, { type: 'claim', actor, token, lease_seconds: leaseSeconds ?? leaseDefault });
      return { approval, claim_token: token };
    },

    complete(tenantId: string, id: string, actor: string, token: string, result: unknown, cost_usd?: number, duration_ms?: number) {
      return applyOrThrow(tenantId, id, { type: 'complete', actor, token, result, cost_usd, duration_ms });
    },

    fail(tenantId: string, id: string, actor: string, token: string, error: unknown, cost_usd?: number, duration_ms?: number) {
      return applyOrThrow(tenantId, id, { type: 'fail', actor, token, error, cost_usd, duration_ms });
    },

    /**
     * Expires, in one transaction, up to `limit` pending approvals whose
     * deadline has passed: each decided by the pure core's expire transition,
     * all writes pipelined, then their jobs dispatched together. A sweep is how
     * deadlines keep up when thousands fall due at once (and after downtime);
     * the per-approval job stays as the trigger and the safety net. Returns the
     * ids it expired.
     */
    async expireDue(limit: number): Promise<string[]> {
      const now = clock();
      const done = await sql.begin(async (tx) => {
        const due = await approvalsDb.lockDuePending(tx, now, limit);
        const writes = due.flatMap(({ row, votes, budget_buckets }) => {
          const r = transition(stateOf(row, votes), { type: 'expire' }, now);
          if (!r.ok || r.noop) return [];
          const next: ApprovalRow = { ...row, ...(r.patch as Partial<ApprovalRow>), updated_at: now };
          const v = renderApproval(next, votes);
          const updated = approvalsDb.updateApproval(tx, row.id, r.from, r.patch, now);
          const deliveries = Promise.all(record(tx, next, v, r.events, now)).then((d) => d.flat());
          return [{ row, view: v, effects: r.effects, budget_buckets, updated, deliveries }];
        });
        const out = await Promise.all(writes.map((w) => Promise.all([w.updated, w.deliveries]).then(([updated, deliveries]) => ({ ...w, updated, deliveries }))));
        // Row locks are held: a lost guarded UPDATE would mean a bug, so roll everything back.
        const lost = out.find((w) => !w.updated);
        if (lost) throw new AppError('already_decided', `approval ${lost.row.id} changed concurrently`);
        return out;
      });
      await Promise.all(
        done.map(async (w) => {
          const slack = w.row.routing?.slack_channel ? { first: false, version: now } : undefined;
          await dispatch({ tenantId: w.row.tenant_id, slack, deliveries: w.deliveries, effects: w.effects, approvalId: w.row.id });
          if (w.row.decision_id && w.budget_buckets.length > 0 && w.view.status === 'expired') {
            await deps.evaluator.release(w.row.tenant_id, w.row.decision_id, w.budget_buckets);
          }
        }),
      );
      return done.map((w) => w.row.id);
    },

    /** For the expiry job and the reconciler. `due_at` is set when the deadline has not come yet. */
    async expire(id: string): Promise<{ changed: boolean; due_at?: Date; status?: Status }> {
      try {
        const r = await apply(null, id, { type: 'expire' });
        if (r.refusal) return { changed: false, due_at: new Date(r.approval.expires_at) };
        return { changed: r.changed, status: r.approval.status };
      } catch (err) {
        if (err instanceof AppError && err.code === 'not_found') return { changed: false };
        throw err;
      }
    },

    /**
     * Puts something that changed no state on the audit trail (a refused Slack
     * click, a Slack post that failed for good).
     */
    async recordEvent(approvalId: string, rec: AuditRecord): Promise<void> {
      const row = await approvalsDb.getApprovalById(sql, approvalId);
      if (!row) return;
      const now = clock();
      await appendEvent(sql, { ...rec, id: uuidv7(now.getTime()), tenant_id: row.tenant_id, approval_id: row.id, created_at: now });
      chainSoon(row.tenant_id);
    },

    /** Would this vote be refused? Asked before opening Slack's reject modal; writes nothing. */
    async previewVote(tenantId: string, id: string, approver: string, vote: 'approve' | 'reject') {
      const row = await approvalsDb.getApproval(sql, tenantId, id);
      if (!row) throw new AppError('not_found', `approval ${id} not found`);
      const votes = (await approvalsDb.votesFor(sql, [id])).get(id) ?? [];
      const r = transition(stateOf(row, votes), { type: 'vote', approver, vote, channel: 'slack' }, clock());
      return { approval: renderApproval(row, votes), refusal: r.ok ? (r.refusal ?? null) : { code: r.code, message: r.message } };
    },

    async releaseLease(id: string): Promise<boolean> {
      const r = await apply(null, id, { type: 'release_lease' });
      return r.changed;
    },

    async events(tenantId: string, id: string) {
      const row = await approvalsDb.getApproval(sql, tenantId, id);
      if (!row) throw new AppError('not_found', `approval ${id} not found`);
      // Link whatever the chainer has not reached yet, so a reader always sees the whole chain.
      await chainAll(sql, tenantId);
      const events = (await eventsForApproval(sql, tenantId, id)).map(toChainEvent);
      return { events, chain: verifyChain(events) };
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
  };
}

export type ApprovalService = ReturnType<typeof createApprovalService>;

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
  };
}
