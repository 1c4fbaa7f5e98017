// Oversight records (src/approvals/oversight.ts) read from Postgres: one
// approval's, or every approval of a period for the export. The events are
// chained first (as GET /v1/approvals/{id}/events does), so the proof covers
// everything written so far.
import { oversightRecord, type OversightRecord } from '../approvals/oversight.ts';
import type { ChainEvent } from '../approvals/chain.ts';
import * as approvalsDb from '../db/approvals.ts';
import type { ApprovalRow } from '../db/approvals.ts';
import { listApprovers, type ApproverRow } from '../db/approvers.ts';
import type { Sql } from '../db/client.ts';
import { chainAll, toChainEvent } from '../db/events.ts';
import { approvalsCreated, decisionSummaries, eventsAtSeqs, eventsOf } from '../db/oversight.ts';
import { AppError } from '../errors.ts';

export interface OversightRow {
  row: ApprovalRow;
  record: OversightRecord;
}

/** One approval's events and the tenant-chain events they link to: what verifyApprovalChain checks. */
export interface ChainMaterial {
  events: ChainEvent[];
  links: ChainEvent[];
}

export function createOversight(deps: { sql: Sql }) {
  const { sql } = deps;

  /** The events of these approvals and every tenant-chain event one of them links back to. */
  async function chainMaterial(tenantId: string, ids: readonly string[]): Promise<Map<string, ChainMaterial>> {
    const events = await eventsOf(sql, tenantId, ids);
    // Every chained event at hand, by position: this page's own events, then the ones they link back to.
    const bySeq = new Map<number, ChainEvent>();
    for (const list of events.values()) for (const e of list) if (e.seq !== null) bySeq.set(Number(e.seq), toChainEvent(e));
    const wanted = [...bySeq.keys()].map((s) => s - 1).filter((s) => s > 0 && !bySeq.has(s));
    for (const e of await eventsAtSeqs(sql, tenantId, wanted)) bySeq.set(Number(e.seq), toChainEvent(e));
    const out = new Map<string, ChainMaterial>();
    for (const id of ids) {
      const list = (events.get(id) ?? []).map(toChainEvent);
      const mine = new Set(list.map((e) => e.id));
      const links = list.flatMap((e) => {
        const before = e.seq === null ? undefined : bySeq.get(e.seq - 1);
        return before && !mine.has(before.id) ? [before] : [];
      });
      out.set(id, { events: list, links });
    }
    return out;
  }

  async function build(tenantId: string, rows: readonly ApprovalRow[], approvers: readonly ApproverRow[]): Promise<OversightRow[]> {
    const ids = rows.map((r) => r.id);
    const [votes, decisions, chain] = await Promise.all([
      approvalsDb.votesFor(sql, ids),
      decisionSummaries(sql, tenantId, rows.flatMap((r) => (r.decision_id ? [r.decision_id] : []))),
      chainMaterial(tenantId, ids),
    ]);
    return rows.map((row) => ({
      row,
      record: oversightRecord({
        approval: row,
        votes: votes.get(row.id) ?? [],
        decision: row.decision_id ? (decisions.get(row.decision_id) ?? null) : null,
        approvers,
        ...chain.get(row.id)!,
      }),
    }));
  }

  return {
    chainMaterial,

    async record(tenantId: string, approvalId: string): Promise<OversightRecord> {
      const row = await approvalsDb.getApproval(sql, tenantId, approvalId);
      if (!row) throw new AppError('not_found', `approval ${approvalId} not found`);
      await chainAll(sql, tenantId);
      const [built] = await build(tenantId, [row], await listApprovers(sql, tenantId));
      return built!.record;
    },

    /**
     * A page reader for the export: approvals created in [since, until), oldest
     * first, `pageSize` at a time. Chains the tenant's events once, up front.
     */
    async pages(tenantId: string, p: { since?: Date | undefined; until?: Date | undefined; pageSize: number }) {
      await chainAll(sql, tenantId);
      const approvers = await listApprovers(sql, tenantId);
      return async (after: OversightRow | undefined): Promise<OversightRow[]> => {
        const rows = await approvalsCreated(sql, tenantId, { since: p.since, until: p.until, after: after?.row, limit: p.pageSize });
        return build(tenantId, rows, approvers);
      };
    },
  };
}

export type Oversight = ReturnType<typeof createOversight>;
