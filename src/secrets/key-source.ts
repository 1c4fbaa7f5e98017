// Where the keyring's keys come from, decided once at boot:
//   1. HOLDPOINT_SECRET_KEY (and HOLDPOINT_SECRET_KEYS_OLD) — production;
//   2. else the file HOLDPOINT_SECRET_KEY_FILE names, created on first use;
//   3. else, with NODE_ENV=production, refuse: a key made up inside a container
//      is lost with it, and every secret sealed under it with the key;
//   4. else ./.holdpoint/secret.key, created on first use, so a first
//      `npm start` just works. Every process that shares the database must
//      share the key: a process with another key refuses to start.
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { createKeyring, parseSecretKey, type Keyring } from './keyring.ts';

export const DEFAULT_KEY_FILE = '.holdpoint/secret.key';

type KeyConfig = Pick<Config, 'HOLDPOINT_SECRET_KEY' | 'HOLDPOINT_SECRET_KEYS_OLD' | 'HOLDPOINT_SECRET_KEY_FILE' | 'NODE_ENV'>;

export function loadKeyring(config: KeyConfig, log: Pick<Logger, 'info'>): Keyring {
  if (config.HOLDPOINT_SECRET_KEY) return createKeyring(config.HOLDPOINT_SECRET_KEY, config.HOLDPOINT_SECRET_KEYS_OLD);
  if (!config.HOLDPOINT_SECRET_KEY_FILE && config.NODE_ENV === 'production') {
    throw new ConfigError(
      'HOLDPOINT_SECRET_KEY is not set (NODE_ENV=production): generate one with `openssl rand -base64 32` and give the same key to every process, or set HOLDPOINT_SECRET_KEY_FILE to a file on persistent storage',
    );
  }
  const file = path.resolve(config.HOLDPOINT_SECRET_KEY_FILE ?? DEFAULT_KEY_FILE);
  return createKeyring(readOrCreateKeyFile(file, log), config.HOLDPOINT_SECRET_KEYS_OLD);
}

function readKeyFile(file: string): Buffer {
  const key = parseSecretKey(readFileSync(file, 'utf8'));
  if (!key) throw new ConfigError(`${file} does not hold a secret key (32 bytes, base64 or hex)`);
  return key;
}

function readOrCreateKeyFile(file: string, log: Pick<Logger, 'info'>): Buffer {
  try {
    return readKeyFile(file);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
  }
  // Written aside, then linked into place: link fails if the name exists, so two
  // processes booting at once agree on one key and nobody reads a half-written file.
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
    log.info(`generated a secret key in ${file} (mode 0600) to encrypt webhook and OIDC client secrets; back it up, and set HOLDPOINT_SECRET_KEY in production`);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  return readKeyFile(file);
}
