// Round trips per request, counted on the wire: Holdpoint reaches Postgres
// and Redis through counting proxies (bench/lib/proxy.ts). Requests are sent
// one at a time, so turns are not merged across requests.
//   api only  (`holdpoint start --api`): exactly what the request path costs.
//   with workers (`holdpoint start`): adds what the workers do per approval
//             (webhook delivery, chain linking), less the idle polling rate.
import { sizes } from '../lib/config.ts';
import { checkBody, guardBody } from '../lib/holdpoint.ts';
import { must } from '../lib/http.ts';
import { perUnit, startCountingProxy, type Counts, type CountingProxy } from '../lib/proxy.ts';
import { startReceiver } from '../lib/receiver.ts';
import type { Row, ScenarioResult } from '../lib/report.ts';
import { withHoldpoint, type HoldpointSide } from '../lib/sides.ts';
import { sleep } from '../lib/stats.ts';
import { ADMIN_DB, QUICK, SHARED_REDIS } from '../lib/config.ts';
import { randomUUID } from 'node:crypto';

function through(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

interface Snap {
  pg: Counts;
  redis: Counts;
}

const snap = (pg: CountingProxy, redis: CountingProxy): Snap => ({ pg: pg.snapshot(), redis: redis.snapshot() });
const per = (a: Snap, b: Snap, n: number) => ({ postgres: perUnit(a.pg, b.pg, n), redis: perUnit(a.redis, b.redis, n) });

async function guards(s: HoldpointSide, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const g = await must('POST', `${s.hp.base}/v1/guard`, { key: s.tenant.keys.agent, body: { ...guardBody(), idempotency_key: `rt-${randomUUID()}` } });
    ids.push(g.approval.id);
  }
  return ids;
}

export async function roundtripsScenario(): Promise<ScenarioResult> {
  const n = sizes.countRequests;
  const pgTarget = new URL(ADMIN_DB);
  const redisTarget = new URL(SHARED_REDIS);
  const pg = await startCountingProxy('postgres', { host: pgTarget.hostname, port: Number(pgTarget.port || 5432) });
  const redis = await startCountingProxy('redis', { host: redisTarget.hostname, port: Number(redisTarget.port || 6379) });
  const hooks = await startReceiver();
  const redisUrl = through(SHARED_REDIS, redis.port);
  const webhook = { url: hooks.url, event_types: ['approval.requested', 'approval.approved'] };
  try {
    const api = await withHoldpoint('roundtrips_api', { args: ['start', '--api'], redisUrl, dbUrlFor: (u) => through(u, pg.port), webhook }, async (s) => {
      // Warm: pools open, statements prepared, policy cached.
      await guards(s, 20);
      for (let i = 0; i < 20; i++) await must('POST', `${s.hp.base}/v1/check`, { key: s.tenant.keys.agent, body: checkBody() });
      await sleep(200);
      const a = snap(pg, redis);
      const ids = await guards(s, n);
      const b = snap(pg, redis);
      for (let i = 0; i < n; i++) await must('POST', `${s.hp.base}/v1/check`, { key: s.tenant.keys.agent, body: checkBody() });
      const c = snap(pg, redis);
      for (const id of ids) await must('POST', `${s.hp.base}/v1/approvals/${id}/decision`, { key: s.tenant.keys.approver, body: { decision: 'approve' } });
      const d = snap(pg, redis);
      for (let i = 0; i < n; i++) await must('GET', `${s.hp.base}/healthz`);
      const e = snap(pg, redis);
      const more = await guards(s, n);
      const f = snap(pg, redis);
      for (const id of more) await must('POST', `${s.hp.base}/v1/approvals/${id}/decision`, { key: s.tenant.keys.approver, body: { decision: 'reject' } });
      const g = snap(pg, redis);
      return { guard: per(a, b, n), check: per(b, c, n), decision: per(c, d, n), healthz: per(d, e, n), reject: per(f, g, n) };
    });

    const full = await withHoldpoint('roundtrips_full', { redisUrl, dbUrlFor: (u) => through(u, pg.port), webhook }, async (s) => {
      await guards(s, 20);
      await sleep(QUICK ? 1000 : 3000);
      // Idle rate: what the workers poll with nothing to do.
      const i0 = snap(pg, redis);
      const t0 = performance.now();
      await sleep(QUICK ? 1500 : 5000);
      const i1 = snap(pg, redis);
      const idleMs = performance.now() - t0;
      const a = snap(pg, redis);
      const t1 = performance.now();
      const ids = await guards(s, n);
      await sleep(QUICK ? 1000 : 2000);
      const b = snap(pg, redis);
      const ms1 = performance.now() - t1;
      const t2 = performance.now();
      for (const id of ids) await must('POST', `${s.hp.base}/v1/approvals/${id}/decision`, { key: s.tenant.keys.approver, body: { decision: 'approve' } });
      await sleep(QUICK ? 1000 : 2000);
      const c = snap(pg, redis);
      const ms2 = performance.now() - t2;
      const less = (x: Snap, y: Snap, ms: number) => {
        const k = ms / idleMs;
        const sub = (p: Counts, q: Counts, i: Counts, j: Counts): Counts => ({
          ...q,
          turns: q.turns - (j.turns - i.turns) * k,
          statements: q.statements - (j.statements - i.statements) * k,
          byName: Object.fromEntries(Object.entries(q.byName).map(([nm, v]) => [nm, v - ((j.byName[nm] ?? 0) - (i.byName[nm] ?? 0)) * k])),
        });
        return per(x, { pg: sub(x.pg, y.pg, i0.pg, i1.pg), redis: sub(x.redis, y.redis, i0.redis, i1.redis) }, n);
      };
      return {
        idle_per_second: per(i0, i1, idleMs / 1000),
        guard_with_workers: less(a, b, ms1),
        decision_with_workers: less(b, c, ms2),
      };
    });

    const fmt = (p: { postgres: { turns: number; statements: number }; redis: { turns: number; statements: number } }) =>
      `pg ${p.postgres.turns} trips / ${p.postgres.statements} stmts; redis ${p.redis.turns} / ${p.redis.statements} cmds`;
    const rows: Row[] = [
      { scenario: 'round trips', metric: 'POST /v1/guard (new approval), API', holdpoint: fmt(api.guard) },
      { scenario: 'round trips', metric: 'POST /v1/check (allow), API', holdpoint: fmt(api.check) },
      { scenario: 'round trips', metric: 'POST …/decision (approve), API', holdpoint: fmt(api.decision) },
      { scenario: 'round trips', metric: 'POST …/decision (reject), API', holdpoint: fmt(api.reject) },
      { scenario: 'round trips', metric: 'guard incl. workers (≈, idle polling removed)', holdpoint: fmt(full.guard_with_workers) },
      { scenario: 'round trips', metric: 'decision incl. workers (≈)', holdpoint: fmt(full.decision_with_workers) },
    ];
    return { rows, data: { requests: n, api, with_workers: full } };
  } finally {
    await hooks.close();
    await pg.close();
    await redis.close();
  }
}
