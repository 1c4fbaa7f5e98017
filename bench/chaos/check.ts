// After the run: hold Postgres, the receiver and the fake Slack to what the
// driver was told. Each broken invariant is a Failure with the records behind
// it; warnings are reported but do not fail the run.
import { readFileSync } from 'node:fs';
import { verifyChain, type ChainEvent } from '../../src/approvals/chain.ts';
import type { Sql } from '../../src/db/client.ts';
import { toChainEvent, type EventRow } from '../../src/db/events.ts';
import type { FakeSlack } from '../../test/helpers/fake-slack.ts';
import type { Tracked } from './driver.ts';
import type { FaultWindow } from './faults.ts';
import type { Member } from './fleet.ts';
import type { Exchange } from './journal.ts';
import type { Delivery } from './receiver.ts';

export interface Failure {
  invariant: string;
  detail: string;
  record?: unknown;
}

export interface CheckInput {
  sql: Sql;
  tenantId: string;
  tracked: Tracked[];
  exchanges: Exchange[];
  windows: FaultWindow[];
  deliveries: Delivery[];
  slack: FakeSlack;
  members: Member[];
  endpointPath: string;
  callbackPath: string;
  /** An expiry later than this after its deadline is reported (a warning: timeliness, not loss). */
  lateExpiryMs: number;
  /** Known upstream crashes fail the run too. */
  strict: boolean;
  /** After a dependency is back, 503s are still excused for this long. */
  graceMs: number;
  unexpectedExits: { name: string; at: number; code: number | string; tail: string }[];
}

export interface CheckResult {
  failures: Failure[];
  warnings: Failure[];
  stats: Record<string, number | string>;
}

interface ApprovalFinal {
  id: string;
  idempotency_key: string;
  status: string;
  decided_by: string | null;
  decision_channel: string | null;
  decided_at: Date | null;
  expires_at: Date;
  callback_url: string | null;
  slack_ts: string | null;
  slack_synced_at: Date | null;
  updated_at: Date;
}

/** What an approval's outcome is, whatever happened after (a claim, a lapsed lease). */
const FAMILY: Record<string, string> = {
  approved: 'approved',
  executing: 'approved',
  completed: 'approved',
  failed: 'approved',
  rejected: 'rejected',
  expired: 'expired',
  cancelled: 'cancelled',
};
const DECIDING = new Set(['approved', 'rejected', 'expired', 'cancelled']);

function eventFamily(e: ChainEvent): string {
  if (e.type === 'expired') return (e.data as { outcome?: string })?.outcome === 'approved' ? 'approved' : 'expired';
  return FAMILY[e.type] ?? e.type;
}

/**
 * Crashes whose cause is a known bug in a dependency. patches/postgres+3.4.9.patch
 * fixes it, and by default (strict) it fails the run like any other exit; only
 * with CHAOS_STRICT=0 (a driver without the patch) is it reported as a warning.
 */
/** Shutdown errors Postgres sends only while it stops: outside every window they are replays (see check 5xx). */
const STALE_PG_CODES = new Set(['57P01', '57P02', '57P03']);

const KNOWN_CRASHES = [
  {
    match: /postgres\/src\/connection\.js[\s\S]*Cannot read properties of null \(reading 'write'\)|Cannot read properties of null \(reading 'write'\)[\s\S]*nextWrite/,
    what: 'postgres.js 3.4.9 nextWrite() on a closed socket (porsager/postgres#1208, #1154): a query written to a connection Postgres just closed throws from a setImmediate and kills the process',
  },
];

/** What the API logged about one exchange (its warn / error lines for that path, around that time). */
function serverSide(m: Member | undefined, x: Exchange): unknown[] {
  if (!m) return [];
  const path = x.path.split('?')[0];
  const out: unknown[] = [];
  for (const f of m.logFiles) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.includes(`"path":"${path}"`)) continue;
      try {
        const j = JSON.parse(line) as { time?: string };
        const at = Date.parse(j.time ?? '');
        if (at >= x.t0 - 1_000 && at <= x.t1 + 1_000) out.push(j);
      } catch {
        // not a log line
      }
    }
  }
  return out;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

export async function checkInvariants(input: CheckInput): Promise<CheckResult> {
  const { sql, tenantId } = input;
  const failures: Failure[] = [];
  const warnings: Failure[] = [];
  const fail = (invariant: string, detail: string, record?: unknown) => failures.push({ invariant, detail, ...(record === undefined ? {} : { record }) });
  const warn = (invariant: string, detail: string, record?: unknown) => warnings.push({ invariant, detail, ...(record === undefined ? {} : { record }) });
  const counters = { lost: 0, changed: 0, approvedAndExpired: 0, doubleClaims: 0, unexpected5xx: 0, duplicates: 0, missingDeliveries: 0, lostClicks: 0 };

  const rows = await sql<ApprovalFinal[]>`
    SELECT id, idempotency_key, status, decided_by, decision_channel, decided_at, expires_at, callback_url,
           slack_ts, slack_synced_at, updated_at
    FROM approvals WHERE tenant_id = ${tenantId}`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const eventRows = await sql<EventRow[]>`SELECT * FROM approval_events WHERE tenant_id = ${tenantId} ORDER BY ord`;
  const events = eventRows.map(toChainEvent);
  const eventsOf = new Map<string, ChainEvent[]>();
  for (const e of events) {
    if (!e.approval_id) continue;
    const list = eventsOf.get(e.approval_id) ?? [];
    list.push(e);
    eventsOf.set(e.approval_id, list);
  }
  const deliveryRows = await sql<{ id: string; event_id: string; target: string; status: string; attempts: number; last_error: string | null }[]>`
    SELECT id, event_id, target, status, attempts, last_error FROM webhook_deliveries WHERE tenant_id = ${tenantId}`;

  // ---- the audit chain: the whole tenant chain, linked and intact, in seq order
  const unchained = events.filter((e) => e.seq === null);
  if (unchained.length > 0) fail('chain', `${unchained.length} events were never linked into the chain`, unchained.slice(0, 5));
  const chain = verifyChain([...events].filter((e) => e.seq !== null).sort((a, b) => a.seq! - b.seq!), { contiguous: true });
  if (!chain.intact) fail('chain', `tenant hash chain broken at ${chain.broken_at}: ${chain.why}`);
  const seqs = events.filter((e) => e.seq !== null).map((e) => e.seq!).sort((a, b) => a - b);
  seqs.forEach((s, i) => {
    if (s !== i + 1) fail('chain', `chain seq has a gap or repeat at position ${i + 1} (seq ${s})`);
  });

  // ---- every acknowledged approval, against its row and its events
  const toldUsers = new Set(input.slack.callsTo('chat.postEphemeral').map((call) => String(call.args.user)));
  const lateHuman: unknown[] = [];
  const lateExpiries: { id: string; expires_at: string; decided_at: string; late_ms: number }[] = [];
  const expiryLateness: number[] = [];
  for (const t of input.tracked) {
    if (t.idempotencyMismatch) fail('idempotency', `guard with key ${t.key} answered two approvals: ${t.idempotencyMismatch}`, t);
    if (!t.id) continue;
    const row = byId.get(t.id);
    if (!row) {
      counters.lost++;
      fail('lost', `approval ${t.id} (key ${t.key}, plan ${t.plan}) was acknowledged but is not in Postgres`, t);
      continue;
    }
    if (row.idempotency_key !== t.key) fail('lost', `approval ${t.id} holds key ${row.idempotency_key}, not ${t.key}`);
    const evs = eventsOf.get(t.id) ?? [];
    const problems: string[] = [];

    if (row.status === 'pending' || row.status === 'executing') fail('settled', `approval ${t.id} (plan ${t.plan}) is still ${row.status}`, { t, row });

    // Everything the API told us about it, against what it is now.
    const family = FAMILY[row.status];
    for (const o of t.obs) {
      if (o.status === 'pending') continue;
      if (FAMILY[o.status] !== family) problems.push(`${o.op} answered ${o.http} with status ${o.status} at ${new Date(o.at).toISOString()}, now ${row.status}`);
      if ((o.status === 'completed' || o.status === 'failed') && row.status !== o.status) problems.push(`${o.op} answered ${o.status}, now ${row.status}`);
      if (o.http === 200 && (o.op.startsWith('decide') || o.op === 'slack-reject') && DECIDING.has(o.status) && o.decidedBy && row.decided_by !== o.decidedBy) {
        problems.push(`${o.op} decided it as ${o.decidedBy}, now decided_by ${row.decided_by}`);
      }
    }

    // Its events: requested first, exactly one outcome, agreeing with the row.
    const types = evs.map((e) => e.type);
    if (types[0] !== 'requested' || types.filter((x) => x === 'requested').length !== 1) problems.push(`events do not start with one requested: ${types.join(',')}`);
    const deciding = evs.filter((e) => DECIDING.has(e.type));
    if (deciding.length !== 1) problems.push(`${deciding.length} outcome events: ${types.join(',')}`);
    else if (eventFamily(deciding[0]!) !== family) problems.push(`outcome event ${deciding[0]!.type} but status ${row.status}`);
    if (types.includes('approved') && types.includes('expired')) {
      counters.approvedAndExpired++;
      problems.push('both approved and expired');
    }
    for (const done of ['completed', 'failed']) {
      const n = types.filter((x) => x === done).length;
      if (n > 1 || (n === 1) !== (row.status === done)) problems.push(`${n} ${done} events, status ${row.status}`);
    }
    const perApproval = verifyChain(evs);
    if (!perApproval.intact) problems.push(`chain: ${perApproval.why} at ${perApproval.broken_at}`);

    if (problems.length > 0) {
      counters.changed++;
      fail('changed', `approval ${t.id} (plan ${t.plan}): ${problems.join('; ')}`, { tracked: t, row, events: types });
    }

    // Claims: a second lease only after the first lapsed (events), and never two live ones (answers).
    const claimed = evs.filter((e) => e.type === 'claimed');
    for (let i = 1; i < claimed.length; i++) {
      const between = evs.slice(evs.indexOf(claimed[i - 1]!), evs.indexOf(claimed[i]!));
      const prevLease = Date.parse((claimed[i - 1]!.data as { lease_expires_at: string }).lease_expires_at);
      if (!between.some((e) => e.type === 'lease_lapsed') || Date.parse(claimed[i]!.created_at) < prevLease) {
        counters.doubleClaims++;
        fail('claims', `approval ${t.id}: claim ${i + 1} granted while claim ${i}'s lease (to ${new Date(prevLease).toISOString()}) was live`, evs);
      }
    }
    const granted = [...t.claims].sort((a, b) => a.t1 - b.t1);
    for (let i = 1; i < granted.length; i++) {
      const prev = granted[i - 1]!;
      const cur = granted[i]!;
      if (cur.t1 < prev.t0 + prev.lease * 1000) {
        counters.doubleClaims++;
        fail('claims', `approval ${t.id}: two claims answered 200 with live leases (${prev.token} via ${prev.api}, ${cur.token} via ${cur.api})`, granted);
      }
    }
    if (granted.length > claimed.length) fail('claims', `approval ${t.id}: ${granted.length} claims answered 200 but ${claimed.length} claimed events`, { granted, events: types });

    // Slack clicks that were answered 200: each decided (its vote is on record) or was told why not.
    for (const c of t.clicks) {
      if (c.kind !== 'approve' || c.answer !== 'ok') continue;
      const identity = `slack:${c.user}`;
      const voted = evs.some((e) => e.type === 'voted' && e.actor === identity);
      const told = toldUsers.has(c.user);
      if (voted || told) continue;
      const answeredBy = input.members.find((m) => m.name === c.api);
      const killedRightAfter = answeredBy?.kills.some((k) => k.at >= c.t1 - 100 && k.at <= c.t1 + 2_000);
      if (killedRightAfter) {
        warn('slack', `click by ${c.user} on ${t.id}: no vote and no ephemeral, but ${c.api} was killed right after answering (the ephemeral is fire-and-forget)`);
        continue;
      }
      counters.lostClicks++;
      fail('slack', `approve click by ${c.user} on ${t.id} was answered 200 but neither counted nor refused`, { click: c, events: types, status: row.status });
    }

    // Timing: human decisions after the deadline, and how late expiries were.
    if (row.decided_at && (row.decision_channel === 'api' || row.decision_channel === 'slack') && row.decided_at.getTime() > row.expires_at.getTime()) {
      lateHuman.push({ id: t.id, plan: t.plan, by: row.decided_by, late_ms: row.decided_at.getTime() - row.expires_at.getTime() });
    }
    if (row.decided_at && row.decision_channel === 'timeout') {
      const late = row.decided_at.getTime() - row.expires_at.getTime();
      expiryLateness.push(late);
      if (late > input.lateExpiryMs) lateExpiries.push({ id: t.id, expires_at: row.expires_at.toISOString(), decided_at: row.decided_at.toISOString(), late_ms: late });
    }
  }
  if (lateExpiries.length > 0) {
    lateExpiries.sort((a, b) => b.late_ms - a.late_ms);
    warn('deadline', `${lateExpiries.length} approvals expired more than ${input.lateExpiryMs} ms after their deadline`, lateExpiries.slice(0, 10));
  }
  if (lateHuman.length > 0) {
    warn('deadline', `${lateHuman.length} approvals were decided by a human after their deadline (the vote was accepted because the expiry had not run yet)`, lateHuman.slice(0, 10));
  }

  // ---- webhooks: every webhook-bearing event reached every target, under one webhook-id
  const eventIds = new Set(events.map((e) => e.id));
  const byTarget = new Map<string, Delivery[]>();
  for (const d of input.deliveries) {
    const k = `${d.path}|${d.webhookId}`;
    const list = byTarget.get(k) ?? [];
    list.push(d);
    byTarget.set(k, list);
    if (!d.verified) fail('webhooks', `delivery ${d.webhookId} to ${d.path} failed signature verification`, d);
    if (d.bodyId !== d.webhookId) fail('webhooks', `delivery to ${d.path}: webhook-id ${d.webhookId} but body id ${d.bodyId}`, d);
    if (!eventIds.has(d.webhookId)) fail('webhooks', `received ${d.type} ${d.webhookId} for an event that is not in Postgres (a rolled-back write was announced)`, d);
  }
  for (const list of byTarget.values()) counters.duplicates += list.length - 1;
  const idsPerOccurrence = new Map<string, Set<string>>();
  for (const d of input.deliveries) {
    const k = `${d.path}|${d.type}|${d.approvalId}`;
    const s = idsPerOccurrence.get(k) ?? new Set();
    s.add(d.webhookId);
    idsPerOccurrence.set(k, s);
  }
  for (const [k, s] of idsPerOccurrence) {
    if (s.size > 1) fail('webhooks', `${k}: received under ${s.size} different webhook-ids (${[...s].join(', ')}): one event announced twice`);
  }
  const trackedIds = new Set(input.tracked.flatMap((t) => (t.id ? [t.id] : [])));
  for (const e of events) {
    const type = `approval.${e.type}`;
    if (!['requested', 'approved', 'rejected', 'expired', 'cancelled', 'completed', 'failed'].includes(e.type) || !e.approval_id) continue;
    const row = byId.get(e.approval_id);
    const targets = [input.endpointPath, ...(row?.callback_url ? [input.callbackPath] : [])];
    for (const path of targets) {
      if (!byTarget.has(`${path}|${e.id}`)) {
        counters.missingDeliveries++;
        const rowsFor = deliveryRows.filter((d) => d.event_id === e.id);
        fail('webhooks', `${type} ${e.id} (approval ${e.approval_id}${trackedIds.has(e.approval_id) ? '' : ', untracked'}) never reached ${path}`, rowsFor);
      }
    }
  }
  const undelivered = deliveryRows.filter((d) => d.status !== 'delivered');
  if (undelivered.length > 0) fail('webhooks', `${undelivered.length} webhook deliveries are not delivered`, undelivered.slice(0, 10));

  // ---- 5xx: only 503 dependency_unavailable, and only while a dependency was down (plus grace)
  const depWindows = input.windows.filter((w) => w.dependency);
  const inWindow = (x: Exchange) => depWindows.some((w) => x.t1 >= w.start && x.t0 <= w.end + input.graceMs);
  let excused503 = 0;
  let staleReplays = 0;
  const network: Record<string, number> = { refused: 0, reset: 0, timeout: 0, other: 0 };
  const unexplainedNetwork: Exchange[] = [];
  for (const x of input.exchanges) {
    if (x.outcome.kind === 'network') {
      network[x.outcome.error] = (network[x.outcome.error] ?? 0) + 1;
      const m = input.members.find((mm) => mm.name === x.api);
      const killed = m?.kills.some((k) => x.t1 >= k.at - 50 && x.t0 <= (k.back ?? Infinity) + 1_000);
      if (!killed) unexplainedNetwork.push(x);
      continue;
    }
    if (x.outcome.status < 500) continue;
    if (x.outcome.status === 503 && x.outcome.code === 'dependency_unavailable' && inWindow(x)) {
      excused503++;
      continue;
    }
    const server = serverSide(input.members.find((m) => m.name === x.api), x);
    const replayed = (server as { err?: { code?: string } }[]).some((l) => STALE_PG_CODES.has(l.err?.code ?? ''));
    const afterRestart = depWindows.some((w) => w.kind.startsWith('pg') && w.end < x.t0);
    if (x.outcome.status === 503 && x.outcome.code === 'dependency_unavailable' && replayed && afterRestart && !input.strict) {
      staleReplays++;
      warn('5xx', `${x.method} ${x.path} on ${x.api} answered 503 at ${new Date(x.t0).toISOString()}, outside every window, with a shutdown error from before the last Postgres restart: known upstream bug, postgres.js 3.4.9 replays a closed connection's last ErrorResponse onto the first query after it reconnects (bench/chaos/pg-stale-error-repro.ts; related porsager/postgres#1223)`, { ...x, server });
      continue;
    }
    counters.unexpected5xx++;
    fail('5xx', `${x.method} ${x.path} on ${x.api} answered ${x.outcome.status} ${x.outcome.code ?? ''} at ${new Date(x.t0).toISOString()}${inWindow(x) ? ' (inside a dependency window, but not 503 dependency_unavailable)' : ' (no dependency was down)'}`, { ...x, server });
  }
  if (unexplainedNetwork.length > 0) {
    warn('network', `${unexplainedNetwork.length} requests to a live API got no HTTP answer`, unexplainedNetwork.slice(0, 10));
  }

  // ---- Slack messages: posted ones end in line with their row
  const behind = rows.filter((r) => r.slack_ts && (!r.slack_synced_at || r.slack_synced_at.getTime() < r.updated_at.getTime()));
  if (behind.length > 0) fail('slack', `${behind.length} Slack messages are behind their approval`, behind.slice(0, 10).map((r) => ({ id: r.id, status: r.status, updated_at: r.updated_at, slack_synced_at: r.slack_synced_at })));
  const posts = input.slack.callsTo('chat.postMessage').filter((c) => c.ok && !c.args.thread_ts);
  const postsPer = new Map<string, number>();
  for (const c of posts) {
    // The Approve button's value is the approval id.
    const ids = new Set(JSON.stringify(c.args.blocks).match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g) ?? []);
    for (const id of ids) if (byId.has(id)) postsPer.set(id, (postsPer.get(id) ?? 0) + 1);
  }
  const duplicatePosts = [...postsPer.values()].reduce((a, n) => a + n - 1, 0);

  for (const x of input.unexpectedExits) {
    const known = KNOWN_CRASHES.find((k) => k.match.test(x.tail));
    const detail = `${x.name} exited on its own (${x.code}) at ${new Date(x.at).toISOString()}`;
    if (known && !input.strict) warn('process', `${detail}: known upstream bug, ${known.what}`, x.tail.slice(-1_500));
    else fail('process', known ? `${detail}: ${known.what}` : detail, x.tail);
  }

  const tally = (xs: string[]) =>
    Object.entries(xs.reduce<Record<string, number>>((acc, x) => ({ ...acc, [x]: (acc[x] ?? 0) + 1 }), {}))
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  const stats: Record<string, number | string> = {
    approvals: input.tracked.filter((t) => t.id).length,
    plans: tally(input.tracked.filter((t) => t.id).map((t) => t.plan)),
    'final statuses': tally(rows.map((r) => (r.decision_channel === 'timeout' && r.status === 'approved' ? 'approved-by-timeout' : r.status))),
    'approvals in postgres': rows.length,
    unacknowledged: input.tracked.filter((t) => t.unacked).length,
    events: events.length,
    'webhook deliveries received': input.deliveries.length,
    'webhook deliveries expected': deliveryRows.length,
    lost: counters.lost,
    changed: counters.changed,
    'approved and expired': counters.approvedAndExpired,
    'duplicate deliveries': counters.duplicates,
    'missing deliveries': counters.missingDeliveries,
    'claims granted / lease lapses': `${input.tracked.reduce((a, t) => a + t.claims.length, 0)} / ${events.filter((e) => e.type === 'lease_lapsed').length}`,
    'claims double-granted': counters.doubleClaims,
    'lost slack clicks': counters.lostClicks,
    'unexpected 5xx': counters.unexpected5xx,
    '503 inside dependency windows': excused503,
    '503 replaying a pre-restart error (upstream)': staleReplays,
    'network errors (killed API)': Object.values(network).reduce((a, b) => a + b, 0) - unexplainedNetwork.length,
    'network errors (live API)': unexplainedNetwork.length,
    'requests': input.exchanges.length,
    'slack posts': posts.length,
    'duplicate slack posts': duplicatePosts,
    'human decisions after deadline': lateHuman.length,
    'expiry lateness p50/max ms': `${pct(expiryLateness, 50)}/${expiryLateness.length ? Math.max(...expiryLateness) : 0}`,
  };
  return { failures, warnings, stats };
}
