// The webhook verification vectors in test/vectors/webhooks.json, through the
// TypeScript SDK's verifyWebhook. The Python SDK's verify_webhook runs the same
// file (clients/python/tests/test_webhook.py), so both SDKs accept and refuse
// exactly the same deliveries.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HoldpointError, verifyWebhook } from '../../src/sdk/index.ts';

interface Vector {
  name: string;
  secret: string;
  headers: Record<string, string>;
  body: string;
  now: number;
  valid: boolean;
  event?: unknown;
}

const { vectors } = JSON.parse(readFileSync(new URL('../vectors/webhooks.json', import.meta.url), 'utf8')) as { vectors: Vector[] };

describe('verifyWebhook on the shared vectors', () => {
  it('has vectors of both kinds to check', () => {
    expect(vectors.filter((v) => v.valid).length).toBeGreaterThan(3);
    expect(vectors.filter((v) => !v.valid).length).toBeGreaterThan(8);
  });

  for (const v of vectors) {
    it(`${v.valid ? 'accepts' : 'refuses'} ${v.name}`, async () => {
      const verified = verifyWebhook(v.secret, v.headers, v.body, { now: v.now * 1000 });
      if (v.valid) {
        expect(await verified).toEqual(v.event);
      } else {
        const err = await verified.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(HoldpointError);
        expect(err).toMatchObject({ code: 'invalid_signature' });
      }
    });
  }
});
