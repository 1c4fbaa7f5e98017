// Refuses a JSON body holding a value the rest of the system cannot carry,
// in one walk over the parsed body, before any route sees it (Hono caches the
// parse, so the routes' validators reuse it). Each is a 422 with `details.path`:
//
// * invalid_number — `1e309` parses to Infinity, which compares above every
//   limit in one place and is stored as null in the next (jsonb has no
//   Infinity): the agent must not get to pick.
// * invalid_text — a NUL character (\u0000), or a lone UTF-16 surrogate
//   (\ud800 with no partner: not a Unicode character), in a string or a key:
//   Postgres text and jsonb cannot hold one, so it would fail at the insert,
//   after the policy was evaluated and counted (or, in a text column, be
//   silently replaced by U+FFFD).
// * too_deep — nesting past MAX_DEPTH: hashing, rendering and the policy walk
//   recurse, and 2,500 levels overflow the stack. No agent payload needs 64.
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../../errors.ts';

const JSON_TYPE = /^application\/([a-z-.]+\+)?json\b/i;

/** Objects and arrays nested deeper than this are refused (the body itself is level 1). */
export const MAX_DEPTH = 64;

type Path = (string | number)[];

// NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
export type JsonProblem = { code: 'invalid_number' | 'invalid_text' | 'too_deep'; path: Path };

/** The first value in a parsed JSON document that cannot be carried, if any. Never recurses past MAX_DEPTH. */
export function jsonProblem(v: unknown, at: Path = [], depth = 0): JsonProblem | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : { code: 'invalid_number', path: at };
  if (typeof v === 'string') return UNSTORABLE.test(v) ? { code: 'invalid_text', path: at } : undefined;
  if (v === null || typeof v !== 'object') return undefined;
  if (depth + 1 > MAX_DEPTH) return { code: 'too_deep', path: at };
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = jsonProblem(v[i], [...at, i], depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  for (const [k, x] of Object.entries(v)) {
    if (UNSTORABLE.test(k)) return { code: 'invalid_text', path: [...at, k] };
    const p = jsonProblem(x, [...at, k], depth + 1);
    if (p) return p;
  }
  return undefined;
}

/** The dotted path of the first non-finite number in a parsed JSON value, if any. */
export function nonFinitePath(v: unknown): Path | undefined {
  const p = jsonProblem(v);
  return p?.code === 'invalid_number' ? p.path : undefined;
}

/** The AppError for a problem found by jsonProblem. */
export function jsonProblemError(p: JsonProblem): AppError {
  // A NUL or a lone surrogate shown raw in a message or a log line is its own trouble: show it escaped.
  const path = p.path.join('.').replace(new RegExp(UNSTORABLE.source, 'g'), (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`) || '(root)';
  switch (p.code) {
    case 'invalid_number':
      return new AppError('invalid_number', `${path} is not a finite number: JSON numbers must fit a 64-bit float (send big values as strings)`, { path });
    case 'invalid_text':
      return new AppError('invalid_text', `${path} holds a NUL character (\\u0000) or a lone UTF-16 surrogate, which cannot be stored: remove it or encode the value (e.g. base64)`, { path });
    case 'too_deep':
      return new AppError('too_deep', `${path} nests deeper than ${MAX_DEPTH} levels of objects and arrays`, { path, max_depth: MAX_DEPTH });
  }
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
    const problem = jsonProblem(body);
    if (problem) throw jsonProblemError(problem);
    return next();
  };
}
