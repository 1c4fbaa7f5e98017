// 2. Allow path. Floor: a bare Hono route that inserts one decision row.
// Holdpoint: POST /v1/check against the 50-rule policy (nothing matches, the
// default allows; the decision row is written).
import os from 'node:os';
import { compare } from '../lib/compare.ts';
import { sizes } from '../lib/config.ts';
import { checkBody } from '../lib/holdpoint.ts';
import type { Row, ScenarioResult } from '../lib/report.ts';
import { withFloor, withHoldpoint } from '../lib/sides.ts';
import { ratio, round } from '../lib/stats.ts';
import { cpuRow } from './creation.ts';

const TARGET = 0.7;

export async function allowScenario(): Promise<ScenarioResult> {
  const load0 = os.loadavg()[0]!;
  const r = await withFloor('allow', {}, (f, fdb) =>
    withHoldpoint('allow', {}, (s) =>
      compare(
        { url: `${f.base}/check`, body: checkBody(), pid: f.pid, db: fdb.name },
        { url: `${s.hp.base}/v1/check`, body: checkBody(), headers: { authorization: `Bearer ${s.tenant.keys.agent}` }, pid: s.hp.pid, db: s.db.name },
      ),
    ),
  );
  const rt = ratio(r.holdpoint.per_second, r.floor.per_second);
  const c = sizes.concurrency;
  const rows: Row[] = [
    { scenario: '2 allow', metric: `req/s at ${c} conns`, floor: r.floor.per_second, holdpoint: r.holdpoint.per_second, ratio: rt, target: `ratio ≥ ${TARGET}`, met: rt === null ? null : rt >= TARGET },
    { scenario: '2 allow', metric: 'p50 / p99 ms', floor: `${r.floor.p50_ms} / ${r.floor.p99_ms}`, holdpoint: `${r.holdpoint.p50_ms} / ${r.holdpoint.p99_ms}` },
    cpuRow('2 allow', r),
  ];
  return { rows, data: { concurrency: c, pool: sizes.dbPool, ...r, ratio_throughput: rt, target_ratio: TARGET, loadavg: [round(load0), round(os.loadavg()[0]!)] } };
}
