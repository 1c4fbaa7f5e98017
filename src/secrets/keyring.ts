// Secrets at rest: AES-256-GCM envelopes under a keyring (node:crypto only, no I/O).
//
// Envelope: `v1:<kid>:<iv>:<tag>:<ciphertext>`, each part base64url. The key id
// is derived from the key itself (a fingerprint), so rotating needs nothing but
// the keys: HOLDPOINT_SECRET_KEY seals, it and HOLDPOINT_SECRET_KEYS_OLD open.
// The additional data binds an envelope to its column and row, so a sealed
// value copied into another tenant's row does not open there.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export const ENVELOPE_VERSION = 'v1';

/** Why a sealed secret could not be opened. Never swallowed: a wrong key must not become a wrong signature. */
export class SecretKeyError extends Error {
  constructor(
    readonly reason: 'unknown_key' | 'undecryptable' | 'malformed',
    message: string,
  ) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

export interface Keyring {
  /** The id of HOLDPOINT_SECRET_KEY: everything sealed now is sealed under it. */
  readonly currentKid: string;
  /** Every key id this keyring can open (current first). */
  readonly kids: readonly string[];
  seal(plaintext: string, context: string): string;
  open(envelope: string, context: string): string;
  /** The key id an envelope names, or null when it is not an envelope. */
  kidOf(envelope: string): string | null;
}

/** A key as configured: 32 bytes as 64 hex digits or base64 / base64url (`openssl rand -base64 32`). */
export function parseSecretKey(text: string): Buffer | null {
  const s = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(s)) {
    const b = Buffer.from(s, 'base64');
    if (b.length === 32) return b;
  }
  return null;
}

/** The key's public fingerprint: 8 base64url characters of a domain-separated sha-256. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('holdpoint secret key id\0').update(key).digest().subarray(0, 6).toString('base64url');
}

const b64 = (b: Buffer) => b.toString('base64url');
const aad = (context: string) => Buffer.from(`holdpoint:${ENVELOPE_VERSION}:${context}`, 'utf8');

export function createKeyring(current: Buffer, old: readonly Buffer[] = []): Keyring {
  if (current.length !== 32) throw new Error('the secret key must be 32 bytes');
  const keys = new Map<string, Buffer>();
  const currentKid = keyId(current);
  keys.set(currentKid, current);
  for (const k of old) {
    if (k.length !== 32) throw new Error('every old secret key must be 32 bytes');
    if (!keys.has(keyId(k))) keys.set(keyId(k), k);
  }
  const kids = [...keys.keys()];

  const kidOf = (envelope: string): string | null => {
    const parts = envelope.split(':');
    return parts.length === 5 && parts[0] === ENVELOPE_VERSION ? parts[1]! : null;
  };

  return {
    currentKid,
    kids,
    kidOf,
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      cipher.setAAD(aad(context));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [ENVELOPE_VERSION, currentKid, b64(iv), b64(cipher.getAuthTag()), b64(ct)].join(':');
    },
    open(envelope, context) {
      const kid = kidOf(envelope);
      if (kid === null) throw new SecretKeyError('malformed', `the stored ${context.split(':')[0]} is not a ${ENVELOPE_VERSION} envelope`);
      const key = keys.get(kid);
      if (!key) {
        throw new SecretKeyError(
          'unknown_key',
          `the stored ${context.split(':')[0]} is encrypted under secret key ${kid}, which is neither HOLDPOINT_SECRET_KEY (key ${currentKid}) nor in HOLDPOINT_SECRET_KEYS_OLD (${kids.slice(1).join(', ') || 'none'}): set the key it was encrypted with`,
        );
      }
      const [, , iv, tag, ct] = envelope.split(':') as [string, string, string, string, string];
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        decipher.setAAD(aad(context));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretKeyError('undecryptable', `the stored ${context.split(':')[0]} does not decrypt under secret key ${kid}: it was altered, or copied from another row`);
      }
    },
  };
}
