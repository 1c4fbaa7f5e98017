// The Python SDK's own suite (clients/python/tests, standard-library unittest)
// as one test of `npm test`: it starts its own `holdpoint start` against this
// run's Postgres and Redis, named under this run's prefix (so the run's
// teardown also removes anything a crashed Python run left behind), and this
// test fails with the suite's output when any Python test fails, errors, is
// skipped, or when fewer tests ran than exist.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { currentRun } from '../helpers/env.ts';
import { ROOT } from '../helpers/processes.ts';

// The command is package.json's `test:python` (run it alone with `npm run test:python`);
// `npm test` runs it here, with this run's names and a check that every test ran.
const [PY, ...PY_ARGS] = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['test:python']!.split(/\s+/);
const PYTHON = process.env.PYTHON ?? PY!;
const TESTS = path.join(ROOT, 'clients/python/tests');

/** How many test methods the suite has, so a module that fails to import (or is not found) cannot pass quietly. */
function testsInSuite(): number {
  return readdirSync(TESTS)
    .filter((f) => /^test_.*\.py$/.test(f))
    .reduce((n, f) => n + (readFileSync(path.join(TESTS, f), 'utf8').match(/^\s+(?:async )?def test_/gm)?.length ?? 0), 0);
}
const TIMEOUT_MS = 10 * 60_000;

function runPython(args: string[], env: Record<string, string>): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout takes the servers it started down with it.
    const p = spawn(PYTHON, args, { cwd: ROOT, env: { ...process.env, ...env }, detached: true });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n[killed after ${TIMEOUT_MS / 1000} s]`;
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, TIMEOUT_MS - 10_000);
    p.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${PYTHON} (the Python SDK's tests need Python ≥ 3.9 on PATH, or PYTHON=…): ${err.message}`));
    });
    p.once('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? sig ?? -1, output });
    });
  });
}

describe('Python SDK (clients/python)', () => {
  it(
    'passes its unittest suite against a real server: every test run, none failed or skipped',
    async () => {
      const { code, output } = await runPython([...PY_ARGS, '-v'], {
        HOLDPOINT_PYTEST_PREFIX: `${currentRun().prefix}py`,
        PYTHONDONTWRITEBYTECODE: '1',
        PYTHONUNBUFFERED: '1',
      });
      const ran = /^Ran (\d+) tests? in /m.exec(output);
      const verdict = output.trimEnd().split('\n').at(-1) ?? '';
      const summary = `python3 -m unittest: exit ${code}, ${ran ? `${ran[1]} tests` : 'no test count'}, "${verdict}"`;
      // On success one line says what ran; on failure the whole output is the message.
      expect(code, `${summary}\n\n${output}`).toBe(0);
      expect(verdict, `${summary}\n\n${output}`).toBe('OK');
      expect(Number(ran?.[1] ?? 0), `${summary}\n\n${output}`).toBe(testsInSuite());
      console.log(`${summary.replace(/"OK"$/, 'all passed')}`);
    },
    TIMEOUT_MS,
  );
});
