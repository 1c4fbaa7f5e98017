import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { createKeyring, keyId, parseSecretKey, SecretKeyError } from '../../src/secrets/keyring.ts';
import { webhookHeaders } from '../../src/webhooks/sign.ts';

const key = randomBytes(32);

describe('the secret keyring', () => {
  it('seals into a v1 envelope naming the key, and opens it again', () => {
    const ring = createKeyring(key);
    const env = ring.seal('whsec_abc', 'tenants.webhook_secret:t1');
    expect(env).toMatch(/^v1:[A-Za-z0-9_-]{8}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$/);
    expect(env.split(':')[1]).toBe(keyId(key));
    expect(env).not.toContain('whsec_abc');
    expect(ring.open(env, 'tenants.webhook_secret:t1')).toBe('whsec_abc');
    expect(ring.seal('whsec_abc', 'tenants.webhook_secret:t1')).not.toBe(env); // a fresh IV each time
  });

  it('an envelope copied to another row or altered does not open', () => {
    const ring = createKeyring(key);
    const env = ring.seal('whsec_abc', 'tenants.webhook_secret:t1');
    expect(() => ring.open(env, 'tenants.webhook_secret:t2')).toThrow(SecretKeyError);
    const parts = env.split(':');
    parts[4] = Buffer.from('whsec_abd').toString('base64url');
    expect(() => ring.open(parts.join(':'), 'tenants.webhook_secret:t1')).toThrow(/does not decrypt under secret key/);
    expect(() => ring.open('whsec_plain', 'x:1')).toThrow(expect.objectContaining({ reason: 'malformed' }));
  });

  it('old keys open, only the current key seals', () => {
    const old = createKeyring(key);
    const env = old.seal('s', 'c');
    const next = createKeyring(randomBytes(32), [key]);
    expect(next.open(env, 'c')).toBe('s');
    expect(next.kidOf(next.seal('s', 'c'))).toBe(next.currentKid);
    expect(() => createKeyring(randomBytes(32)).open(env, 'c')).toThrow(expect.objectContaining({ reason: 'unknown_key' }));
  });

  it('reads keys as base64 (openssl rand -base64 32), base64url or 64 hex digits, and nothing shorter', () => {
    expect(parseSecretKey(key.toString('base64'))!.equals(key)).toBe(true);
    expect(parseSecretKey(` ${key.toString('base64url')}\n`)!.equals(key)).toBe(true);
    expect(parseSecretKey(key.toString('hex'))!.equals(key)).toBe(true);
    expect(parseSecretKey(randomBytes(16).toString('base64'))).toBeNull();
    expect(parseSecretKey('')).toBeNull();
  });
});

describe('signing with two secrets', () => {
  it('puts both signatures, new first, space-separated; either secret verifies with standardwebhooks', () => {
    const a = `whsec_${randomBytes(24).toString('base64')}`;
    const b = `whsec_${randomBytes(24).toString('base64')}`;
    const ts = Math.floor(Date.now() / 1000);
    const h = webhookHeaders([a, b], 'evt_1', ts, '{"x":1}');
    expect(h['webhook-signature']).toMatch(/^v1,\S+ v1,\S+$/);
    expect(new Webhook(a).verify('{"x":1}', h)).toEqual({ x: 1 });
    expect(new Webhook(b).verify('{"x":1}', h)).toEqual({ x: 1 });
    expect(() => new Webhook(`whsec_${randomBytes(24).toString('base64')}`).verify('{"x":1}', h)).toThrow();
    expect(() => webhookHeaders([], 'evt_1', ts, '{}')).toThrow();
  });
});
