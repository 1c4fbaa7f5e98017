// Creating many approvals fast, for the timeout, growth and memory scenarios.
//
// parkPending: through the service's own DB-layer statement
//   (insertParkedApproval: decision + approval + `requested` event + webhook
//   outbox in one statement), N at a time — the rows a guard writes, minus the
//   HTTP and the policy evaluation.
// seedDecided: a bulk INSERT … SELECT generate_series under a separate tenant,
//   decided approvals with their decision, vote (if any), two events and one
//   delivered webhook each — for "the table already holds a million rows". Its events carry
//   placeholder chain hashes (seq set, so the chainer and the reconciler skip
//   them; that tenant's chain would not verify, and nothing reads it).
import { randomUUID } from 'node:crypto';
import { renderApproval } from '../../src/approvals/render.ts';
import type { Sql } from '../../src/db/client.ts';
import { insertParkedApproval, type NewApproval } from '../../src/db/approvals.ts';
import type { NewDecision } from '../../src/db/decisions.ts';
import { uuidv7 } from '../../src/ids.ts';
import { requestHash, webhookBody } from '../../src/services/approvals.ts';

const ROUTING = { slack_channel: null, approvers: { slack_user_ids: [], identities: [] }, required_approvals: 1, timeout_seconds: 3600, on_timeout: 'reject' as const, min_timeout_seconds: 60, agent_may_route_to: [] };

/** Parks `n` approvals for `tenantId` with the service's statement; returns their ids. */
export async function parkPending(sql: Sql, tenantId: string, n: number, o: { concurrency: number; keyPrefix: string; expiresAt: Date; onProgress?: (done: number) => void }): Promise<string[]> {
  const ids: string[] = new Array(n);
  let next = 0;
  let done = 0;
  const one = async (i: number) => {
    const now = new Date();
    const params = { amount: 1200 + i, to: 'acct-42' };
    const hash = requestHash('payment.send', 'bench', params);
    const approvalId = randomUUID();
    const decisionId = uuidv7(now.getTime());
    const key = `${o.keyPrefix}-${i}`;
    const reasons = [{ source: 'rule', rule: 'approve-payments', decision: 'require_approval', message: 'rule approve-payments matched' }];
    const decision: NewDecision = {
      id: decisionId, tenant_id: tenantId, kind: 'guard', idempotency_key: key, request_hash: hash, action: 'payment.send', agent_id: 'bench',
      decision: 'require_approval', reasons, policy_version: 1, approval_id: approvalId, created_at: now,
    };
    const approval: NewApproval = {
      id: approvalId, tenant_id: tenantId, idempotency_key: key, request_hash: hash, action: 'payment.send', agent_id: 'bench', params, context: {},
      reasons, required_approvals: 1, timeout_seconds: Math.max(1, Math.round((o.expiresAt.getTime() - now.getTime()) / 1000)), on_timeout: 'reject',
      expires_at: o.expiresAt, callback_url: null, routing: ROUTING, policy_version: 1, decision_id: decisionId, created_at: now,
    };
    const view = renderApproval({ ...approval, status: 'pending', decided_by: null, decision_reason: null, decision_channel: null, result: null, error: null, decided_at: null, claim_expires_at: null, completed_at: null }, []);
    const eventId = uuidv7(now.getTime());
    const parked = await insertParkedApproval(sql, {
      decision,
      approval,
      event: { id: eventId, type: 'requested', actor: 'bench', channel: 'api', data: { action: 'payment.send', reasons, routing: ROUTING, policy_version: 1 }, created_at: now },
      webhook: { type: 'approval.requested', payload: webhookBody({ id: eventId, type: 'approval.requested', created_at: now }, view) },
    });
    if (!parked) throw new Error(`key ${key} already taken`);
    ids[i] = approvalId;
    if (++done % 5000 === 0) o.onProgress?.(done);
  };
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (next < n) await one(next++);
    }),
  );
  return ids;
}

/** Bulk-seeds `n` decided approvals (and their decisions, events, deliveries) under a new tenant. */
export async function seedDecided(sql: Sql, n: number, batch = 100_000): Promise<{ tenantId: string }> {
  const [t] = await sql<{ id: string }[]>`INSERT INTO tenants (name, webhook_secret) VALUES ('seed', 'whsec_seed') RETURNING id`;
  const tenantId = t!.id;
  for (let from = 1; from <= n; from += batch) {
    const to = Math.min(n, from + batch - 1);
    // Deterministic ids from g keep the four inserts joined without a lookup.
    await sql.begin(async (tx) => {
      await tx`
        INSERT INTO decisions (id, tenant_id, kind, idempotency_key, request_hash, action, agent_id, decision, reasons, policy_version, approval_id, created_at, eval_ms)
        SELECT md5('d' || g)::uuid, ${tenantId}, 'guard', 'seed-' || g, md5('h' || g), 'payment.send', 'agent-' || (g % 50), 'require_approval',
               '[{"source":"rule","rule":"approve-payments","decision":"require_approval","message":"rule approve-payments matched"}]'::jsonb,
               1, md5('a' || g)::uuid, now() - interval '30 days' + g * interval '1 second', 0.05
        FROM generate_series(${from}::int, ${to}::int) g`;
      await tx`
        INSERT INTO approvals (id, tenant_id, idempotency_key, request_hash, action, agent_id, params, context, reasons, status,
          required_approvals, timeout_seconds, on_timeout, expires_at, callback_url, routing, policy_version, decision_id,
          decided_at, decided_by, decision_reason, decision_channel, created_at, updated_at)
        SELECT md5('a' || g)::uuid, ${tenantId}, 'seed-' || g, md5('h' || g), 'payment.send', 'agent-' || (g % 50),
               jsonb_build_object('amount', 1000 + g % 5000, 'to', 'acct-' || (g % 977), 'memo', 'invoice ' || g), '{}'::jsonb,
               '[{"source":"rule","rule":"approve-payments","decision":"require_approval","message":"rule approve-payments matched"}]'::jsonb,
               (ARRAY['approved','rejected','expired','completed'])[1 + g % 4], 1, 3600, 'reject',
               now() - interval '30 days' + g * interval '1 second' + interval '1 hour', NULL,
               ${JSON.stringify(ROUTING)}::jsonb, 1, md5('d' || g)::uuid,
               now() - interval '30 days' + g * interval '1 second' + interval '5 minutes', 'seed-approver', NULL, 'api',
               now() - interval '30 days' + g * interval '1 second', now() - interval '30 days' + g * interval '1 second' + interval '5 minutes'
        FROM generate_series(${from}::int, ${to}::int) g`;
      await tx`
        INSERT INTO approval_votes (approval_id, approver, vote, reason, channel, created_at)
        SELECT md5('a' || g)::uuid, 'seed-approver', CASE WHEN g % 4 = 1 THEN 'reject' ELSE 'approve' END, NULL, 'api',
               now() - interval '30 days' + g * interval '1 second' + interval '5 minutes'
        FROM generate_series(${from}::int, ${to}::int) g WHERE g % 4 <> 2`;
      await tx`
        INSERT INTO approval_events (id, tenant_id, approval_id, type, actor, channel, data, created_at, seq, prev_hash, hash)
        SELECT md5('e' || g || '-' || k)::uuid, ${tenantId}, md5('a' || g)::uuid,
               CASE WHEN k = 1 THEN 'requested' ELSE 'approved' END, CASE WHEN k = 1 THEN 'agent' ELSE 'seed-approver' END, 'api',
               CASE WHEN k = 1 THEN '{"action":"payment.send","policy_version":1}'::jsonb ELSE '{"reason":null}'::jsonb END,
               now() - interval '30 days' + g * interval '1 second' + (k - 1) * interval '5 minutes',
               2 * g + k - 2, sha256(((2 * g + k - 3)::text)::bytea), sha256(((2 * g + k - 2)::text)::bytea)
        FROM generate_series(${from}::int, ${to}::int) g, generate_series(1, 2) k`;
      await tx`
        INSERT INTO webhook_deliveries (id, tenant_id, event_id, endpoint_id, target, url, payload, status, attempts, last_status_code,
          next_attempt_at, delivered_at, created_at, updated_at)
        SELECT md5('w' || g)::uuid, ${tenantId}, md5('e' || g || '-2')::uuid, NULL, 'callback', 'https://hooks.example.com/holdpoint',
               '{"type":"approval.approved","id":"' || md5('e' || g || '-2')::uuid || '","created_at":"2025-01-01T00:00:00.000Z","data":{"id":"' || md5('a' || g)::uuid ||
               '","idempotency_key":"seed-' || g || '","action":"payment.send","agent_id":"agent-' || (g % 50) || '","params":{"amount":' || (1000 + g % 5000) ||
               ',"to":"acct-' || (g % 977) || '"},"context":{},"status":"approved","reasons":[{"source":"rule","rule":"approve-payments","decision":"require_approval"}],' ||
               '"required_approvals":1,"votes":[{"approver":"seed-approver","vote":"approve","reason":null,"channel":"api","created_at":"2025-01-01T00:05:00.000Z"}],' ||
               '"created_at":"2025-01-01T00:00:00.000Z","expires_at":"2025-01-01T01:00:00.000Z","decided_at":"2025-01-01T00:05:00.000Z","decided_by":"seed-approver"}}',
               'delivered', 1, 200, now(), now(), now(), now()
        FROM generate_series(${from}::int, ${to}::int) g`;
    });
  }
  await sql`UPDATE tenants SET chain_seq = ${2 * n}, chain_head = sha256(${String(2 * n)}::bytea) WHERE id = ${tenantId}`;
  return { tenantId };
}
