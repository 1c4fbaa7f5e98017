// 1. Approval creation. Floor: a bare Hono server doing what one approval
// needs with the raw drivers (one transaction: approval + event rows; then the
// expiry job delayed to the deadline and the webhook delivery job; a BullMQ
// worker POSTs the webhook). Holdpoint: POST /v1/guard, a new idempotency key
// per request, a 50-rule policy that parks it, a tenant webhook endpoint for
// approval.requested — so both sides write, enqueue and deliver the same
// things. Same concurrency, same pool size, alternating bursts.
import os from 'node:os';
import { compare } from '../lib/compare.ts';
import { sizes } from '../lib/config.ts';
import { guardBody } from '../lib/holdpoint.ts';
import { memoryOf, sampleRss } from '../lib/processes.ts';
import { startReceiver } from '../lib/receiver.ts';
import type { Row, ScenarioResult } from '../lib/report.ts';
import { withFloor, withHoldpoint } from '../lib/sides.ts';
import { ratio, round, sleep } from '../lib/stats.ts';
import type { Side } from '../lib/compare.ts';

/** CPU per request, app process + its Postgres backends; ratio = floor / Holdpoint (higher is better, like throughput). */
export function cpuRow(scenario: string, r: { floor: Side; holdpoint: Side }): Row {
  const f = (r.floor.app_cpu_us_per_request ?? NaN) + (r.floor.pg_cpu_us_per_request ?? 0);
  const h = (r.holdpoint.app_cpu_us_per_request ?? NaN) + (r.holdpoint.pg_cpu_us_per_request ?? 0);
  return {
    scenario,
    metric: 'CPU µs/request, app + postgres (ratio floor/HP)',
    floor: `${r.floor.app_cpu_us_per_request} + ${r.floor.pg_cpu_us_per_request}`,
    holdpoint: `${r.holdpoint.app_cpu_us_per_request} + ${r.holdpoint.pg_cpu_us_per_request}`,
    ratio: ratio(f, h),
  };
}

const TARGET = 0.5;

export async function creationScenario(): Promise<ScenarioResult> {
  const floorHooks = await startReceiver();
  const hpHooks = await startReceiver();
  const load0 = os.loadavg()[0]!;
  try {
    const r = await withFloor('creation', { hookUrl: floorHooks.url }, (f, fdb) =>
      withHoldpoint('creation', { webhook: { url: hpHooks.url, event_types: ['approval.requested'] } }, async (s) => {
        const idle = memoryOf(s.hp.pid);
        const rss = sampleRss(s.hp.pid);
        const sides = await compare(
          { url: `${f.base}/create`, body: guardBody(), pid: f.pid, db: fdb.name },
          { url: `${s.hp.base}/v1/guard`, body: guardBody(), headers: { authorization: `Bearer ${s.tenant.keys.agent}` }, pid: s.hp.pid, db: s.db.name },
        );
        const peak = rss.stop();
        await sleep(2000);
        return {
          ...sides,
          webhooks: { floor: floorHooks.count('approval.requested'), holdpoint: hpHooks.count('approval.requested') },
          memory: { idle, ...peak, after: memoryOf(s.hp.pid) },
        };
      }),
    );
    const c = sizes.concurrency;
    const rt = ratio(r.holdpoint.per_second, r.floor.per_second);
    const rows: Row[] = [
      { scenario: '1 creation', metric: `req/s at ${c} conns`, floor: r.floor.per_second, holdpoint: r.holdpoint.per_second, ratio: rt, target: `ratio ≥ ${TARGET}`, met: rt === null ? null : rt >= TARGET },
      { scenario: '1 creation', metric: 'p50 / p99 ms', floor: `${r.floor.p50_ms} / ${r.floor.p99_ms}`, holdpoint: `${r.holdpoint.p50_ms} / ${r.holdpoint.p99_ms}` },
      cpuRow('1 creation', r),
    ];
    return { rows, data: { concurrency: c, pool: sizes.dbPool, ...r, ratio_throughput: rt, target_ratio: TARGET, loadavg: [round(load0), round(os.loadavg()[0]!)] } };
  } finally {
    await floorHooks.close();
    await hpHooks.close();
  }
}
