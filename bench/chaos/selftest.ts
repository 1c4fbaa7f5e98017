// The checker checks itself: after the real check, it runs again on the same
// data with one planted violation per invariant, and each must be caught. A
// checker that passes everything would otherwise look exactly like a healthy
// Holdpoint.
import { randomUUID } from 'node:crypto';
import { checkInvariants, type CheckInput } from './check.ts';
import type { Tracked } from './driver.ts';

export interface SelfTestResult {
  planted: number;
  missed: string[];
}

export async function selfTestChecker(input: CheckInput): Promise<SelfTestResult> {
  const tracked: Tracked[] = input.tracked.map((t) => ({ ...t, obs: [...t.obs], claims: [...t.claims], clicks: [...t.clicks], notes: [...t.notes] }));
  const exchanges = [...input.exchanges];
  let deliveries = [...input.deliveries];
  const expect: { what: string; invariant: string; needle: string }[] = [];
  const base = tracked.find((t) => t.id) ?? tracked[0];
  if (!base) return { planted: 0, missed: ['no approvals to plant violations in'] };

  // lost: an acknowledged approval that Postgres does not hold
  const ghost = randomUUID();
  tracked.push({ ...base, n: -1, key: 'planted-ghost', id: ghost, obs: [], claims: [], clicks: [], notes: [], idempotencyMismatch: undefined });
  expect.push({ what: 'a lost approval', invariant: 'lost', needle: ghost });

  // changed: an answer that contradicts the final outcome
  const decided = tracked.find((t) => t.id && t.obs.some((o) => o.status === 'completed' || o.status === 'rejected' || o.status === 'cancelled'));
  if (decided) {
    const other = decided.obs.some((o) => o.status === 'rejected') ? 'approved' : 'rejected';
    decided.obs.push({ at: Date.now(), op: 'decide-planted', status: other, http: 200, decidedBy: 'planted' });
    expect.push({ what: 'a changed outcome', invariant: 'changed', needle: decided.id! });
  }

  // claims: a second 200 claim while the first lease was live
  const claimed = tracked.find((t) => t.id && t.claims.length > 0);
  if (claimed) {
    const c = claimed.claims[0]!;
    claimed.claims.push({ ...c, token: randomUUID(), t0: c.t0 + 10, t1: c.t1 + 10 });
    expect.push({ what: 'a double-granted claim', invariant: 'claims', needle: claimed.id! });
  }

  // 5xx: a 500, and a 503 far from any dependency window
  const t = input.windows.length ? Math.min(...input.windows.map((w) => w.start)) - 60_000 : Date.now() - 3_600_000;
  exchanges.push({ seq: -1, api: 'api0', method: 'POST', path: '/v1/planted-500', op: 'planted', t0: t, t1: t + 5, outcome: { kind: 'http', status: 500, code: 'internal_error', body: null } });
  exchanges.push({ seq: -2, api: 'api0', method: 'POST', path: '/v1/planted-503', op: 'planted', t0: t, t1: t + 5, outcome: { kind: 'http', status: 503, code: 'dependency_unavailable', body: null } });
  expect.push({ what: 'a 500', invariant: '5xx', needle: '/v1/planted-500' });
  expect.push({ what: 'a 503 outside the windows', invariant: '5xx', needle: '/v1/planted-503' });

  // webhooks: an event that never arrived, and one event announced under two ids
  const victim = deliveries.find((d) => d.path === input.endpointPath);
  if (victim) {
    deliveries = deliveries.filter((d) => !(d.path === victim.path && d.webhookId === victim.webhookId));
    expect.push({ what: 'a missing delivery', invariant: 'webhooks', needle: `${victim.webhookId} (approval` });
    const twin = deliveries.find((d) => d.path === input.endpointPath);
    if (twin) {
      const id = randomUUID();
      deliveries.push({ ...twin, webhookId: id, bodyId: id });
      expect.push({ what: 'one event under two webhook-ids', invariant: 'webhooks', needle: id });
    }
  }

  // slack: a click answered 200 that left no trace
  const clicked = tracked.find((t) => t.id);
  if (clicked) {
    clicked.clicks.push({ user: 'UPLANTED01', kind: 'approve', api: 'api-planted', t0: Date.now(), t1: Date.now(), answer: 'ok' });
    expect.push({ what: 'a lost Slack click', invariant: 'slack', needle: 'UPLANTED01' });
  }

  const r = await checkInvariants({ ...input, tracked, exchanges, deliveries, unexpectedExits: [] });
  const missed = expect.filter((e) => !r.failures.some((f) => f.invariant === e.invariant && f.detail.includes(e.needle))).map((e) => e.what);
  return { planted: expect.length, missed };
}
