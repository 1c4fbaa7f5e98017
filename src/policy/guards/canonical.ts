// A stable hash of a request's params, for spotting identical calls (loops).
// Canonical JSON (sorted keys, no undefined) so key order does not matter. A
// local copy of approvals/chain.ts's: src/policy imports nothing outside itself.
import * as crypto from 'node:crypto';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

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
