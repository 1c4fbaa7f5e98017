// Replay mode's matching, against a scripted fetch (record) and no fetch at
// all (replay): a replayed call gets exactly what was recorded for it, and
// anything else — no recording, other inputs, two recordings, a recording
// the SDK did not write — throws instead of allowing or reaching a network.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ActionDenied,
  ApprovalPending,
  Holdpoint,
  HoldpointError,
  ReplayDivergence,
  memoryReplayStore,
  type Approval,
  type FetchLike,
  type ReplayEntry,
} from '../../src/sdk/index.ts';
import { inputsHash } from '../../src/sdk/replay.ts';
import { recordTo, replayFile, replayFrom } from '../../src/sdk-node/replay-file.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'hp-replay-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const approval = (over: Partial<Approval> = {}): Approval =>
  ({
    id: '0190f4c2-0000-7000-8000-000000000001',
    idempotency_key: 'k',
    action: 'pay.send',
    agent_id: 'bot',
    params: {},
    context: {},
    status: 'pending',
    reasons: [],
    required_approvals: 1,
    votes: [],
    routing: null,
    on_timeout: 'reject',
    created_at: '2026-01-01T00:00:00.000Z',
    expires_at: '2026-01-01T00:15:00.000Z',
    decided_at: null,
    decided_by: null,
    decision_reason: null,
    decision_channel: null,
    claim_expires_at: null,
    callback_url: null,
    result: null,
    error: null,
    completed_at: null,
    policy_version: 1,
    decision_id: 'd-approval',
    ...over,
  }) as Approval;

/** A fetch answering by route from a script; every request is logged. */
function scripted(answers: Record<string, (body: Record<string, unknown>) => { status: number; body: unknown }>) {
  const log: { method: string; path: string; body: Record<string, unknown> }[] = [];
  let n = 0;
  const fetch: FetchLike = async (input, init) => {
    const p = new URL(String(input)).pathname;
    const body = init?.body ? (JSON.parse(String(init.body)) as Record<string, unknown>) : {};
    log.push({ method: init?.method ?? 'GET', path: p, body });
    const route = Object.keys(answers).find((r) => p.endsWith(r));
    if (!route) return new Response(JSON.stringify({ error: { code: 'not_found', message: p } }), { status: 404 });
    const a = answers[route]!({ ...body, n: ++n });
    return new Response(JSON.stringify(a.body), { status: a.status, headers: { 'content-type': 'application/json' } });
  };
  return { fetch, log };
}

/** The server of these tests: emails allowed, drops denied, payments parked (or approved, then claimed). */
const server = (opts: { approved?: boolean } = {}) =>
  scripted({
    '/v1/check': (b) => ({
      status: 200,
      body: { decision: b.action === 'database.drop' ? 'deny' : 'allow', reasons: [], decision_id: `d-check-${b.n}`, policy_version: 3, matched_rules: [] },
    }),
    '/v1/guard': (b) =>
      b.action === 'database.drop'
        ? { status: 200, body: { status: 'denied', reasons: [{ source: 'rule', rule: 'never-drop', decision: 'deny', message: 'no' }], decision_id: 'd-deny', policy_version: 3, redacted_paths: [], approval: null } }
        : b.action === 'pay.send'
          ? {
              status: opts.approved ? 200 : 202,
              body: { status: opts.approved ? 'approved' : 'pending', reasons: [], decision_id: 'd-pay', policy_version: 3, redacted_paths: [], approval: approval({ status: opts.approved ? 'approved' : 'pending', decided_by: opts.approved ? 'alice' : null, params: b.params as Record<string, unknown> }) },
            }
          : { status: 200, body: { status: 'allowed', reasons: [], decision_id: `d-guard-${b.n}`, policy_version: 3, redacted_paths: [], approval: null } },
    '/claim': () => ({ status: 200, body: { approval: approval({ status: 'executing', decided_by: 'alice', decided_at: '2026-01-01T00:01:00.000Z' }), claim_token: '0190f4c2-0000-7000-8000-00000000000c' } }),
  });

/** A fetch that must never be called: replay mode has no network. */
const noNetwork: FetchLike = async () => {
  throw new Error('replay mode reached the network');
};

async function recorded(run: (hp: Holdpoint) => Promise<unknown>, opts: { approved?: boolean } = {}) {
  const store = memoryReplayStore();
  const { fetch, log } = server(opts);
  const hp = new Holdpoint({ baseUrl: 'http://holdpoint.test', apiKey: 'hp_agent_x', agentId: 'bot', retries: 0, fetch, replay: { mode: 'record', store } });
  await run(hp).catch(() => undefined);
  return { entries: store.entries, log };
}

const replaying = (entries: ReplayEntry[]) => new Holdpoint({ agentId: 'bot', fetch: noNetwork, replay: { mode: 'replay', store: memoryReplayStore(entries) } });

describe('record', () => {
  it('appends one entry per answered call: method, action, agent, inputs hash, key, sequence and the answer', async () => {
    const { entries } = await recorded(async (hp) => {
      await hp.check('email.send', { params: { to: 'a@example.com' } });
      await hp.guard('email.send', { idempotencyKey: 'g1', params: { to: 'a@example.com' }, tags: ['run:1'] });
    });
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ v: 1, seq: 0, method: 'check', action: 'email.send', agent_id: 'bot', idempotency_key: null, answer: { decision: { decision: 'allow', decision_id: 'd-check-1' } } });
    expect(entries[0]!.params_hash).toBe(await inputsHash({ params: { to: 'a@example.com' } }));
    expect(entries[1]).toMatchObject({ seq: 0, method: 'guard', idempotency_key: 'g1', answer: { permit: { kind: 'allowed', decision_id: 'd-guard-2' } } });
    expect(entries[1]!.params_hash).toBe(await inputsHash({ params: { to: 'a@example.com' }, tags: ['run:1'] }));
  });

  it('records refusals (deny, pending) but not failures that are no answer', async () => {
    const store = memoryReplayStore();
    const down: FetchLike = async () => {
      throw new TypeError('fetch failed');
    };
    const hp = new Holdpoint({ baseUrl: 'http://holdpoint.test', apiKey: 'k', retries: 0, fetch: down, replay: { mode: 'record', store } });
    await expect(hp.check('email.send')).rejects.toMatchObject({ code: 'connection_failed' });
    expect(store.entries).toEqual([]);
    const { entries } = await recorded(async (hp2) => {
      await hp2.guard('database.drop', { idempotencyKey: 'd1' }).catch(() => undefined);
      await hp2.guard('pay.send', { idempotencyKey: 'p1', params: { amount: 5000 } });
    });
    expect(entries.map((e) => e.answer)).toMatchObject([{ refusal: { type: 'denied', decision_id: 'd-deny' } }, { refusal: { type: 'pending', approval: { status: 'pending' } } }]);
  });
});

describe('replay', () => {
  it('answers every recorded call with what was recorded, with no network and no baseUrl or apiKey', async () => {
    const { entries } = await recorded(async (hp) => {
      await hp.check('email.send', { params: { to: 'a@example.com' } });
      await hp.check('database.drop');
      await hp.guard('email.send', { idempotencyKey: 'g1', params: { to: 'a@example.com' } });
    });
    const hp = replaying(entries);
    expect(await hp.check('email.send', { params: { to: 'a@example.com' } })).toMatchObject({ allowed: true, decisionId: 'd-check-1', policyVersion: 3 });
    expect(await hp.check('database.drop')).toMatchObject({ denied: true, allowed: false, decisionId: 'd-check-2' });
    const permit = await hp.guard('email.send', { idempotencyKey: 'g1', params: { to: 'a@example.com' } });
    expect(permit).toMatchObject({ decisionId: 'd-guard-3', params: { to: 'a@example.com' }, failedOpen: false });
    // Reports have nowhere to go and do nothing; other calls that need a server say so.
    await permit.complete({ ok: true }, { durationMs: 5 });
    expect(permit.reported).toBe(true);
    await hp.report(await hp.check('email.send', { params: { to: 'a@example.com' } }).catch(() => 'd-x'), { status: 'success' });
    await expect(hp.getApproval('x')).rejects.toMatchObject({ code: 'replay_offline' });
  });

  it('a recorded deny stays a deny and a recorded pending stays pending', async () => {
    const { entries } = await recorded(async (hp) => {
      await hp.guard('database.drop', { idempotencyKey: 'd1' }).catch(() => undefined);
      await hp.guard('pay.send', { idempotencyKey: 'p1', params: { amount: 5000 } });
    });
    const hp = replaying(entries);
    const denied = await hp.guard('database.drop', { idempotencyKey: 'd1' }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(ActionDenied);
    expect((denied as ActionDenied).reasons[0]).toMatchObject({ rule: 'never-drop' });
    // Waiting changes nothing: the recording holds a pending, not a decision.
    const pending = await hp.guard('pay.send', { idempotencyKey: 'p1', params: { amount: 5000 }, wait: true }).catch((e: unknown) => e);
    expect(pending).toBeInstanceOf(ApprovalPending);
  });

  it('an approved and claimed guard replays as the claimed permit it was', async () => {
    const { entries } = await recorded(async (hp) => {
      await hp.guard('pay.send', { idempotencyKey: 'p2', params: { amount: 5000 } });
    }, { approved: true });
    expect(entries[0]!.answer).toMatchObject({ permit: { kind: 'claimed', claim_token: '0190f4c2-0000-7000-8000-00000000000c' } });
    const permit = await replaying(entries).guard('pay.send', { idempotencyKey: 'p2', params: { amount: 5000 } });
    expect(permit).toMatchObject({ approvalId: approval().id, approver: 'alice', claimToken: '0190f4c2-0000-7000-8000-00000000000c' });
    expect(permit.approvedAt?.toISOString()).toBe('2026-01-01T00:01:00.000Z');
  });

  it('a call with no recording diverges, and so does one more call than was recorded', async () => {
    const { entries } = await recorded((hp) => hp.check('email.send'));
    const hp = replaying(entries);
    await expect(hp.guard('email.send', { idempotencyKey: 'new' })).rejects.toMatchObject({ name: 'ReplayDivergence', code: 'replay_divergence', reason: 'no_recording' });
    await expect(hp.check('email.send', { agentId: 'someone-else' })).rejects.toMatchObject({ reason: 'no_recording' });
    await hp.check('email.send');
    await expect(hp.check('email.send')).rejects.toMatchObject({ reason: 'no_recording', details: { seq: 1 } });
  });

  it('a recorded deny never turns into an allow when the params differ: the call diverges instead', async () => {
    const { entries } = await recorded((hp) => hp.guard('database.drop', { idempotencyKey: 'd1', params: { table: 'users' } }));
    const hp = replaying(entries);
    const err = await hp.guard('database.drop', { idempotencyKey: 'd1', params: { table: 'orders' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplayDivergence);
    expect(err).toMatchObject({ reason: 'params_differ', details: { recorded_hash: entries[0]!.params_hash } });
  });

  it('context, tags and cost are inputs too: another value diverges', async () => {
    const { entries } = await recorded((hp) => hp.check('email.send', { params: { to: 'x' }, context: { user: 'u1' }, tags: ['a'], costUsd: 1 }));
    for (const other of [{ context: { user: 'u2' } }, { tags: ['b'] }, { costUsd: 2 }]) {
      const hp = replaying(entries);
      await expect(hp.check('email.send', { params: { to: 'x' }, context: { user: 'u1' }, tags: ['a'], costUsd: 1, ...other })).rejects.toMatchObject({ reason: 'params_differ' });
    }
    // Key order is not an input: canonical JSON.
    expect(await replaying(entries).check('email.send', { costUsd: 1, tags: ['a'], context: { user: 'u1' }, params: { to: 'x' } })).toMatchObject({ allowed: true });
  });

  it('repeated identical calls get their recorded answers in order (the sequence number)', async () => {
    let i = 0;
    const store = memoryReplayStore();
    const flip: FetchLike = async () =>
      new Response(JSON.stringify({ decision: i++ === 0 ? 'allow' : 'deny', reasons: [], decision_id: `d${i}`, policy_version: 1, matched_rules: [] }), { status: 200 });
    const rec = new Holdpoint({ baseUrl: 'http://holdpoint.test', apiKey: 'k', fetch: flip, replay: { mode: 'record', store } });
    await rec.check('llm.call');
    await rec.check('llm.call');
    expect(store.entries.map((e) => e.seq)).toEqual([0, 1]);
    const hp = new Holdpoint({ fetch: noNetwork, replay: { mode: 'replay', store: memoryReplayStore(store.entries) } });
    expect((await hp.check('llm.call')).allowed).toBe(true);
    expect((await hp.check('llm.call')).denied).toBe(true);
  });

  it('two recordings for one call are ambiguous, not a choice', async () => {
    const { entries } = await recorded((hp) => hp.check('email.send'));
    await expect(replaying([...entries, ...entries]).check('email.send')).rejects.toMatchObject({ reason: 'ambiguous' });
  });

  it('an answer the SDK did not write is refused, never read as an allow', async () => {
    const { entries } = await recorded((hp) => hp.guard('database.drop', { idempotencyKey: 'd1' }));
    const forged = [{ ...entries[0]!, answer: { permit: { kind: 'approved-by-me', params: {} } } }] as unknown as ReplayEntry[];
    await expect(replaying(forged).guard('database.drop', { idempotencyKey: 'd1' })).rejects.toMatchObject({ code: 'replay_file_invalid' });
    const odd = [{ ...entries[0]!, answer: { refusal: { type: 'maybe' } } }] as unknown as ReplayEntry[];
    await expect(replaying(odd).guard('database.drop', { idempotencyKey: 'd1' })).rejects.toMatchObject({ code: 'replay_file_invalid' });
    const notAnEntry = [{ v: 2, method: 'check' }] as unknown as ReplayEntry[];
    await expect(replaying(notAnEntry).check('email.send')).rejects.toMatchObject({ code: 'replay_file_invalid' });
  });

  it('replay.path without the file adapter is a configuration error that names it', () => {
    expect(() => new Holdpoint({ replay: { mode: 'replay', path: 'run.jsonl' } as never })).toThrow(/holdpoint\/client\/replay-file/);
    expect(() => new Holdpoint({ replay: { mode: 'rewind', store: memoryReplayStore() } as never })).toThrow(HoldpointError);
  });
});

describe('the JSON Lines file adapter (holdpoint/client/replay-file)', () => {
  it('records one line per answer and replays from the file with no server', async () => {
    const file = path.join(tmp, 'run.jsonl');
    const { fetch } = server();
    const rec = new Holdpoint({ baseUrl: 'http://holdpoint.test', apiKey: 'k', agentId: 'bot', fetch, replay: recordTo(file) });
    await Promise.all([rec.check('email.send', { params: { n: 1 } }), rec.check('database.drop')]);
    await rec.guard('pay.send', { idempotencyKey: 'p1' }).catch(() => undefined);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => (JSON.parse(l) as ReplayEntry).action).sort()).toEqual(['database.drop', 'email.send', 'pay.send']);

    const hp = new Holdpoint({ agentId: 'bot', fetch: noNetwork, replay: replayFrom(file) });
    expect((await hp.check('database.drop')).denied).toBe(true);
    expect((await hp.check('email.send', { params: { n: 1 } })).allowed).toBe(true);
    await expect(hp.guard('pay.send', { idempotencyKey: 'p1' })).rejects.toBeInstanceOf(ApprovalPending);
  });

  it('a missing file or a line that is not JSON fails the call, naming the file', async () => {
    await expect(new Holdpoint({ replay: replayFrom(path.join(tmp, 'nope.jsonl')) }).check('a')).rejects.toMatchObject({ code: 'replay_file_missing' });
    const bad = path.join(tmp, 'bad.jsonl');
    writeFileSync(bad, '{"v":1}\nnot json\n');
    await expect(replayFile(bad).load()).rejects.toThrow(`${bad}:2 is not JSON`);
  });
});
