// patches/postgres+3.4.9.patch (applied by `postinstall`) keeps a Postgres
// restart from killing the process or corrupting what comes after it. The three
// repros in bench/chaos run here as tests, each in its own process with its own
// Postgres cluster (they restart it): on the installed driver they must pass,
// and on an unpatched copy — the installed one with the committed patch
// reverse-applied — they must still fail, which shows both that the installed
// driver is patched and that each test would catch the bug without the patch.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.ts';

const PATCH = path.join(ROOT, 'patches', 'postgres+3.4.9.patch');
const INSTALLED = realpathSync(path.join(ROOT, 'node_modules', 'postgres'));
const hasPatch = existsSync(PATCH);

interface Run {
  code: number | null;
  out: string;
}

/** Runs one repro script to its end; HOLDPOINT_PG_DRIVER picks the copy of postgres.js. */
function repro(script: string, driverEntry?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.HOLDPOINT_PG_DRIVER;
    if (driverEntry) env.HOLDPOINT_PG_DRIVER = driverEntry;
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'chaos', script)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 100_000);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const REPROS = [
  { script: 'pg-restart-repro.ts', what: 'open transactions while Postgres restarts: the process survives', bug: /reading 'write'/ },
  { script: 'pg-stale-error-repro.ts', what: 'no query fails with a 57P01 from before the restart', bug: /failed with an error from before the restart/ },
  { script: 'pg-tx-after-close-repro.ts', what: "a transaction's statement after its connection closed fails instead of running outside it", bug: /written outside their transaction/ },
] as const;

describe('postgres.js: the installed driver', () => {
  for (const r of REPROS) {
    it(`${r.script}: ${r.what}`, { timeout: 120_000 }, async () => {
      const run = await repro(r.script);
      expect(run.out).not.toMatch(r.bug);
      expect(run.code, run.out).toBe(0);
    });
  }

  it('pg-restart-repro.ts on the CommonJS copy too', { timeout: 120_000 }, async () => {
    const run = await repro('pg-restart-repro.ts', path.join(INSTALLED, 'cjs', 'src', 'index.js'));
    expect(run.code, run.out).toBe(0);
  });
});

// Without the patch file (upstream fixed it and the patch was dropped) there is
// nothing to check it against: only the repros on the installed driver run.
describe.skipIf(!hasPatch)('postgres.js: the patch, and the driver without it (the control)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'holdpoint-pg-unpatched-'));
    cpSync(INSTALLED, path.join(dir, 'node_modules', 'postgres'), { recursive: true });
    // Fails (and so fails the tests) if the installed copy does not carry exactly this patch.
    execFileSync('git', ['apply', '-R', PATCH], { cwd: dir, stdio: 'pipe' });
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('import and require resolve to the copies the patch changes, and both carry it', () => {
    const esm = fileURLToPath(import.meta.resolve('postgres'));
    const cjs = createRequire(import.meta.url).resolve('postgres');
    expect(path.relative(INSTALLED, realpathSync(esm))).toBe(path.join('src', 'index.js'));
    expect(path.relative(INSTALLED, realpathSync(cjs))).toBe(path.join('cjs', 'src', 'index.js'));
    for (const sub of ['src', path.join('cjs', 'src')]) {
      const conn = readFileSync(path.join(INSTALLED, sub, 'connection.js'), 'utf8');
      expect(conn, `${sub}/connection.js`).toMatch(/function nextWrite\(fn\) \{\n\s+if \(!socket\)/);
      expect(conn, `${sub}/connection.js`).toMatch(/errorResponse = null \/\/ the closed backend's last error/);
      expect(readFileSync(path.join(INSTALLED, sub, 'index.js'), 'utf8'), `${sub}/index.js`).toMatch(/if \(closedError\)/);
    }
  });

  for (const r of REPROS) {
    it(`${r.script} still catches the bug`, { timeout: 120_000 }, async () => {
      const run = await repro(r.script, path.join(dir, 'node_modules', 'postgres', 'src', 'index.js'));
      expect(run.out).toMatch(r.bug);
      expect(run.code, run.out).toBe(1);
    });
  }
});
