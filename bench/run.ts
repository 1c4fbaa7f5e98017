// npm run bench [-- scenario ...] — Holdpoint beside the raw floor of its own
// parts, in one run. Starts the real `holdpoint start` on fresh databases with
// private Redis prefixes, drives it from a separate load-generator process,
// runs each scenario's floor and Holdpoint back to back at the same
// concurrency, prints a table and writes bench/results/latest.json. Numbers
// are printed, never asserted. See bench/lib/config.ts for the knobs
// (BENCH_QUICK=1 for a small smoke run).
import { mkdirSync, writeFileSync } from 'node:fs';
import { QUICK, RESULTS_DIR, sizes } from './lib/config.ts';
import { runEntry } from './lib/entry.ts';
import { formatTable, markdownTable, type Row, type Scenario } from './lib/report.ts';
import { round } from './lib/stats.ts';
import { allowScenario } from './scenarios/allow.ts';
import { creationScenario } from './scenarios/creation.ts';
import { floorScenario, machineInfo } from './scenarios/floor.ts';
import { outcomeScenario } from './scenarios/outcome.ts';
import { timeoutsScenario } from './scenarios/timeouts.ts';
import { growthScenario } from './scenarios/growth.ts';
import { recoveryScenario } from './scenarios/recovery.ts';
import { memoryScenario } from './scenarios/memory.ts';
import { roundtripsScenario } from './scenarios/roundtrips.ts';

const SCENARIOS: Record<string, Scenario> = {
  floor: floorScenario,
  creation: creationScenario,
  allow: allowScenario,
  outcome: outcomeScenario,
  timeouts: timeoutsScenario,
  growth: growthScenario,
  recovery: recoveryScenario,
  memory: memoryScenario,
  roundtrips: roundtripsScenario,
};

async function main(): Promise<number> {
  const asked = process.argv.slice(2).filter((a) => a !== '--');
  const unknown = asked.filter((a) => !(a in SCENARIOS));
  if (unknown.length) {
    console.error(`unknown scenario ${unknown.join(', ')}; choose from: ${Object.keys(SCENARIOS).join(', ')}`);
    return 2;
  }
  const names = asked.length ? asked : Object.keys(SCENARIOS);
  const started = Date.now();
  const machine = await machineInfo();
  console.log(`Holdpoint bench${QUICK ? ' (BENCH_QUICK)' : ''} — ${machine.cpus} × ${machine.cpu_model}, ${machine.memory_gib} GiB, node ${machine.node}, postgres ${machine.postgres}, redis ${machine.redis}`);
  console.log(`scenarios: ${names.join(', ')}; sizes: ${JSON.stringify(sizes)}\n`);

  const rows: Row[] = [];
  const scenarios: Record<string, unknown> = {};
  for (const name of names) {
    const t0 = Date.now();
    console.log(`▶ ${name}`);
    try {
      const r = await SCENARIOS[name]!();
      rows.push(...r.rows);
      scenarios[name] = { ...r.data, rows: r.rows, seconds: round((Date.now() - t0) / 1000, 1) };
      console.log(formatTable(r.rows).replace(/^/gm, '  '));
    } catch (err) {
      console.error(`  ✗ ${name} failed: ${(err as Error).stack ?? err}`);
      scenarios[name] = { error: String((err as Error).message ?? err) };
      rows.push({ scenario: name, metric: 'FAILED (see log)', holdpoint: null });
    }
    console.log(`  (${round((Date.now() - t0) / 1000, 1)} s)\n`);
  }

  console.log(formatTable(rows));
  const results = {
    at: new Date().toISOString(),
    quick: QUICK,
    seconds: round((Date.now() - started) / 1000, 1),
    machine,
    sizes,
    floor: scenarios.floor ?? null,
    scenarios,
    table: rows,
    markdown: markdownTable(rows),
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  // The full-size full suite is the tracked record; a subset or a quick run goes to an untracked file beside it.
  const file = asked.length ? `${RESULTS_DIR}latest-${names.join('-')}${QUICK ? '-quick' : ''}.json` : `${RESULTS_DIR}latest${QUICK ? '-quick' : ''}.json`;
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
  return rows.some((r) => r.metric.startsWith('FAILED')) ? 1 : 0;
}

runEntry(main);
