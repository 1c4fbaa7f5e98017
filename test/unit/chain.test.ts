import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, chainHash, eventContent, verifyChain, type ChainEvent } from '../../src/approvals/chain.ts';

describe('canonicalJson', () => {
  it('gives the same text whatever order the keys were written in', () => {
    expect(canonicalJson({ b: 1, a: 2, c: 3 })).toBe(canonicalJson({ c: 3, a: 2, b: 1 }));
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it('sorts keys at every depth, including objects inside arrays', () => {
    const v = { z: { y: 1, x: [{ q: 1, p: 2 }] }, a: null };
    expect(canonicalJson(v)).toBe('{"a":null,"z":{"x":[{"p":2,"q":1}],"y":1}}');
  });

  it('keeps the order of array elements', () => {
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
    expect(canonicalJson([3, 1, 2])).not.toBe(canonicalJson([1, 2, 3]));
  });

  it('drops keys whose value is undefined, so they hash like absent keys', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
  });

  it('writes undefined inside arrays and at the top level as null, like JSON.stringify does in arrays', () => {
    expect(canonicalJson([1, undefined, 2])).toBe('[1,null,2]');
    expect(canonicalJson(undefined)).toBe('null');
  });

  it('writes dates as their ISO string and escapes strings as JSON', () => {
    expect(canonicalJson({ at: new Date('2030-01-01T00:00:00.000Z') })).toBe('{"at":"2030-01-01T00:00:00.000Z"}');
    expect(canonicalJson('a"b\n')).toBe('"a\\"b\\n"');
  });

  it('parses back to the same value', () => {
    const v = { amount: 1.5, tags: ['x', 'y'], nested: { ok: true, none: null }, 'ünï': 'cödé' };
    expect(JSON.parse(canonicalJson(v))).toEqual(v);
  });
});

describe('chainHash', () => {
  it('is sha256 of `${seq}.${content}` for the first event, with no previous hash', () => {
    const expected = createHash('sha256').update('1.{"a":1}', 'utf8').digest('hex');
    expect(chainHash(null, 1, '{"a":1}')).toBe(expected);
    expect(chainHash('', 1, '{"a":1}')).toBe(expected);
  });

  it('prefixes the previous hash as raw bytes, not as hex text', () => {
    const prev = 'ab'.repeat(32);
    const expected = createHash('sha256').update(Buffer.from(prev, 'hex')).update('2.x', 'utf8').digest('hex');
    expect(chainHash(prev, 2, 'x')).toBe(expected);
    expect(chainHash(prev, 2, 'x')).not.toBe(chainHash(null, 2, 'x'));
  });

  it('depends on the sequence number', () => {
    expect(chainHash(null, 1, 'x')).not.toBe(chainHash(null, 2, 'x'));
  });
});

function buildChain(n: number, approvalId = 'appr-1'): ChainEvent[] {
  const out: ChainEvent[] = [];
  let prev: string | null = null;
  for (let i = 1; i <= n; i++) {
    const base = {
      id: `evt-${i}`,
      approval_id: approvalId,
      type: i === 1 ? 'requested' : 'voted',
      actor: `actor-${i}`,
      channel: 'api',
      data: { step: i, note: { b: 'two', a: 'one' } },
      created_at: new Date(Date.UTC(2030, 0, 1, 0, 0, i)).toISOString(),
    };
    const hash = chainHash(prev, i, eventContent(base));
    out.push({ ...base, seq: i, prev_hash: prev, hash });
    prev = hash;
  }
  return out;
}

describe('verifyChain', () => {
  it('accepts an intact chain of three events and counts them', () => {
    const chain = buildChain(3);
    expect(verifyChain(chain)).toEqual({ intact: true, checked: 3 });
    expect(verifyChain(chain, { contiguous: true })).toEqual({ intact: true, checked: 3 });
  });

  it('accepts an empty list', () => {
    expect(verifyChain([])).toEqual({ intact: true, checked: 0 });
  });

  it('links each event to the previous one by prev_hash', () => {
    const chain = buildChain(3);
    expect(chain[0]!.prev_hash).toBeNull();
    expect(chain[1]!.prev_hash).toBe(chain[0]!.hash);
    expect(chain[2]!.prev_hash).toBe(chain[1]!.hash);
  });

  it('finds the event whose data was tampered with', () => {
    const chain = buildChain(3);
    chain[1] = { ...chain[1]!, data: { step: 2, note: { a: 'one', b: 'TWO' } } };
    const r = verifyChain(chain);
    expect(r).toMatchObject({ intact: false, checked: 1, broken_at: 'evt-2' });
    if (!r.intact) expect(r.why).toMatch(/content/);
  });

  it.each(['actor', 'type', 'channel', 'created_at', 'approval_id', 'id'] as const)('finds a change to the %s of an event', (field) => {
    const chain = buildChain(3);
    const changed = { ...chain[2]!, [field]: 'tampered' };
    chain[2] = changed;
    expect(verifyChain(chain)).toMatchObject({ intact: false, broken_at: changed.id });
  });

  it('finds a changed sequence number', () => {
    const chain = buildChain(3);
    chain[2] = { ...chain[2]!, seq: 7 };
    expect(verifyChain(chain)).toMatchObject({ intact: false, broken_at: 'evt-3' });
  });

  it('does not care about key order inside data: reordered keys are not tampering', () => {
    const chain = buildChain(3);
    chain[1] = { ...chain[1]!, data: { note: { a: 'one', b: 'two' }, step: 2 } };
    expect(verifyChain(chain).intact).toBe(true);
  });

  it('with contiguous, notices a removed middle event', () => {
    const chain = buildChain(3);
    const gapped = [chain[0]!, chain[2]!];
    const r = verifyChain(gapped, { contiguous: true });
    expect(r).toMatchObject({ intact: false, checked: 1, broken_at: 'evt-3' });
    if (!r.intact) expect(r.why).toMatch(/prev_hash/);
  });

  it('without contiguous, accepts a subset of events because each is checked against its own prev_hash', () => {
    const chain = buildChain(3);
    expect(verifyChain([chain[0]!, chain[2]!])).toEqual({ intact: true, checked: 2 });
  });

  it('notices a rewritten event even when its own hash was recomputed, because the next link no longer matches', () => {
    const chain = buildChain(3);
    const forged = { ...chain[1]!, data: { step: 2, forged: true } };
    forged.hash = chainHash(forged.prev_hash, forged.seq!, eventContent(forged));
    chain[1] = forged;
    expect(verifyChain(chain, { contiguous: true })).toMatchObject({ intact: false, broken_at: 'evt-3' });
  });
});

describe('verifyChain with events the chainer has not linked yet', () => {
  it('counts unchained events instead of failing them', () => {
    const chain = buildChain(2);
    const pending = { ...chain[1]!, id: 'evt-new', seq: null, prev_hash: null, hash: null };
    expect(verifyChain([...chain, pending])).toEqual({ intact: true, checked: 2, unchained: 1 });
  });

  it('in a contiguous check, a chained event after an unchained one is a break', () => {
    const chain = buildChain(3);
    const pending = { ...chain[1]!, seq: null, prev_hash: null, hash: null };
    expect(verifyChain([chain[0]!, pending, chain[2]!], { contiguous: true })).toMatchObject({ intact: false, broken_at: 'evt-3' });
  });
});
