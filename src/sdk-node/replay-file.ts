// `holdpoint/client/replay-file`: replay recordings as JSON Lines files, for
// Node (and Deno / Bun with node: builtins). Kept out of holdpoint/client so
// that stays fetch-only and importable in browsers and edge runtimes; this
// is the one SDK module that touches the file system.
/// <reference types="node" />
import { appendFile, readFile } from 'node:fs/promises';
import { HoldpointError } from '../sdk/errors.ts';
import type { ReplayEntry, ReplayOptions, ReplayStore } from '../sdk/replay.ts';

/**
 * A replay store backed by a JSON Lines file: `append` adds one line per
 * answered call (appends are queued, so lines never interleave and keep
 * their order); `load` reads every line. Record into a fresh file: two runs
 * recorded into one file make replay refuse their calls as `ambiguous`.
 *
 * @example
 * import { Holdpoint } from 'holdpoint/client';
 * import { replayFile } from 'holdpoint/client/replay-file';
 *
 * const hp = new Holdpoint({ baseUrl, apiKey, replay: { mode: 'record', store: replayFile('test/fixtures/refund-run.jsonl') } });
 */
export function replayFile(path: string): ReplayStore {
  let queue: Promise<void> = Promise.resolve();
  return {
    async load(): Promise<ReplayEntry[]> {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        const code = (err as { code?: string }).code;
        throw new HoldpointError('replay_file_missing', `cannot read the replay recording ${path}: ${code === 'ENOENT' ? 'no such file (record it first)' : (err as Error).message}`, { cause: err });
      }
      return text.split('\n').flatMap((line, i) => {
        if (line.trim() === '') return [];
        try {
          return [JSON.parse(line) as ReplayEntry];
        } catch (err) {
          throw new HoldpointError('replay_file_invalid', `${path}:${i + 1} is not JSON (${(err as Error).message})`, { cause: err });
        }
      });
    },
    append(entry: ReplayEntry): Promise<void> {
      const line = `${JSON.stringify(entry)}\n`;
      const next = queue.then(() => appendFile(path, line, 'utf8'));
      // One failed append must not block every later one; the failure goes to its own caller.
      queue = next.catch(() => undefined);
      return next;
    },
  };
}

/**
 * `replay` options that record this run into a JSON Lines file.
 *
 * @example
 * const hp = new Holdpoint({ baseUrl, apiKey, replay: recordTo('runs/refund.jsonl') });
 */
export function recordTo(path: string): ReplayOptions {
  return { mode: 'record', store: replayFile(path) };
}

/**
 * `replay` options that answer every check and guard from a recorded JSON
 * Lines file, with no server (`baseUrl` and `apiKey` not needed).
 *
 * @example
 * const hp = new Holdpoint({ replay: replayFrom('runs/refund.jsonl') });
 */
export function replayFrom(path: string): ReplayOptions {
  return { mode: 'replay', store: replayFile(path) };
}
