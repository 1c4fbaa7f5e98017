// Refuses a JSON body holding a number JSON cannot carry. `1e309` parses to
// Infinity, which compares above every limit in one place and is stored as
// null in the next (jsonb has no Infinity) — the agent must not get to pick.
// One walk over the parsed body, before any route sees it; Hono caches the
// parse, so the routes' validators reuse it. 422 invalid_number, with the path.
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../../errors.ts';

const JSON_TYPE = /^application\/([a-z-.]+\+)?json\b/i;

/** The dotted path of the first non-finite number in a parsed JSON value, if any. */
export function nonFinitePath(v: unknown, at: (string | number)[] = []): (string | number)[] | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : at;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = nonFinitePath(v[i], [...at, i]);
      if (p) return p;
    }
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const p = nonFinitePath(x, [...at, k]);
      if (p) return p;
    }
  }
  return undefined;
}

export function finiteNumbers(): MiddlewareHandler {
  return async (c, next) => {
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'DELETE') return next();
    if (!JSON_TYPE.test(c.req.header('content-type') ?? '')) return next();
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return next(); // malformed JSON: the route's validator answers malformed_json
    }
    const at = nonFinitePath(body);
    if (at) {
      const path = at.join('.') || '(root)';
      throw new AppError('invalid_number', `${path} is not a finite number: JSON numbers must fit a 64-bit float (send big values as strings)`, { path });
    }
    return next();
  };
}
