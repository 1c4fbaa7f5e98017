import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/ids.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('is a lowercase UUID with version 7 and the RFC 9562 variant', () => {
    for (let i = 0; i < 100; i++) {
      const id = uuidv7();
      expect(id).toMatch(UUID);
      expect(id[14]).toBe('7');
      expect(['8', '9', 'a', 'b']).toContain(id[19]);
    }
  });

  it('carries the given millisecond timestamp in its first 48 bits', () => {
    const ms = Date.UTC(2030, 0, 1, 12, 34, 56, 789);
    const id = uuidv7(ms);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(ms);
    expect(id.slice(0, 13)).toBe(`${ms.toString(16).padStart(12, '0').slice(0, 8)}-${ms.toString(16).padStart(12, '0').slice(8)}`);
  });

  it('sorts as a string in the order of the timestamps it was made at', () => {
    const base = Date.UTC(2030, 0, 1);
    const ids = Array.from({ length: 200 }, (_, i) => uuidv7(base + i * 7));
    const shuffled = [...ids].sort(() => Math.random() - 0.5);
    expect(shuffled.sort()).toEqual(ids);
  });

  it('orders across a change in the high digits of the timestamp', () => {
    expect(uuidv7(0xffffffff) < uuidv7(0x100000000)).toBe(true);
  });

  it('is unique within one millisecond', () => {
    const ms = Date.now();
    const ids = new Set(Array.from({ length: 1000 }, () => uuidv7(ms)));
    expect(ids.size).toBe(1000);
  });

  it('uses the current time by default', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
  });
});
