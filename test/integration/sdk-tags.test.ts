// Tags from the SDK reach the decision log. The server side of `tags` is
// built on branch `ledger`: until it is merged the server refuses the field
// (400 validation_failed, GuardBody / CheckBody are strict) and this file
// fails — which is what it is for. It asks the decision log over the API
// (GET /v1/decisions), so it does not depend on how the column is named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Holdpoint } from '../../src/sdk/index.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

let h: Harness;
let t: TenantKeys;
let base: string;

beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
  await h.setPolicy(t, { defaults: { decision: 'allow' } });
  base = await h.listen();
});
afterAll(() => h.close());

const logged = async (id: string | null) => {
  const r = await h.call('GET', '/v1/decisions?limit=50', t.admin);
  expect(r.status).toBe(200);
  return (r.body.data as { id: string; tags?: string[] }[]).find((d) => d.id === id);
};

describe('tags end to end', () => {
  it('check and guard send tags that the decision log keeps', async () => {
    const hp = new Holdpoint({ baseUrl: base, apiKey: t.agent, retryDelayMs: 10 });
    const d = await hp.check('llm.call', { tags: ['team:search', 'run/42'], costUsd: 0.01 });
    expect(d.allowed).toBe(true);
    expect((await logged(d.decisionId))?.tags).toEqual(['team:search', 'run/42']);
    const permit = await hp.guard('llm.call', { prompt: 'hi' }, 'tags-guard-1', { tags: ['a.b_c-d'] });
    expect((await logged(permit.decisionId))?.tags).toEqual(['a.b_c-d']);
    await permit.complete();
  });
});
