// `holdpoint/client` must load nothing of the server (postgres, bullmq, hono,
// ioredis, @slack, src/db, …) and nothing Node-only, so it runs on edge
// runtimes. Proved twice: statically over the source's import graph, and at
// runtime by recording every module a fresh Node resolves while importing the
// built package.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.ts';

const SDK = path.join(ROOT, 'src/sdk');
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'hp-sdk-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every import/export specifier in a file, with whether it is type-only. */
function specifiers(file: string): { spec: string; typeOnly: boolean }[] {
  const src = readFileSync(file, 'utf8');
  const out: { spec: string; typeOnly: boolean }[] = [];
  for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?\sfrom\s+['"]([^'"]+)['"]/gm)) out.push({ spec: m[3]!, typeOnly: !!m[2] });
  for (const m of src.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push({ spec: m[1]!, typeOnly: false });
  for (const m of src.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1]!, typeOnly: false });
  return out;
}

/** A child Node that logs every URL its module graph resolves while importing `entry`. */
function resolvedBy(entry: string, preload: string[] = []): { urls: string[]; exports: string[] } {
  const log = path.join(tmp, `resolved-${Math.random().toString(36).slice(2)}.log`);
  const hooks = path.join(tmp, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.HP_RESOLVE_LOG, r.url + '\\n');
  return r;
}`,
  );
  const register = path.join(tmp, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  const r = spawnSync(
    process.execPath,
    [...preload.flatMap((p) => ['--import', p]), '--import', pathToFileURL(register).href, '--input-type=module', '-e', `const m = await import(${JSON.stringify(entry)}); console.log(JSON.stringify(Object.keys(m).sort()));`],
    { cwd: ROOT, env: { ...process.env, HP_RESOLVE_LOG: log }, encoding: 'utf8' },
  );
  expect(r.status, r.stderr).toBe(0);
  const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return { urls, exports: JSON.parse(r.stdout.trim().split('\n').pop()!) as string[] };
}

const PUBLIC = ['ActionClaimed', 'ActionDenied', 'ActionRejected', 'ActionTimeout', 'ApprovalPending', 'AuthError', 'ConnectionError', 'Holdpoint', 'HoldpointError', 'InvalidRequest', 'ReplayDivergence', 'ServerError', 'guardToolCall', 'guardTools', 'memoryReplayStore', 'runToolCall', 'verifyWebhook'];

describe('the SDK boundary', () => {
  it('no file in src/sdk imports anything outside src/sdk — not even a Node builtin', () => {
    const files = readdirSync(SDK, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('index.ts');
    const problems: string[] = [];
    for (const f of files) {
      for (const { spec } of specifiers(path.join(SDK, f))) {
        const inside = spec.startsWith('.') && path.resolve(SDK, path.dirname(f), spec).startsWith(SDK + path.sep);
        if (!inside) problems.push(`${f}: ${spec}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('importing src/sdk/index.ts (through tsx) resolves only files in src/sdk', () => {
    const { urls, exports } = resolvedBy(pathToFileURL(path.join(SDK, 'index.ts')).href, ['tsx']);
    expect(exports).toEqual(PUBLIC);
    const sdkUrl = pathToFileURL(SDK).href + '/';
    expect(urls.length).toBeGreaterThanOrEqual(5);
    expect(urls.filter((u) => !u.startsWith(sdkUrl))).toEqual([]);
  });

  it('`npm run build` emits JS and .d.ts, and `holdpoint/client` from it loads only dist/sdk', () => {
    const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, encoding: 'utf8' });
    expect(build.status, build.stdout + build.stderr).toBe(0);
    const dist = path.join(ROOT, 'dist/sdk');
    const emitted = readdirSync(dist);
    for (const f of ['index.js', 'index.d.ts', 'client.js', 'client.d.ts', 'errors.d.ts', 'webhook.js']) expect(emitted).toContain(f);
    const dts = readFileSync(path.join(dist, 'client.d.ts'), 'utf8');
    expect(dts).toMatch(/guard\(action: string, options: GuardOptions\): Promise<Permit>/);
    expect(dts).toContain('@example');

    const { urls, exports } = resolvedBy('holdpoint/client');
    expect(exports).toEqual(PUBLIC);
    const distUrl = pathToFileURL(dist).href + '/';
    expect(urls[0]).toBe(`${distUrl}index.js`);
    expect(urls.filter((u) => !u.startsWith(distUrl))).toEqual([]);

    // The HaltState compat names are their own sub-path, inside dist/sdk: fetch only as well.
    const compat = resolvedBy('holdpoint/client/compat/haltstate');
    expect(compat.exports).toEqual(['ActionClaimed', 'ActionDenied', 'ActionRejected', 'ActionTimeout', 'ApprovalPending', 'AuthError', 'ConnectionError', 'HaltStateClient', 'HoldpointError', 'InvalidRequest', 'ServerError']);
    expect(compat.urls[0]).toBe(`${distUrl}compat/haltstate.js`);
    expect(compat.urls.filter((u) => !u.startsWith(distUrl))).toEqual([]);

    // The replay file adapter is its own sub-path: the SDK plus node:fs, and nothing of the server.
    const adapter = resolvedBy('holdpoint/client/replay-file');
    expect(adapter.exports).toEqual(['recordTo', 'replayFile', 'replayFrom']);
    const nodeUrl = pathToFileURL(path.join(ROOT, 'dist/sdk-node')).href + '/';
    expect(adapter.urls[0]).toBe(`${nodeUrl}replay-file.js`);
    expect(adapter.urls.filter((u) => !u.startsWith(distUrl) && !u.startsWith(nodeUrl) && !u.startsWith('node:'))).toEqual([]);
  });

  it('`npm pack` carries the built SDK (prepare builds it), and it imports with no dependency installed', () => {
    const out = path.join(tmp, 'pack');
    const pack = spawnSync('npm', ['pack', '--silent', '--pack-destination', tmp], { cwd: ROOT, encoding: 'utf8' });
    expect(pack.status, pack.stdout + pack.stderr).toBe(0);
    const tgz = path.join(tmp, pack.stdout.trim().split('\n').pop()!);
    spawnSync('mkdir', ['-p', out]);
    const untar = spawnSync('tar', ['-xzf', tgz, '-C', out], { encoding: 'utf8' });
    expect(untar.status, untar.stderr).toBe(0);
    const files = readdirSync(path.join(out, 'package/dist/sdk'));
    expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts']));
    // A project that installed only the tarball's SDK: nothing else on the resolution path.
    const probe = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(path.join(out, 'package/dist/sdk/index.js')).href)}); console.log(typeof m.Holdpoint, typeof m.InvalidRequest);`], { cwd: out, encoding: 'utf8' });
    expect(probe.status, probe.stderr).toBe(0);
    expect(probe.stdout.trim()).toBe('function function');
  }, 120_000);
});
