// GET /v1/decisions/export: the decision log as CSV or JSON Lines, filtered,
// streamed in keyset pages, and safe to open in a spreadsheet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../helpers/csv.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { runCli } from '../helpers/processes.ts';

let h: Harness;
let n = 0;
const key = () => `x-${++n}`;

beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

async function download(path: string, k: string) {
  const res = await h.app.request(path, { headers: { authorization: `Bearer ${k}` } });
  const chunks: string[] = [];
  if (res.body) {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
  }
  return { res, text: chunks.join(''), chunks: chunks.length };
}

let t: TenantKeys;

beforeAll(async () => {
  t = await h.tenant();
  await h.setPolicy(t, { defaults: { decision: 'allow' }, rules: [{ name: 'no-drop', match: { action: 'db.drop' }, decision: 'deny' }] });
  const check = (body: Record<string, unknown>) => h.call('POST', '/v1/check', t.agent, { agent_id: 'bot', ...body });
  await check({ action: 'sheet.write', params: { cell: '=HYPERLINK("http://evil","x")' }, tags: ['attack'] });
  // Cells that are the agent's string alone: agent_id, action, session and run ids, the idempotency key, a reported result.
  const g = await h.call('POST', '/v1/guard', t.agent, {
    action: '+cmd|calc', agent_id: '=WEBSERVICE("evil")', params: {}, context: { session_id: '@SUM(A1)', run_id: '-2+3' }, idempotency_key: '-key1', tags: ['attack'],
  });
  if (g.status !== 200) throw new Error(JSON.stringify(g.body));
  await h.call('POST', '/v1/report', t.agent, { decision_id: g.body.decision_id, status: 'completed', result: '\r=1+1' });
  await check({ action: 'db.drop', params: { table: 'users' }, tags: ['ops', 'prod'] });
  await check({ action: 'read.x', params: { note: 'a, "quoted"\nline' }, tags: ['ops'] });
});

describe('CSV and JSON Lines', () => {
  it('a CSV has a header row, one row per decision oldest first, and downloads as an attachment', async () => {
    const { res, text } = await download('/v1/decisions/export?format=csv', t.approver);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="decisions-\d{4}-\d{2}-\d{2}\.csv"$/);
    const rows = parseCsv(text);
    const header = rows[0]!;
    expect(header.slice(0, 6)).toEqual(['id', 'created_at', 'kind', 'agent_id', 'action', 'decision']);
    expect(header).toEqual(expect.arrayContaining(['params', 'context', 'tags', 'session_id', 'run_id', 'cost_usd', 'report_duration_ms', 'report_result']));
    expect(rows.slice(1).map((r) => r[header.indexOf('action')])).toEqual(['sheet.write', "'+cmd|calc", 'db.drop', 'read.x']);
    // A quote, comma and line break inside a value survive the round trip.
    const note = JSON.parse(rows[4]![header.indexOf('params')]!);
    expect(note).toEqual({ note: 'a, "quoted"\nline' });
  });

  it('cells an agent controls can never start a formula: = + - @ tab and CR are prefixed with a quote', async () => {
    const { text } = await download('/v1/decisions/export?format=csv&tag=attack', t.approver);
    const rows = parseCsv(text);
    expect(rows).toHaveLength(3);
    // No cell of either data row starts with a formula character.
    for (const r of rows.slice(1)) for (const cell of r) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    const header = rows[0]!;
    const col = (name: string) => rows[2]![header.indexOf(name)];
    // A cell that is the agent's string alone is defused with a leading quote, and otherwise kept exactly.
    expect(col('agent_id')).toBe(`'=WEBSERVICE("evil")`);
    expect(col('action')).toBe("'+cmd|calc");
    expect(col('session_id')).toBe("'@SUM(A1)");
    expect(col('run_id')).toBe("'-2+3");
    expect(col('idempotency_key')).toBe("'-key1");
    expect(col('report_result')).toBe("'\r=1+1");
    // JSON Lines is data, not a sheet: the same values come back unprefixed.
    const { text: jl } = await download('/v1/decisions/export?format=jsonl&tag=attack', t.approver);
    expect(JSON.parse(jl.trimEnd().split('\n')[1]!)).toMatchObject({ agent_id: '=WEBSERVICE("evil")', session_id: '@SUM(A1)', report_result: '\r=1+1' });
  });

  it('JSON Lines: one object per decision with the same fields, filtered by decision, tag and time', async () => {
    const { res, text } = await download('/v1/decisions/export?format=jsonl&tag=ops', t.approver);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.action)).toEqual(['db.drop', 'read.x']);
    expect(lines[0]).toMatchObject({ decision: 'deny', tags: ['ops', 'prod'], params: { table: 'users' }, agent_id: 'bot' });
    const denied = await download('/v1/decisions/export?format=jsonl&decision=deny', t.approver);
    expect(denied.text.trimEnd().split('\n').map((l) => JSON.parse(l).action)).toEqual(['db.drop']);
    const none = await download(`/v1/decisions/export?format=jsonl&until=2020-01-01T00:00:00Z`, t.approver);
    expect(none.text).toBe('');
    const later = await download(`/v1/decisions/export?format=jsonl&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, t.approver);
    expect(later.text).toBe('');
  });

  it('filters by approval_id: the decision that parked an approval', async () => {
    const own = await h.tenant();
    await h.setPolicy(own, { defaults: { decision: 'require_approval' } });
    const g = await h.call('POST', '/v1/guard', own.agent, { action: 'pay.send', agent_id: 'bot', idempotency_key: key() });
    await h.call('POST', '/v1/check', own.agent, { action: 'pay.send', agent_id: 'bot' });
    const { text } = await download(`/v1/decisions/export?format=jsonl&approval_id=${g.body.approval.id}`, own.approver);
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ id: g.body.decision_id, approval_id: g.body.approval.id });
  });

  it('only approvers and admins export; an agent key is refused, and a tenant sees only its own log', async () => {
    expect((await download('/v1/decisions/export', t.agent)).res.status).toBe(403);
    expect((await download('/v1/decisions/export', t.admin)).res.status).toBe(200);
    const other = await h.tenant();
    const { text } = await download('/v1/decisions/export?format=jsonl', other.approver);
    expect(text).toBe('');
    expect((await download('/v1/decisions/export?format=xml', t.approver)).res.status).toBe(400);
    expect((await download('/v1/decisions/export?tag=a%20b', t.approver)).res.status).toBe(400);
  });
});

describe('a large export', () => {
  it('3,000 decisions arrive complete, in order, in keyset pages rather than one buffer', async () => {
    const big = await h.tenant();
    // Written straight to the table: the export is what is under test, not 3,000 API calls.
    await h.rt.sql`
      INSERT INTO decisions (id, tenant_id, kind, action, agent_id, decision, reasons, created_at, params, context, tags)
      SELECT gen_random_uuid(), ${big.tenant_id}, 'check', 'bulk.' || (i % 7), 'bot', 'allow', '[]'::jsonb,
             timestamptz '2026-01-01T00:00:00Z' + i * interval '1 second', jsonb_build_object('i', i), '{}'::jsonb, ARRAY['bulk']
      FROM generate_series(1, 3000) AS i`;
    const csv = await download('/v1/decisions/export?format=csv', big.approver);
    const rows = parseCsv(csv.text);
    expect(rows).toHaveLength(3001);
    const params = rows[0]!.indexOf('params');
    expect(rows.slice(1).map((r) => JSON.parse(r[params]!).i)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    // Six pages of 500 and the last, empty read: streamed, never held whole.
    expect(csv.chunks).toBeGreaterThanOrEqual(6);
    const jsonl = await download('/v1/decisions/export?format=jsonl&tag=bulk&action=bulk.3', big.approver);
    const lines = jsonl.text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(Array.from({ length: 3000 }, (_, i) => i + 1).filter((i) => i % 7 === 3).length);
    expect(lines.every((l) => l.action === 'bulk.3')).toBe(true);
  });
});

describe('holdpoint decisions export', () => {
  it('writes the same filtered log from the command line, and refuses a bad filter with usage', async () => {
    const env = { DATABASE_URL: h.config.DATABASE_URL, REDIS_URL: h.config.REDIS_URL, LOG_LEVEL: 'silent' };
    const r = await runCli(['decisions', 'export', '--tenant', t.tenant_id, '--format', 'jsonl', '--tag', 'ops'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l).action)).toEqual(['db.drop', 'read.x']);
    const csv = await runCli(['decisions', 'export', '--tenant', t.tenant_id, '--decision', 'deny'], env);
    expect(parseCsv(csv.stdout).map((row) => row[4])).toEqual(['action', 'db.drop']);
    const bad = await runCli(['decisions', 'export', '--tenant', t.tenant_id, '--tag', '=x'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--tag/);
  });
});
