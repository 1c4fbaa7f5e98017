// The one path every channel takes to change an approval: API, Slack, web inbox,
// workers. Each change is: lock the row, ask the pure core, write the patch with
// a guarded UPDATE, append the events and their webhook outbox rows — one
// transaction — then, after commit, enqueue jobs. Enqueue failures are logged,
// not surfaced: Postgres already holds the truth and the reconciler re-adds
// whatever Redis missed.
//
// The calls an agent makes before it acts (check, guard) and the report after
// an allowed one live in ./guard.ts; this file changes approvals that exist.
import { randomUUID } from 'node:crypto';
import { verifyChain } from '../approvals/chain.ts';
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
import type { Evaluator } from './evaluator.ts';
import { createGuardFlow } from './guard.ts';
import { webhookBody } from './webhook-body.ts';
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

interface Pending {
  tenantId: string;
  /** The approval's Slack message needs posting (first) or re-rendering at this version. */
  slack?: { first: boolean; version: Date } | undefined;
  deliveries: { id: string; event_id: string; target: string }[];
  expire?: { id: string; at: Date } | undefined;
  effects: Effect[];
  approvalId: string;
}

/** The actual cost an agent reported with complete / fail. */
function costOf(e: TransitionEvent): number | undefined {
  return e.type === 'complete' || e.type === 'fail' ? e.cost_usd : undefined;
}

/**
 * The ledger's report for an approval's action: complete / fail fill the
 * decision's report columns as POST /v1/report does for an allowed call, in
 * the same transaction, so the log holds every action's result, cost and
 * duration in one place.
 */
function ledgerReport(e: TransitionEvent): decisionsDb.DecisionReport | undefined {
  if (e.type === 'complete') return { status: 'completed', result: e.result, cost_usd: e.cost_usd, duration_ms: e.duration_ms };
  if (e.type === 'fail') return { status: 'failed', result: e.error, cost_usd: e.cost_usd, duration_ms: e.duration_ms };
  return undefined;
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

  // check, guard and report: the calls an agent makes before and after it acts.
  const flow = createGuardFlow(deps, { view, dispatch });
  const settleSpend = flow.settleSpend;

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
      const report = row.decision_id ? ledgerReport(event) : undefined;
      const [updated, decision, , ...rest] = await Promise.all([
        // Always written, if only updated_at: a vote that changes no status still changes what Slack shows.
        approvalsDb.updateApproval(tx, id, r.from, r.patch, now),
        settles ? decisionsDb.getDecision(tx, row.tenant_id, row.decision_id!).then((d) => d ?? null) : Promise.resolve(undefined),
        report ? decisionsDb.reportDecision(tx, row.tenant_id, row.decision_id!, report, now) : Promise.resolve(undefined),
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


  return {
    check: flow.check,
    guard: flow.guard,
    report: flow.report,

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

  };
}

export type ApprovalService = ReturnType<typeof createApprovalService>;

export { webhookBody } from './webhook-body.ts';
export { renderDecision, requestHash, type GuardInput, type GuardOutcome, type GuardStatus } from './guard.ts';
