// The one walk over a JSON body (src/api/middleware/finite-numbers.ts): the
// first value that cannot be carried, with its path; it never recurses past 64.
import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, jsonProblem, jsonProblemError } from '../../src/api/middleware/finite-numbers.ts';

const nest = (depth: number): unknown => (depth === 0 ? 'leaf' : [nest(depth - 1)]);

describe('jsonProblem', () => {
  it('finds a non-finite number, a NUL, a lone surrogate, in values and keys, with the path', () => {
    expect(jsonProblem({ a: [1, Infinity] })).toEqual({ code: 'invalid_number', path: ['a', 1] });
    expect(jsonProblem({ a: { b: 'x\u0000' } })).toEqual({ code: 'invalid_text', path: ['a', 'b'] });
    expect(jsonProblem({ ['k\u0000']: 1 })).toEqual({ code: 'invalid_text', path: ['k\u0000'] });
    expect(jsonProblem({ a: '\ud800x' })).toEqual({ code: 'invalid_text', path: ['a'] });
    expect(jsonProblem({ a: 'x\udfff' })).toEqual({ code: 'invalid_text', path: ['a'] });
    expect(jsonProblem({ a: '\ud83d\ude00', b: 1e308, c: null, d: true })).toBeUndefined();
  });

  it(`allows ${MAX_DEPTH} levels of nesting (the body is the first) and refuses the next`, () => {
    expect(jsonProblem(nest(MAX_DEPTH))).toBeUndefined();
    expect(jsonProblem(nest(MAX_DEPTH + 1))).toEqual({ code: 'too_deep', path: Array(MAX_DEPTH).fill(0) });
  });

  it('stops at the limit, so 100,000 levels cannot overflow the stack', () => {
    let v: unknown = 1;
    for (let i = 0; i < 100_000; i++) v = { a: v };
    expect(jsonProblem(v)?.code).toBe('too_deep');
  });

  it('the error escapes NUL in the path it reports', () => {
    const e = jsonProblemError({ code: 'invalid_text', path: ['params', 'k\u0000'] });
    expect(e.status).toBe(422);
    expect(e.details).toEqual({ path: 'params.k\\u0000' });
    expect(e.message).not.toContain('\u0000');
  });
});
