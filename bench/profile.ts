// npm run bench:profile [-- creation|allow ...] — CPU profiles of the real
// `holdpoint start` and of the floor server under scenario 1 (new approvals)
// and scenario 2 (allow path), each with `node --cpu-prof`, the load from a
// separate process. Only samples inside the measured load window count (the
// profile's clock is CLOCK_MONOTONIC, like process.hrtime here). Prints, per
// side, CPU time per request and self time by package / function / file, plus
// inclusive time of Holdpoint's own functions, then Holdpoint − floor per
// request by package. Writes bench/results/profile-<scenario>.json (untracked).
//   npm run bench:profile -- --analyze some.cpuprofile   analyse an existing profile
//   BENCH_PROFILE_ENV='{"HOLDPOINT_DB_POOL":"20"}'        profile another configuration
import { runEntry } from './lib/entry.ts';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { analyzeProfile, formatSummary, type ProfileSummary } from './lib/cpuprofile.ts';
import { RESULTS_DIR, SCRATCH_DIR, sizes } from './lib/config.ts';
import { checkBody, guardBody } from './lib/holdpoint.ts';
import { runLoad, type LoadResult } from './lib/load.ts';
import { startReceiver } from './lib/receiver.ts';
import { withFloor, withHoldpoint } from './lib/sides.ts';
import { monoMicros, round } from './lib/stats.ts';

const KINDS = {
  creation: { path: '/v1/guard', floorPath: '/create', body: guardBody(), webhook: ['approval.requested'] },
  allow: { path: '/v1/check', floorPath: '/check', body: checkBody(), webhook: null },
} as const;

interface Profiled {
  load: LoadResult;
  profile: string;
  summary: ProfileSummary;
  cpu_us_per_request: number;
}

async function window(target: { url: string; body: unknown; headers: Record<string, string> }) {
  const t = { ...target, connections: sizes.concurrency };
  await runLoad({ ...t, duration: Math.max(2, sizes.warmupS) });
  const startUs = monoMicros();
  const load = await runLoad({ ...t, duration: sizes.durationS });
  return { load, window: { startUs, endUs: monoMicros() } };
}

function read(dir: string, run: { load: LoadResult; window: { startUs: number; endUs: number } }): Profiled {
  // One file per thread (tsx's loader hooks run on their own); the main thread is tid 0.
  const file = readdirSync(dir).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
  const summary = analyzeProfile(`${dir}${file}`, run.window, 40);
  const busyMs = (summary.sampled_ms * summary.busy_pct) / 100;
  return { load: run.load, profile: `${dir}${file}`, summary, cpu_us_per_request: round((busyMs * 1000) / (run.load.requests_ok || 1), 0) };
}

async function profileKind(kind: keyof typeof KINDS, env: Record<string, string>) {
  const k = KINDS[kind];
  const hooks = await startReceiver();
  try {
    const fdir = `${SCRATCH_DIR}profiles/${kind}-floor-${Date.now()}/`;
    mkdirSync(fdir, { recursive: true });
    const frun = await withFloor(`prof_${kind}`, { cpuProfDir: fdir, ...(k.webhook ? { hookUrl: hooks.url } : {}) }, (f) => window({ url: `${f.base}${k.floorPath}`, body: k.body, headers: {} }));
    const floor = read(fdir, frun);

    const hdir = `${SCRATCH_DIR}profiles/${kind}-holdpoint-${Date.now()}/`;
    mkdirSync(hdir, { recursive: true });
    const hrun = await withHoldpoint(`prof_${kind}`, { cpuProfDir: hdir, env, ...(k.webhook ? { webhook: { url: hooks.url, event_types: [...k.webhook] } } : {}) }, (s) =>
      window({ url: `${s.hp.base}${k.path}`, body: k.body, headers: { authorization: `Bearer ${s.tenant.keys.agent}` } }),
    );
    const holdpoint = read(hdir, hrun);

    // Per request, by package: where Holdpoint's extra CPU goes.
    const per = (p: Profiled) => new Map(p.summary.by_category.map((e) => [e.name, (e.ms * 1000) / (p.load.requests_ok || 1)]));
    const fp = per(floor);
    const hpm = per(holdpoint);
    const diff = [...new Set([...fp.keys(), ...hpm.keys()])]
      .map((name) => ({ name, holdpoint_us: round(hpm.get(name) ?? 0, 0), floor_us: round(fp.get(name) ?? 0, 0), extra_us: round((hpm.get(name) ?? 0) - (fp.get(name) ?? 0), 0) }))
      .sort((a, b) => b.extra_us - a.extra_us);

    for (const [side, p] of [['floor', floor], ['holdpoint', holdpoint]] as const) {
      console.log(`\n■ ${kind} / ${side}: ${p.load.per_second} req/s, p50 ${p.load.p50_ms} ms, p99 ${p.load.p99_ms} ms at ${sizes.concurrency} conns; ${p.cpu_us_per_request} µs CPU per request in this process`);
      console.log(formatSummary(p.summary, side === 'floor' ? 12 : 25));
    }
    console.log(`\n■ ${kind}: CPU per request, Holdpoint ${holdpoint.cpu_us_per_request} µs vs floor ${floor.cpu_us_per_request} µs; the difference by package (µs/request):`);
    for (const d of diff.slice(0, 25)) console.log(`    ${String(d.extra_us).padStart(6)}  (${String(d.holdpoint_us).padStart(5)} vs ${String(d.floor_us).padStart(5)})  ${d.name}`);
    return { floor, holdpoint, per_request_by_package: diff };
  } finally {
    await hooks.close();
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2).filter((a) => a !== '--');
  if (args[0] === '--analyze') {
    console.log(formatSummary(analyzeProfile(args[1]!), 30));
    return 0;
  }
  const kinds = (args.length ? args : Object.keys(KINDS)) as (keyof typeof KINDS)[];
  const env = process.env.BENCH_PROFILE_ENV ? (JSON.parse(process.env.BENCH_PROFILE_ENV) as Record<string, string>) : {};
  for (const kind of kinds) {
    if (!(kind in KINDS)) throw new Error(`unknown: ${kind} (choose ${Object.keys(KINDS).join(', ')})`);
    const r = await profileKind(kind, env);
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(`${RESULTS_DIR}profile-${kind}.json`, `${JSON.stringify({ at: new Date().toISOString(), sizes, env, ...r }, null, 2)}\n`);
  }
  return 0;
}

runEntry(main);
