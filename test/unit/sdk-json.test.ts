// The SDK's wire snapshot: plain JSON or an InvalidRequest naming the path,
// never a value JSON.stringify would silently change or choke on.
import { describe, expect, it } from 'vitest';
import { InvalidRequest } from '../../src/sdk/errors.ts';
import { jsonSnapshot, stableJson } from '../../src/sdk/json.ts';

const refusal = (value: unknown) => {
  try {
    jsonSnapshot(value, 'params');
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequest);
    return { code: (err as InvalidRequest).code, path: ((err as InvalidRequest).details as { path: string }).path };
  }
  throw new Error('expected a refusal');
};

describe('jsonSnapshot', () => {
  it('copies plain JSON as it is, and the copy shares nothing with the original', () => {
    const v = { a: 1, b: [true, null, 'x', { c: -0 }], d: { e: 1.5 } };
    const out = jsonSnapshot(v, 'params') as typeof v;
    expect(out).toEqual(v);
    expect(out.b).not.toBe(v.b);
    expect(JSON.stringify(out)).toBe(JSON.stringify(v));
  });

  it('a __proto__ key stays a data key and never becomes the prototype', () => {
    const out = jsonSnapshot(JSON.parse('{"__proto__":{"admin":true},"x":1}'), 'params') as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect((out as { admin?: boolean }).admin).toBeUndefined();
    expect(JSON.stringify(out)).toBe('{"__proto__":{"admin":true},"x":1}');
  });

  it('uses toJSON as JSON.stringify does, and checks what it returns', () => {
    expect(jsonSnapshot({ at: new Date('2026-01-02T03:04:05.000Z') }, 'params')).toEqual({ at: '2026-01-02T03:04:05.000Z' });
    expect(refusal({ x: { toJSON: () => 10n } })).toEqual({ code: 'not_serialisable', path: 'params.x' });
  });

  it('accepts an object without a prototype, refuses class instances, Maps, Sets and typed arrays', () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    expect(jsonSnapshot(bare, 'params')).toEqual({ a: 1 });
    class Money {
      constructor(readonly cents: number) {}
    }
    for (const v of [new Money(5), new Set([1]), new Map(), new Uint8Array(2), /x/]) expect(refusal({ v }).path).toBe('params.v');
  });

  it('refuses symbol keys, array holes, a getter that throws, and nesting past the limit', () => {
    expect(refusal({ [Symbol('k')]: 1 }).path).toBe('params');
    expect(refusal({ list: [1, , 3] }).path).toBe('params.list.1');
    expect(refusal({ get boom() { throw new Error('no'); } })).toEqual({ code: 'not_serialisable', path: 'params' });
    let deep: unknown = 1;
    for (let i = 0; i < 300; i++) deep = { d: deep };
    expect(refusal(deep).code).toBe('not_serialisable');
  });

  it('the same object twice (not a cycle) is fine', () => {
    const shared = { a: 1 };
    expect(jsonSnapshot({ x: shared, y: [shared] }, 'params')).toEqual({ x: { a: 1 }, y: [{ a: 1 }] });
  });
});

describe('stableJson', () => {
  it('is the same whatever the key order', () => {
    expect(stableJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe(stableJson({ a: [{ c: 3, d: 2 }], b: 1 }));
  });
});
