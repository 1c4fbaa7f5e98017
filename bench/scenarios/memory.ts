// 7. Memory: RSS of `holdpoint start` idle (after boot and tenant setup) and
// under scenario 1's load (VmRSS sampled every 200 ms, and VmHWM), with the
// floor server measured the same way for scale.
import { measureOne } from '../lib/compare.ts';
import { QUICK } from '../lib/config.ts';
import { guardBody } from '../lib/holdpoint.ts';
import { memoryOf, sampleRss } from '../lib/processes.ts';
import { startReceiver } from '../lib/receiver.ts';
import type { Row, ScenarioResult } from '../lib/report.ts';
import { withFloor, withHoldpoint } from '../lib/sides.ts';
import { sleep } from '../lib/stats.ts';

async function measure(pid: number, url: string, body: unknown, headers: Record<string, string>) {
  await sleep(QUICK ? 1000 : 5000);
  const idle = memoryOf(pid);
  const s = sampleRss(pid);
  const load = await measureOne({ url, body, headers });
  const peak = s.stop();
  const after = memoryOf(pid);
  return { idle_rss_mib: idle?.rss_mib ?? null, load_peak_rss_mib: peak.peak_rss_mib, vm_hwm_mib: after?.hwm_mib ?? null, after_rss_mib: after?.rss_mib ?? null, load_per_second: load.per_second };
}

export async function memoryScenario(): Promise<ScenarioResult> {
  const hooks = await startReceiver();
  try {
    const floor = await withFloor('memory', { hookUrl: hooks.url }, (f) => measure(f.pid, `${f.base}/create`, guardBody(), {}));
    const hp = await withHoldpoint('memory', { webhook: { url: hooks.url, event_types: ['approval.requested'] } }, (s) =>
      measure(s.hp.pid, `${s.hp.base}/v1/guard`, guardBody(), { authorization: `Bearer ${s.tenant.keys.agent}` }),
    );
    const rows: Row[] = [
      { scenario: '7 memory', metric: 'RSS idle MiB', floor: floor.idle_rss_mib, holdpoint: hp.idle_rss_mib },
      { scenario: '7 memory', metric: 'RSS peak under creation load MiB (VmHWM)', floor: `${floor.load_peak_rss_mib} (${floor.vm_hwm_mib})`, holdpoint: `${hp.load_peak_rss_mib} (${hp.vm_hwm_mib})` },
    ];
    return { rows, data: { floor, holdpoint: hp } };
  } finally {
    await hooks.close();
  }
}
