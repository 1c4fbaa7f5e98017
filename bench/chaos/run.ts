// npm run chaos — kill and restart everything under load, then count what was lost.
//
// Starts its own Postgres cluster and redis-server (never the shared ones on
// 5432 / 6379), a fake Slack and a webhook receiver, two `holdpoint start
// --api` and two `holdpoint start --worker` processes of the real CLI; drives
// approvals through every channel while SIGKILLing Holdpoint processes,
// restarting Redis (and once FLUSHALL), restarting Postgres (cleanly and by
// SIGKILL); then lets it settle and checks every invariant (check.ts). Exits 1
// if any fails, printing the offending records.
//
//   npm run chaos -- --short          a few rounds, well under 2 minutes (CI)
//   npm run chaos                     the long run (about 12 minutes of faults)
//   CHAOS_SEED=123 CHAOS_ROUNDS=40 CHAOS_DURATION_S=300 CHAOS_LANES=6 npm run chaos
//   CHAOS_KEEP=1 keeps the temp dir (process logs, Postgres log) for a post-mortem.
//   CHAOS_STRICT=0 lets the two postgres.js 3.4.9 bugs (a crash in nextWrite, a
//     stale 57P01) pass as warnings — only for a driver without
//     patches/postgres+3.4.9.patch. By default (strict) a process that exits on
//     its own, for any reason, fails the run.
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSql, type Sql } from '../../src/db/client.ts';
import { startFakeSlack, type FakeSlack } from '../../test/helpers/fake-slack.ts';
import { ROOT, runCli } from '../../test/helpers/processes.ts';
import { checkInvariants, type CheckInput, type Failure } from './check.ts';
import { selfTestChecker } from './selftest.ts';
import { runDriver, type Tracked } from './driver.ts';
import { planFaults, runFaults, type FaultWindow } from './faults.ts';
import { createFleet, type Fleet } from './fleet.ts';
import { Journal, closeAgent, isStatus, request, type Api } from './journal.ts';
import { startChaosReceiver, type ChaosReceiver } from './receiver.ts';
import { createRng } from './rng.ts';
import { makeRunDir, removeRunDir, startPostgres, startRedisServer, type ChaosPostgres, type ChaosRedis } from './services.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const short = process.argv.includes('--short') || process.env.CHAOS_SHORT === '1';
const num = (name: string, def: number) => {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${v}"`);
  return n;
};
const CFG = {
  seed: num('CHAOS_SEED', Math.floor(Math.random() * 2 ** 31)),
  rounds: num('CHAOS_ROUNDS', short ? 6 : 70),
  durationMs: num('CHAOS_DURATION_S', short ? 40 : 720) * 1000,
  lanes: num('CHAOS_LANES', short ? 4 : 6),
  settleMs: num('CHAOS_SETTLE_S', short ? 90 : 150) * 1000,
  graceMs: num('CHAOS_GRACE_MS', 5_000),
  webhookFailShare: num('CHAOS_WEBHOOK_FAIL_SHARE', 0.03),
  keep: process.env.CHAOS_KEEP === '1',
  // Strict unless CHAOS_STRICT=0: with the driver patched, no process may exit on its own.
  strict: process.env.CHAOS_STRICT !== '0',
};
const SLACK_TOKEN = 'xoxb-chaos';
const SLACK_SECRET = 'chaos-signing-secret';
const ENDPOINT_PATH = '/endpoint';
const CALLBACK_PATH = '/callback';

const POLICY = {
  defaults: { decision: 'require_approval', timeout_seconds: 3600, on_timeout: 'reject', min_timeout_seconds: 1, slack_channel: '#approvals' },
  rules: [
    { name: 'reads', match: { action: 'read.*' }, decision: 'allow', reason: 'reads need nobody' },
    { name: 'wires', match: { action: 'wire.*' }, decision: 'require_approval', reason: 'wires need two people', approval: { required_approvals: 2, slack_channel: '#wires' } },
    { name: 'reports', match: { action: 'report.*' }, decision: 'require_approval', reason: 'silence is consent', approval: { on_timeout: 'approve' } },
    { name: 'payments', match: { action: 'payment.*' }, decision: 'require_approval', reason: 'payments need a human' },
  ],
};

const t0 = Date.now();
const log = (line: string) => process.stdout.write(`[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);

interface World {
  dir: string;
  pg?: ChaosPostgres;
  redis?: ChaosRedis;
  slack?: FakeSlack;
  receiver?: ChaosReceiver;
  fleet?: Fleet;
  sql?: Sql;
}
const world: World = { dir: makeRunDir() };
let cleaned = false;

async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  await world.fleet?.stopAll().catch(() => undefined);
  await world.sql?.end({ timeout: 2 }).catch(() => undefined);
  await world.redis?.destroy().catch(() => undefined);
  await world.pg?.destroy().catch(() => undefined);
  await world.receiver?.close().catch(() => undefined);
  await world.slack?.close().catch(() => undefined);
  closeAgent();
  if (CFG.keep) log(`kept ${world.dir}`);
  else removeRunDir(world.dir);
}

function cleanupSync(): void {
  if (cleaned) return;
  cleaned = true;
  world.fleet?.stopAllSync();
  world.redis?.destroySync();
  world.pg?.destroySync();
  if (!CFG.keep) {
    try {
      removeRunDir(world.dir);
    } catch {
      // best effort
    }
  }
}

process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function setup() {
  log(`seed ${CFG.seed} (replay with CHAOS_SEED=${CFG.seed}); ${short ? 'short' : 'long'} run: ${CFG.rounds} rounds over ${CFG.durationMs / 1000} s, ${CFG.lanes} lanes; temp dir ${world.dir}`);
  const rng = createRng(CFG.seed);
  world.pg = await startPostgres(world.dir);
  world.redis = await startRedisServer(world.dir);
  world.slack = await startFakeSlack({ token: SLACK_TOKEN });
  world.receiver = await startChaosReceiver(rng.fork('receiver'), CFG.webhookFailShare);
  log(`postgres on ${world.pg.port}, redis on ${world.redis.port}`);

  const env: Record<string, string> = {
    DATABASE_URL: world.pg.url,
    REDIS_URL: world.redis.url,
    HOST: '127.0.0.1',
    HOLDPOINT_QUEUE_PREFIX: '{chaos}',
    // One key for the whole fleet (and the CLI), as in production: a process
    // with another key would refuse to start.
    HOLDPOINT_SECRET_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'info',
    SLACK_BOT_TOKEN: SLACK_TOKEN,
    SLACK_SIGNING_SECRET: SLACK_SECRET,
    SLACK_API_URL: world.slack.url,
    HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: 'true',
    HOLDPOINT_WEBHOOK_RETRY_BASE_MS: '100',
    HOLDPOINT_WEBHOOK_TIMEOUT_MS: '5000',
    HOLDPOINT_RECONCILE_INTERVAL_MS: '2000',
    HOLDPOINT_DB_POOL: '6',
    HOLDPOINT_SHUTDOWN_TIMEOUT_MS: '2000',
  };
  const migrated = await runCli(['migrate'], env);
  if (migrated.code !== 0) throw new Error(`migrate failed:\n${migrated.stdout}${migrated.stderr}`);
  // The tenant is created while the fleet boots (each CLI start costs seconds of CPU here).
  world.fleet = await createFleet(env, world.dir);
  const [created] = await Promise.all([runCli(['tenant', 'create', 'chaos', '--json'], env), world.fleet.startAll()]);
  if (created.code !== 0) throw new Error(`tenant create failed:\n${created.stdout}${created.stderr}`);
  const tenant = JSON.parse(created.stdout) as { tenant_id: string; api_keys: { agent: string; approver: string; admin: string }; webhook_secret: string };
  world.receiver.setSecret(tenant.webhook_secret);
  const apis: Api[] = world.fleet.apis.map((m) => ({ name: m.name, base: m.base! }));
  log(`fleet up: ${world.fleet.members.map((m) => m.name).join(', ')}`);

  const setupJournal = new Journal();
  const policy = await request(setupJournal, apis[0]!, 'policy', 'PUT', '/v1/policy', { key: tenant.api_keys.admin, body: POLICY });
  if (!isStatus(policy, 200)) throw new Error(`PUT /v1/policy: ${JSON.stringify(policy.outcome)}`);
  const ep = await request(setupJournal, apis[1]!, 'endpoint', 'POST', '/v1/webhook-endpoints', {
    key: tenant.api_keys.admin,
    body: { url: world.receiver.url(ENDPOINT_PATH), description: 'chaos receiver' },
  });
  if (!isStatus(ep, 201)) throw new Error(`POST /v1/webhook-endpoints: ${JSON.stringify(ep.outcome)}`);
  world.sql = createSql(world.pg.url, { max: 2 });
  return { rng, env, tenant, apis };
}

/** Pending approvals nobody will ever decide (their guard was never acknowledged): cancel them so the run can settle. */
async function cancelOrphans(sql: Sql, tenantId: string, tracked: Tracked[], apis: Api[], agentKey: string): Promise<{ orphans: string[]; stuck: string[] }> {
  const acked = new Set(tracked.flatMap((t) => (t.id ? [t.id] : [])));
  const long = await sql<{ id: string; idempotency_key: string }[]>`
    SELECT id, idempotency_key FROM approvals
    WHERE tenant_id = ${tenantId} AND status = 'pending' AND expires_at > now() + interval '2 minutes'`;
  const orphans: string[] = [];
  const stuck: string[] = [];
  const j = new Journal();
  for (const a of long) {
    if (acked.has(a.id)) {
      stuck.push(a.id); // the driver acted on it and it is still pending: reported by the checker
      continue;
    }
    orphans.push(a.id);
    for (let i = 0; i < 20; i++) {
      const x = await request(j, apis[i % apis.length]!, 'cleanup-cancel', 'POST', `/v1/approvals/${a.id}/cancel`, { key: agentKey, body: { reason: 'chaos: guard never acknowledged' } });
      if (isStatus(x, 200, 409)) break;
      await sleep(500);
    }
  }
  return { orphans, stuck };
}

/** Waits until nothing is left in flight: no open approvals, deliveries, unchained events, stale Slack messages. */
async function settle(sql: Sql, tenantId: string, stuck: string[], timeoutMs: number): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, number> = {};
  let said = Date.now();
  for (;;) {
    const [r] = await sql<{ open: number; deliveries: number; unchained: number; slack_behind: number }[]>`
      SELECT
        (SELECT count(*)::int FROM approvals WHERE tenant_id = ${tenantId} AND status IN ('pending', 'executing')
           AND NOT (id = ANY(${stuck}::uuid[]))) AS open,
        (SELECT count(*)::int FROM webhook_deliveries WHERE tenant_id = ${tenantId} AND status = 'pending') AS deliveries,
        (SELECT count(*)::int FROM approval_events WHERE tenant_id = ${tenantId} AND hash IS NULL) AS unchained,
        (SELECT count(*)::int FROM approvals WHERE tenant_id = ${tenantId} AND slack_ts IS NOT NULL
           AND (slack_synced_at IS NULL OR slack_synced_at < updated_at)) AS slack_behind`;
    last = r!;
    if (last.open === 0 && last.deliveries === 0 && last.unchained === 0 && last.slack_behind === 0) return last;
    if (Date.now() > deadline) return last;
    if (Date.now() - said >= 5_000) {
      log(`settling: ${JSON.stringify(last)}`);
      said = Date.now();
    }
    await sleep(500);
  }
}

function saveLogs(fleet: Fleet): string {
  const dest = path.join(os.tmpdir(), `holdpoint-chaos-logs-${CFG.seed}-${Date.now()}`);
  mkdirSync(dest, { recursive: true });
  for (const m of fleet.members) for (const f of m.logFiles) if (existsSync(f)) copyFileSync(f, path.join(dest, path.basename(f)));
  const pgLog = path.join(world.dir, 'pg', 'postgres.log');
  if (existsSync(pgLog)) copyFileSync(pgLog, path.join(dest, 'postgres.log'));
  return dest;
}

function printFailures(title: string, list: Failure[], limit: number): void {
  if (list.length === 0) return;
  process.stdout.write(`\n${title} (${list.length}):\n`);
  for (const f of list.slice(0, limit)) {
    process.stdout.write(`  [${f.invariant}] ${f.detail}\n`);
    if (f.record !== undefined) process.stdout.write(`    ${JSON.stringify(f.record).slice(0, 2_000)}\n`);
  }
  if (list.length > limit) process.stdout.write(`  … and ${list.length - limit} more (see the report file)\n`);
}

async function main(): Promise<number> {
  const { rng, tenant, apis } = await setup();
  const fleet = world.fleet!;
  const sql = world.sql!;
  const journal = new Journal();

  // ---- the run: load and faults together
  const runStart = Date.now();
  const stopAt = runStart + CFG.durationMs;
  const driver = runDriver({
    journal,
    apis,
    keys: tenant.api_keys,
    slackSecret: SLACK_SECRET,
    slack: world.slack!,
    callbackUrl: world.receiver!.url(CALLBACK_PATH),
    rng: rng.fork('driver'),
    stopAt,
    lanes: CFG.lanes,
  });
  const kinds = planFaults(rng.fork('faults'), CFG.rounds);
  log(`fault schedule: ${kinds.join(', ')}`);
  let windows: FaultWindow[] = [];
  try {
    windows = await runFaults({ fleet, pg: world.pg!, redis: world.redis!, rng: rng.fork('fault-targets'), log }, kinds, stopAt - 2_000, Math.min(3_000, CFG.durationMs / 10));
  } catch (err) {
    log(`fault injection failed: ${err instanceof Error ? err.stack : String(err)}`);
    throw err;
  }
  log(`faults done (${windows.length}); letting the driver finish its plans`);
  const driven = await Promise.race([driver.done, sleep(180_000).then(() => undefined)]);
  if (!driven) log('driver did not finish within 180 s of the end; checking what it has');
  const tracked = driven?.tracked ?? driver.tracked;
  log(`driver done: ${tracked.filter((t) => t.id).length} approvals, ${driven?.allowed ?? 0} allowed, ${journal.exchanges.length} requests`);

  // ---- settle, then check
  const { orphans, stuck } = await cancelOrphans(sql, tenant.tenant_id, tracked, apis, tenant.api_keys.agent);
  if (orphans.length) log(`cancelled ${orphans.length} approvals whose guard was never acknowledged`);
  const outstanding = await settle(sql, tenant.tenant_id, stuck, CFG.settleMs);
  log(`settled: ${JSON.stringify(outstanding)}`);
  await sleep(1_500); // let a stray duplicate delivery land before counting
  const checkInput: CheckInput = {
    sql,
    tenantId: tenant.tenant_id,
    tracked,
    exchanges: journal.exchanges,
    windows,
    deliveries: world.receiver!.deliveries,
    slack: world.slack!,
    members: fleet.members,
    endpointPath: ENDPOINT_PATH,
    callbackPath: CALLBACK_PATH,
    graceMs: CFG.graceMs,
    lateExpiryMs: 10_000,
    strict: CFG.strict,
    unexpectedExits: fleet.unexpectedExits,
  };
  const result = await checkInvariants(checkInput);
  const self = await selfTestChecker(checkInput);
  log(`checker self-test: ${self.planted - self.missed.length}/${self.planted} planted violations caught`);
  if (self.missed.length > 0) {
    result.failures.push({ invariant: 'checker', detail: `the checker missed planted violations: ${self.missed.join(', ')}` });
  }
  if (orphans.length) result.warnings.push({ invariant: 'driver', detail: `${orphans.length} guards were never acknowledged; their approvals were cancelled to settle`, record: orphans.slice(0, 10) });

  // ---- summary
  const count = (k: FaultWindow['kind']) => windows.filter((w) => w.kind === k).length;
  const kills = count('kill-api') + count('kill-worker') + 2 * count('kill-workers');
  const summary: Record<string, number | string> = {
    seed: CFG.seed,
    mode: short ? 'short' : 'long',
    strict: CFG.strict ? 'yes' : 'no (CHAOS_STRICT=0)',
    rounds: windows.length,
    'run seconds': Math.round((Date.now() - runStart) / 1000),
    kills: `${kills} (api ${count('kill-api')}, worker ${count('kill-worker')}, both workers ${count('kill-workers')})`,
    'redis restarts': count('redis-restart'),
    'redis flushall': count('redis-flushall'),
    'postgres restarts': `${count('pg-fast-restart') + count('pg-kill')} (fast ${count('pg-fast-restart')}, SIGKILL ${count('pg-kill')})`,
    'longest dependency window ms': Math.max(0, ...windows.filter((w) => w.dependency).map((w) => w.end - w.start)),
    ...result.stats,
    'receiver 503s (on purpose)': world.receiver!.refused,
    'processes that died on their own': fleet.unexpectedExits.length,
    failures: result.failures.length,
    warnings: result.warnings.length,
  };
  const width = Math.max(...Object.keys(summary).map((k) => k.length));
  process.stdout.write('\n== chaos summary\n');
  for (const [k, v] of Object.entries(summary)) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
  printFailures('WARNINGS', result.warnings, 10);
  printFailures('FAILURES', result.failures, 25);
  const reportFile = path.join(ROOT, 'bench', 'results', `chaos-${short ? 'short' : 'long'}.json`);
  try {
    writeFileSync(reportFile, JSON.stringify({ config: CFG, summary, windows, failures: result.failures, warnings: result.warnings }, null, 2));
    log(`report: ${path.relative(ROOT, reportFile)}`);
  } catch {
    // the report is a convenience
  }
  if (CFG.keep) {
    // Everything the driver was told, for a post-mortem (bodies trimmed to status and code).
    const slim = journal.exchanges.map(({ outcome, ...x }) => ({ ...x, ...(outcome.kind === 'http' ? { status: outcome.status, code: outcome.code } : { network: outcome.error }) }));
    writeFileSync(path.join(world.dir, 'journal.json'), JSON.stringify({ windows, tracked, exchanges: slim, deliveries: world.receiver!.deliveries }));
  }
  if (result.failures.length > 0) {
    // The temp dir goes with the cleanup; the logs (not the data) stay for the post-mortem.
    const logs = CFG.keep ? world.dir : saveLogs(fleet);
    process.stdout.write(`\nchaos: FAILED — ${result.failures.length} invariant violations (seed ${CFG.seed}; process and Postgres logs in ${logs})\n`);
    return 1;
  }
  process.stdout.write('\nchaos: ok — nothing lost, nothing changed\n');
  return 0;
}

const watchdogMs = CFG.durationMs + CFG.settleMs + 360_000;
const watchdog = setTimeout(() => {
  log(`watchdog: still running after ${watchdogMs / 1000} s; giving up`);
  void cleanup().finally(() => process.exit(1));
}, watchdogMs);
watchdog.unref();

main()
  .then(async (code) => {
    await cleanup();
    log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    process.exit(code);
  })
  .catch(async (err) => {
    process.stdout.write(`\nchaos: ERROR ${err instanceof Error ? err.stack : String(err)}\n`);
    if (world.fleet) for (const m of world.fleet.members) process.stdout.write(`\n--- last output of ${m.name}\n${m.tail().slice(-2_000)}\n`);
    if (world.pg) process.stdout.write(`\n--- postgres log\n${world.pg.logTail(20)}\n`);
    await cleanup();
    process.exit(1);
  });
