// tags and costUsd on check / guard: sent as `tags` and `cost_usd` when
// valid, refused as InvalidRequest before any request when the server would
// refuse them — never retried, never opened by failOpen.
import { describe, expect, it } from 'vitest';
import { Holdpoint, InvalidRequest, type FetchLike } from '../../src/sdk/index.ts';
import { MAX_TAGS, checkTags } from '../../src/sdk/fields.ts';

function capture() {
  const bodies: Record<string, unknown>[] = [];
  const fetch: FetchLike = async (_input, init) => {
    bodies.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
    return new Response(JSON.stringify({ decision: 'allow', status: 'allowed', reasons: [], decision_id: 'd1', policy_version: 1, matched_rules: [], redacted_paths: [], approval: null }), { status: 200 });
  };
  return { bodies, hp: new Holdpoint({ baseUrl: 'http://holdpoint.test', apiKey: 'k', failOpen: true, fetch }) };
}

describe('tags and costUsd', () => {
  it('are sent as tags and cost_usd by check and guard (both forms)', async () => {
    const { hp, bodies } = capture();
    await hp.check('llm.call', { tags: ['team:search', 'run/42'], costUsd: 0.02 });
    await hp.guard('llm.call', { idempotencyKey: 'k1', tags: ['a.b_c-d'], costUsd: 0 });
    await hp.guard('llm.call', { prompt: 'hi' }, 'k2', { tags: ['x'], costUsd: 1.5 });
    expect(bodies.map((b) => [b.tags, b.cost_usd])).toEqual([
      [['team:search', 'run/42'], 0.02],
      [['a.b_c-d'], 0],
      [['x'], 1.5],
    ]);
    expect(bodies[2]).toMatchObject({ params: { prompt: 'hi' }, idempotency_key: 'k2' });
  });

  it('are left out when not given', async () => {
    const { hp, bodies } = capture();
    await hp.check('llm.call');
    expect(Object.keys(bodies[0]!)).toEqual(['action', 'params']);
  });

  it.each([
    ['a tag with a space', ['has space'], 'tags.0'],
    ['an empty tag', [''], 'tags.0'],
    ['a tag starting with a dash', ['-x'], 'tags.0'],
    ['a tag starting with a slash', ['ok', '/etc'], 'tags.1'],
    ['a 65-character tag', ['x'.repeat(65)], 'tags.0'],
    ['a tag that is not a string', ['ok', 7], 'tags.1'],
    [`more than ${MAX_TAGS} tags`, Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`), 'tags'],
    ['tags that are not an array', 'billing', 'tags'],
  ])('%s is InvalidRequest before anything is sent, even with failOpen', async (_what, tags, at) => {
    const { hp, bodies } = capture();
    await expect(hp.check('llm.call', { tags: tags as string[] })).rejects.toMatchObject({ name: 'InvalidRequest', code: 'validation_failed', details: { path: at } });
    await expect(hp.guard('llm.call', { idempotencyKey: 'k', tags: tags as string[] })).rejects.toBeInstanceOf(InvalidRequest);
    expect(bodies).toEqual([]);
  });

  it('a negative, infinite or absurd cost is InvalidRequest before anything is sent', async () => {
    const { hp, bodies } = capture();
    for (const costUsd of [-0.01, Number.POSITIVE_INFINITY, Number.NaN, 2e9, '1' as unknown as number]) {
      await expect(hp.check('llm.call', { costUsd })).rejects.toMatchObject({ code: 'validation_failed', details: { path: 'costUsd' } });
    }
    expect(bodies).toEqual([]);
  });

  it('exactly the limits pass: 20 tags of 64 characters', () => {
    const tags = Array.from({ length: MAX_TAGS }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(62)}`);
    expect(checkTags(tags)).toEqual(tags);
  });
});
