// Replay mode: record a run's check / guard answers, then answer a later run
// from that recording with no server (deterministic tests of an agent).
//
// A call is identified by (method, action, agent_id, idempotency key) and by
// its sequence number: how many calls with that identity came before it in the
// run. Its inputs — params, context, tags, cost — are a sha-256 of their
// canonical JSON. A replayed call gets exactly the recorded answer, or throws
// ReplayDivergence: no recording for it, inputs that differ, or two
// recordings that both claim it. It never falls back to the network and
// never allows what the recording did not: a deny stays a deny, a pending
// stays pending.
//
// Storage is injected (ReplayStore), so this file does no I/O and the SDK
// stays importable in browsers and edge runtimes; the JSON Lines file
// adapter for Node is `holdpoint/client/replay-file`.
import { HoldpointError } from './errors.ts';
import { stableJson } from './json.ts';
import { decodeDecision, decodeGuard, encodeDecision, encodePermit, encodeRefusal, type ReplayAnswer } from './replay-codec.ts';
import type { Decision, Permit } from './types.ts';

export type { RecordedDecision, RecordedPermit, RecordedRefusal, ReplayAnswer } from './replay-codec.ts';

/**
 * One recorded call: one line of a JSON Lines recording.
 *
 * @example
 * const e: ReplayEntry = { v: 1, seq: 0, method: 'check', action: 'email.send', agent_id: null, params_hash: 'sha256:…', idempotency_key: null, answer: { decision: { … } } };
 */
export interface ReplayEntry {
  v: 1;
  /** How many calls with the same method, action, agent_id and key came before this one in the run. */
  seq: number;
  method: 'check' | 'guard';
  action: string;
  /** The agent_id sent; null when none was (the server's `default`). */
  agent_id: string | null;
  /** `sha256:<hex>` of the canonical JSON of `{params, context, tags, cost_usd}` as sent. */
  params_hash: string;
  idempotency_key: string | null;
  answer: ReplayAnswer;
}

/**
 * Where a recording lives. `load` is called once, in replay mode; `append`
 * once per answered call, in record mode (and awaited before the call returns).
 *
 * @example
 * const store: ReplayStore = { load: async () => JSON.parse(localStorage.run ?? '[]'), append: async (e) => {  } };
 */
export interface ReplayStore {
  load(): Promise<readonly ReplayEntry[]> | readonly ReplayEntry[];
  append(entry: ReplayEntry): Promise<void> | void;
}

/**
 * `record`: every call goes to Holdpoint as usual, and each check / guard
 * answer is appended to the store. `replay`: every check / guard is answered
 * from the store, nothing reaches the network (other calls throw
 * `replay_offline`, reports do nothing).
 *
 * @example
 * const hp = new Holdpoint({ replay: { mode: 'replay', store: memoryReplayStore(recorded) } });
 */
export interface ReplayOptions {
  mode: 'record' | 'replay';
  store: ReplayStore;
}

/**
 * A check or guard the recording does not hold — none for this call, one
 * whose inputs differ (`details.reason`: `no_recording`, `params_differ`,
 * `ambiguous`), with the call in `details`. It never allows and never falls
 * back to the network.
 *
 * @example
 * try {
 *   await hp.guard('payment.send', { idempotencyKey: 'inv-1', params: { amount: 20 } });
 * } catch (err) {
 *   if (err instanceof ReplayDivergence) console.error('the agent did something new:', err.details);
 * }
 */
export class ReplayDivergence extends HoldpointError {
  readonly reason: 'no_recording' | 'params_differ' | 'ambiguous';

  constructor(reason: ReplayDivergence['reason'], message: string, details: Record<string, unknown>) {
    super('replay_divergence', message, { details: { reason, ...details } });
    this.name = 'ReplayDivergence';
    this.reason = reason;
  }
}

/**
 * A recording held in memory: `entries` is the array appended to (record)
 * or answered from (replay). Useful in tests, and where there is no file.
 *
 * @example
 * const store = memoryReplayStore();
 * await new Holdpoint({ baseUrl, apiKey, replay: { mode: 'record', store } }).check('email.send');
 * const offline = new Holdpoint({ replay: { mode: 'replay', store: memoryReplayStore(store.entries) } });
 */
export function memoryReplayStore(entries: ReplayEntry[] = []): ReplayStore & { entries: ReplayEntry[] } {
  return {
    entries,
    load: () => entries,
    append: (e) => {
      entries.push(e);
    },
  };
}

/** What identifies one call, and the inputs whose hash must match. */
export interface ReplayCall {
  method: 'check' | 'guard';
  action: string;
  agentId: string | null;
  idempotencyKey: string | null;
  /** The snapshot sent: `{params, context?, tags?, cost_usd?}`. */
  inputs: Record<string, unknown>;
}

/**
 * `sha256:<hex>` of the canonical JSON (sorted keys) of a snapshot, by Web
 * Crypto (Node ≥ 20, browsers, Deno, Bun, edge runtimes).
 *
 * @example
 * await inputsHash({ params: { b: 1, a: 2 } }) === await inputsHash({ params: { a: 2, b: 1 } }); // true
 */
export async function inputsHash(inputs: unknown): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new HoldpointError('replay_unavailable', 'replay mode needs Web Crypto (globalThis.crypto.subtle), which this runtime does not have');
  const digest = await subtle.digest('SHA-256', new TextEncoder().encode(stableJson(inputs)));
  return `sha256:${Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

const streamOf = (method: string, action: string, agentId: string | null, key: string | null) => JSON.stringify([method, action, agentId, key]);

function shapeOf(e: unknown, n: number): ReplayEntry {
  const r = e as Partial<ReplayEntry> | null;
  const ok =
    typeof r === 'object' && r !== null && r.v === 1 && Number.isInteger(r.seq) && (r.method === 'check' || r.method === 'guard') &&
    typeof r.action === 'string' && (r.agent_id === null || typeof r.agent_id === 'string') && typeof r.params_hash === 'string' &&
    (r.idempotency_key === null || typeof r.idempotency_key === 'string') && typeof r.answer === 'object' && r.answer !== null;
  if (!ok) throw new HoldpointError('replay_file_invalid', `the replay recording's entry ${n + 1} is not one the SDK wrote`, { details: { entry: e } });
  return r as ReplayEntry;
}

/**
 * The replay machinery one client uses: `check` / `guard` wrap the live
 * call (record) or replace it (replay). Internal to the SDK.
 *
 * @example
 * const r = createReplayer({ mode: 'record', store });
 * const d = await r.check(call, () => liveCheck());
 */
export function createReplayer(options: ReplayOptions) {
  if (!options || (options.mode !== 'record' && options.mode !== 'replay')) {
    throw new HoldpointError('config_invalid', `replay.mode must be 'record' or 'replay'`);
  }
  if (!options.store || typeof options.store.load !== 'function' || typeof options.store.append !== 'function') {
    const path = (options as { path?: unknown }).path;
    throw new HoldpointError(
      'config_invalid',
      path !== undefined
        ? "replay.path needs the file adapter, which is Node-only: replay: recordTo(path) / replayFrom(path) from 'holdpoint/client/replay-file'"
        : 'replay.store must have load() and append()',
    );
  }
  const { mode, store } = options;
  // Record: the next seq per identity. Replay: how many asked so far per identity.
  const counters = new Map<string, number>();
  let recording: Promise<Map<string, ReplayEntry[]>> | undefined;

  async function index(): Promise<Map<string, ReplayEntry[]>> {
    const byStream = new Map<string, ReplayEntry[]>();
    (await store.load()).forEach((raw, n) => {
      const e = shapeOf(raw, n);
      const s = streamOf(e.method, e.action, e.agent_id, e.idempotency_key);
      byStream.set(s, [...(byStream.get(s) ?? []), e]);
    });
    return byStream;
  }

  async function answerFor(call: ReplayCall): Promise<ReplayAnswer> {
    // Loaded once; a failed load is retried by the next call rather than remembered.
    recording ??= index().catch((err: unknown) => {
      recording = undefined;
      throw err;
    });
    const [byStream, hash] = await Promise.all([recording, inputsHash(call.inputs)]);
    const stream = streamOf(call.method, call.action, call.agentId, call.idempotencyKey);
    const seq = counters.get(stream) ?? 0;
    counters.set(stream, seq + 1);
    const details = { method: call.method, action: call.action, agent_id: call.agentId, idempotency_key: call.idempotencyKey, seq, params_hash: hash };
    const what = `${call.method} ${call.action}${call.idempotencyKey ? ` (key ${call.idempotencyKey})` : ''} #${seq}`;
    const found = (byStream.get(stream) ?? []).filter((e) => e.seq === seq);
    if (found.length === 0) throw new ReplayDivergence('no_recording', `the recording holds no answer for ${what}`, details);
    if (found.length > 1) throw new ReplayDivergence('ambiguous', `the recording holds ${found.length} answers for ${what} (two runs recorded into one store?)`, details);
    if (found[0]!.params_hash !== hash) {
      throw new ReplayDivergence('params_differ', `${what} was recorded with other params, context, tags or cost`, { ...details, recorded_hash: found[0]!.params_hash });
    }
    return found[0]!.answer;
  }

  async function record(call: ReplayCall, answer: ReplayAnswer): Promise<void> {
    const stream = streamOf(call.method, call.action, call.agentId, call.idempotencyKey);
    const hash = await inputsHash(call.inputs);
    // Numbered when answered: a call that got no answer (a network failure) takes no number.
    const seq = counters.get(stream) ?? 0;
    counters.set(stream, seq + 1);
    await store.append({ v: 1, seq, method: call.method, action: call.action, agent_id: call.agentId, params_hash: hash, idempotency_key: call.idempotencyKey, answer });
  }

  return {
    mode,

    async check(call: ReplayCall, live: () => Promise<Decision>): Promise<Decision> {
      if (mode === 'replay') return decodeDecision(await answerFor(call));
      const d = await live();
      await record(call, encodeDecision(d));
      return d;
    },

    async guard(call: ReplayCall, live: () => Promise<Permit>): Promise<Permit> {
      if (mode === 'replay') return decodeGuard(await answerFor(call));
      let permit: Permit;
      try {
        permit = await live();
      } catch (err) {
        const refusal = encodeRefusal(err);
        if (refusal) await record(call, refusal);
        throw err;
      }
      await record(call, encodePermit(permit));
      return permit;
    },
  };
}

export type Replayer = ReturnType<typeof createReplayer>;
