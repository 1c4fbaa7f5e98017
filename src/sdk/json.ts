// What goes on the wire is a snapshot taken here, once: plain JSON, checked
// value by value. JSON.stringify would throw on a cycle or a BigInt (which the
// transport used to mistake for a network error, and failOpen for an outage)
// and would silently change the rest — NaN and ±Infinity become null (an
// `amount: Infinity` then slips past `gt: 1000`), functions, symbols and a Map's
// entries vanish, undefined in an array becomes null. So every one of those is
// refused with the path to it, before any request; the snapshot is what the
// policy sees and what a Permit carries.
import { InvalidRequest } from './errors.ts';

/** Deeper than this is a bug or an attack, not params. */
const MAX_DEPTH = 256;

const kind = (v: unknown): string => {
  if (typeof v === 'bigint') return 'a BigInt';
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  if (v === undefined) return 'undefined';
  const name = (v as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object with a non-plain prototype';
};

function refuse(path: string, problem: string, code = 'not_serialisable', cause?: unknown): never {
  throw new InvalidRequest(code, `${path || 'the request'} ${problem}`, { details: { path, problem }, ...(cause === undefined ? {} : { cause }) });
}

const at = (path: string, k: string | number) => (path === '' ? String(k) : `${path}.${k}`);

function copy(v: unknown, path: string, seen: Set<object>, depth: number): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) refuse(path, `is ${v}, which is not a JSON number (it would be sent as null)`, 'invalid_number');
    return v;
  }
  if (typeof v !== 'object') refuse(path, `is ${kind(v)}, which JSON cannot carry`);
  if (depth > MAX_DEPTH) refuse(path, `is nested more than ${MAX_DEPTH} levels deep`);
  if (seen.has(v)) refuse(path, 'refers back to one of its own parents (a cycle)');
  // toJSON is what JSON.stringify would send (a Date becomes its ISO string); check what it gives.
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    seen.add(v);
    const out = copy(toJSON.call(v, path.slice(path.lastIndexOf('.') + 1)), path, seen, depth + 1);
    seen.delete(v);
    return out;
  }
  seen.add(v);
  let out: unknown;
  if (Array.isArray(v)) {
    out = Array.from({ length: v.length }, (_, i) => {
      if (v[i] === undefined) refuse(at(path, i), 'is undefined, which JSON sends as null in an array');
      return copy(v[i], at(path, i), seen, depth + 1);
    });
  } else {
    const proto = Object.getPrototypeOf(v);
    // A Map, a Set, a class instance: JSON would send its own fields or nothing at all.
    if (proto !== Object.prototype && proto !== null) refuse(path, `is ${kind(v)}, which JSON cannot carry faithfully: pass a plain object`);
    if (Object.getOwnPropertySymbols(v).some((s) => Object.prototype.propertyIsEnumerable.call(v, s))) refuse(path, 'has symbol keys, which JSON drops');
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      const x = (v as Record<string, unknown>)[k];
      // As JSON.stringify does: an undefined property is simply absent.
      if (x === undefined) continue;
      // defineProperty, so a `__proto__` key stays data and never becomes the prototype.
      Object.defineProperty(o, k, { value: copy(x, at(path, k), seen, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    out = o;
  }
  seen.delete(v);
  return out;
}

/**
 * A plain-JSON deep copy of `value`, or `InvalidRequest` naming the first
 * thing JSON cannot carry faithfully (`details.path`, under `path`): code
 * `invalid_number` for NaN and ±Infinity (as the server says), else
 * `not_serialisable`. A getter or toJSON that throws is refused too.
 * Undefined object properties are left out, as JSON does.
 *
 * @example
 * const body = jsonSnapshot({ action, params }, 'request'); // throws before anything is sent
 */
export function jsonSnapshot(value: unknown, path: string): unknown {
  try {
    return copy(value, path, new Set(), 0);
  } catch (err) {
    if (err instanceof InvalidRequest) throw err;
    // A getter or toJSON that throws, a revoked Proxy, a stack overflow: still the caller's value, not the network.
    return refuse(path, `could not be read as JSON (${(err as Error)?.message ?? err})`, 'not_serialisable', err);
  }
}

/**
 * Canonical JSON (sorted keys) of a snapshot, to compare two of them.
 *
 * @example
 * stableJson({ b: 1, a: 2 }) === stableJson({ a: 2, b: 1 }); // true
 */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const entries = Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
