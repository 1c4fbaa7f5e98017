// 3. Decision → outcome, sequential samples (queues idle: the latency a user
// feels). Each sample parks an approval, opens a long-poll on it, waits 20 ms
// for the poll to settle, then decides and times from just before the
// decision request to (a) the webhook arriving at a local receiver and (b) the
// long-poll returning. Floor: the same on bare parts — a transaction whose
// UPDATE fires the schema's NOTIFY to a LISTENing long-poll, and a BullMQ
// add → worker → HTTP POST. Floor and Holdpoint samples alternate.
import { randomUUID } from 'node:crypto';
import { sizes } from '../lib/config.ts';
import { must, request } from '../lib/http.ts';
import { startReceiver, type Receiver } from '../lib/receiver.ts';
import type { Row, ScenarioResult } from '../lib/report.ts';
import { withFloor, withHoldpoint, type HoldpointSide } from '../lib/sides.ts';
import { sleep, summarize } from '../lib/stats.ts';

export interface Sample {
  decision: number;
  longpoll: number;
  webhook: number;
}

async function sample(
  receiver: Receiver,
  create: (key: string) => Promise<string>,
  poll: (key: string, id: string) => Promise<unknown>,
  decide: (id: string) => Promise<unknown>,
): Promise<Sample> {
  const key = `rt-${randomUUID()}`;
  const id = await create(key);
  const polled = poll(key, id).then(() => performance.now());
  await sleep(20);
  const t0 = performance.now();
  await decide(id);
  const decided = performance.now();
  const p = await polled;
  const w = await receiver.waitFor(`approval.approved:${id}`, 10_000);
  return { decision: decided - t0, longpoll: p - t0, webhook: w === undefined ? NaN : w - t0 };
}

/** One Holdpoint sample: guard, long-poll by key, approve; webhook via the tenant endpoint to `hooks`. */
export function holdpointSampler(s: HoldpointSide, hooks: Receiver): () => Promise<Sample> {
  const { agent, approver } = s.tenant.keys;
  return () =>
    sample(
      hooks,
      async (key) => (await must('POST', `${s.hp.base}/v1/guard`, { key: agent, body: { action: 'payment.send', agent_id: 'bench', params: { amount: 1200 }, idempotency_key: key } })).approval.id,
      (key) => request('GET', `${s.hp.base}/v1/approvals/by-key/${key}?wait=30`, { key: agent }),
      (id) => must('POST', `${s.hp.base}/v1/approvals/${id}/decision`, { key: approver, body: { decision: 'approve' } }),
    );
}

export const summarizeSamples = (xs: Sample[]) => ({
  decision_response: summarize(xs.map((x) => x.decision)),
  long_poll: summarize(xs.map((x) => x.longpoll)),
  webhook: summarize(xs.map((x) => x.webhook)),
  webhooks_missing: xs.filter((x) => Number.isNaN(x.webhook)).length,
});

export async function outcomeScenario(): Promise<ScenarioResult> {
  const floorHooks = await startReceiver();
  const hpHooks = await startReceiver();
  try {
    const r = await withFloor('outcome', { hookUrl: floorHooks.url }, (f) =>
      withHoldpoint('outcome', { webhook: { url: hpHooks.url, event_types: ['approval.approved'] } }, async (s) => {
        const floorSample = () =>
          sample(
            floorHooks,
            async (key) => (await must('POST', `${f.base}/create`, { body: { idempotency_key: key, action: 'payment.send', agent_id: 'bench', params: { amount: 1200 } } })).approval.id,
            (_key, id) => must('GET', `${f.base}/wait/${id}?wait=30`),
            (id) => must('POST', `${f.base}/decide/${id}`, { body: { decision: 'approve' } }),
          );
        const hpSample = holdpointSampler(s, hpHooks);
        // Warm both paths (JIT, pools, prepared statements).
        for (let i = 0; i < Math.min(20, sizes.roundTrips); i++) {
          await floorSample();
          await hpSample();
        }
        const fl: Sample[] = [];
        const hp: Sample[] = [];
        for (let i = 0; i < sizes.roundTrips; i++) {
          if (i % 2 === 0) {
            fl.push(await floorSample());
            hp.push(await hpSample());
          } else {
            hp.push(await hpSample());
            fl.push(await floorSample());
          }
          await sleep(10);
        }
        return { floor: summarizeSamples(fl), holdpoint: summarizeSamples(hp) };
      }),
    );
    const w = r.holdpoint.webhook;
    const lp = r.holdpoint.long_poll;
    const rows: Row[] = [
      { scenario: '3 outcome', metric: `decision → webhook p50 ms (${sizes.roundTrips} seq.)`, floor: r.floor.webhook.p50_ms, holdpoint: w.p50_ms, target: '≤ 20', met: w.p50_ms <= 20 },
      { scenario: '3 outcome', metric: 'decision → webhook p99 ms', floor: r.floor.webhook.p99_ms, holdpoint: w.p99_ms, target: '≤ 100', met: w.p99_ms <= 100 },
      { scenario: '3 outcome', metric: 'decision → long-poll p50 ms', floor: r.floor.long_poll.p50_ms, holdpoint: lp.p50_ms, target: '≤ 10', met: lp.p50_ms <= 10 },
      { scenario: '3 outcome', metric: 'decision → long-poll p99 ms', floor: r.floor.long_poll.p99_ms, holdpoint: lp.p99_ms },
      { scenario: '3 outcome', metric: 'decision request itself p50 / p99 ms', floor: `${r.floor.decision_response.p50_ms} / ${r.floor.decision_response.p99_ms}`, holdpoint: `${r.holdpoint.decision_response.p50_ms} / ${r.holdpoint.decision_response.p99_ms}` },
    ];
    return { rows, data: { samples: sizes.roundTrips, ...r } };
  } finally {
    await floorHooks.close();
    await hpHooks.close();
  }
}
