// npm run bench:ab -- [creation|allow|outcome ...] — two Holdpoints side by side,
// A and B, driven in alternating bursts (A, B, B, A, …) like every floor
// comparison, so a change is measured against its baseline in one run.
//   BENCH_AB_A=/path/to/baseline/checkout/   (default: this checkout)
//   BENCH_AB_B=/path/to/changed/checkout/    (default: this checkout)
//   BENCH_AB_ENV_A='{"HOLDPOINT_DB_POOL":"10"}'  BENCH_AB_ENV_B='{"HOLDPOINT_DB_POOL":"20"}'
// Prints req/s, p50/p99 and B/A; writes bench/results/ab.json (not tracked).
import { runEntry } from './lib/entry.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { compare } from './lib/compare.ts';
import { RESULTS_DIR, ROOT, sizes } from './lib/config.ts';
import { checkBody, guardBody } from './lib/holdpoint.ts';
import { startReceiver } from './lib/receiver.ts';
import { withHoldpoint } from './lib/sides.ts';
import { ratio, sleep } from './lib/stats.ts';
import { holdpointSampler, summarizeSamples, type Sample } from './scenarios/outcome.ts';

const KINDS = {
  creation: { path: '/v1/guard', body: guardBody(), webhook: ['approval.requested'] },
  allow: { path: '/v1/check', body: checkBody(), webhook: null },
} as const;

/** Decision → webhook / long-poll, sequential samples alternating A and B. */
async function outcomeAB(a: { root: string; env: Record<string, string> }, b: { root: string; env: Record<string, string> }) {
  const ha = await startReceiver();
  const hb = await startReceiver();
  const webhook = (url: string) => ({ url, event_types: ['approval.approved'] });
  try {
    const r = await withHoldpoint('ab_outcome_a', { root: a.root, env: a.env, webhook: webhook(ha.url) }, (sa) =>
      withHoldpoint('ab_outcome_b', { root: b.root, env: b.env, webhook: webhook(hb.url) }, async (sb) => {
        const fa = holdpointSampler(sa, ha);
        const fb = holdpointSampler(sb, hb);
        for (let i = 0; i < 20; i++) {
          await fa();
          await fb();
        }
        const xa: Sample[] = [];
        const xb: Sample[] = [];
        for (let i = 0; i < sizes.roundTrips; i++) {
          if (i % 2 === 0) {
            xa.push(await fa());
            xb.push(await fb());
          } else {
            xb.push(await fb());
            xa.push(await fa());
          }
          await sleep(10);
        }
        return { a: summarizeSamples(xa), b: summarizeSamples(xb) };
      }),
    );
    for (const [side, s] of [['A', r.a], ['B', r.b]] as const) {
      console.log(
        `outcome ${side}: webhook p50 ${s.webhook.p50_ms} / p99 ${s.webhook.p99_ms} ms; long-poll p50 ${s.long_poll.p50_ms} / p99 ${s.long_poll.p99_ms} ms; decision p50 ${s.decision_response.p50_ms} ms`,
      );
    }
    return r;
  } finally {
    await ha.close();
    await hb.close();
  }
}

const dir = (d: string | undefined) => (d ? (d.endsWith('/') ? d : `${d}/`) : ROOT);
const json = (s: string | undefined) => (s ? (JSON.parse(s) as Record<string, string>) : {});

async function main(): Promise<number> {
  const args = process.argv.slice(2).filter((a) => a !== '--');
  const kinds = (args.length ? args : Object.keys(KINDS)) as (keyof typeof KINDS)[];
  const a = { root: dir(process.env.BENCH_AB_A), env: json(process.env.BENCH_AB_ENV_A) };
  const b = { root: dir(process.env.BENCH_AB_B), env: json(process.env.BENCH_AB_ENV_B) };
  console.log(`A: ${a.root} ${JSON.stringify(a.env)}\nB: ${b.root} ${JSON.stringify(b.env)}`);
  const out: Record<string, unknown> = {};
  if ((kinds as string[]).includes('outcome')) out.outcome = await outcomeAB(a, b);
  for (const kind of kinds.filter((k) => (k as string) !== 'outcome')) {
    const k = KINDS[kind];
    if (!k) throw new Error(`unknown: ${kind}`);
    const hooks = await startReceiver();
    try {
      const webhook = k.webhook ? { webhook: { url: hooks.url, event_types: [...k.webhook] } } : {};
      const r = await withHoldpoint(`ab_${kind}_a`, { root: a.root, env: a.env, ...webhook }, (sa) =>
        withHoldpoint(`ab_${kind}_b`, { root: b.root, env: b.env, ...webhook }, (sb) =>
          compare(
            { url: `${sa.hp.base}${k.path}`, body: k.body, headers: { authorization: `Bearer ${sa.tenant.keys.agent}` }, pid: sa.hp.pid, db: sa.db.name },
            { url: `${sb.hp.base}${k.path}`, body: k.body, headers: { authorization: `Bearer ${sb.tenant.keys.agent}` }, pid: sb.hp.pid, db: sb.db.name },
          ),
        ),
      );
      const rt = ratio(r.holdpoint.per_second, r.floor.per_second);
      console.log(
        `${kind}: A ${r.floor.per_second} req/s (p50 ${r.floor.p50_ms} / p99 ${r.floor.p99_ms} ms, CPU ${r.floor.app_cpu_us_per_request} + pg ${r.floor.pg_cpu_us_per_request} µs/req)  ` +
          `B ${r.holdpoint.per_second} req/s (p50 ${r.holdpoint.p50_ms} / p99 ${r.holdpoint.p99_ms} ms, CPU ${r.holdpoint.app_cpu_us_per_request} + pg ${r.holdpoint.pg_cpu_us_per_request} µs/req)  B/A ${rt}`,
      );
      out[kind] = { a: r.floor, b: r.holdpoint, b_over_a: rt };
    } finally {
      await hooks.close();
    }
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}ab.json`, `${JSON.stringify({ at: new Date().toISOString(), a, b, sizes, ...out }, null, 2)}\n`);
  return 0;
}

runEntry(main);
