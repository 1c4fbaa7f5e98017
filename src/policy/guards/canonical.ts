// A stable hash of a request's params, for spotting identical calls (loops):
// canonical JSON (sorted keys, no undefined), shared with the audit chain, so
// key order does not matter.
import * as crypto from 'node:crypto';
import { canonicalJson } from '../../approvals/chain.ts';

export { canonicalJson };

// crypto.hash (Node ≥ 20.12) is the one-shot form, twice as fast as a Hash object.
const sha256: (s: string) => string =
  typeof crypto.hash === 'function' ? (s) => crypto.hash('sha256', s, 'hex') : (s) => crypto.createHash('sha256').update(s).digest('hex');

// counterQueries and evaluate hash the same params object; hash it once.
// Params are treated as immutable once handed to the engine (the edge parses
// them fresh from each request).
const hashes = new WeakMap<object, string>();

export function paramsHash(params: unknown): string {
  const cacheable = params !== null && typeof params === 'object';
  let h = cacheable ? hashes.get(params) : undefined;
  if (h === undefined) {
    h = sha256(canonicalJson(params));
    if (cacheable) hashes.set(params, h);
  }
  return h;
}
