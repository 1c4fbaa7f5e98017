// Architecture lint: the rules tsc cannot check.
//  * src/approvals and src/policy are pure: no I/O modules, no clock.
//  * Only src/config.ts reads process.env (and the SDK, which is client code
//    with its own HOLDPOINT_URL / HOLDPOINT_API_KEY fallbacks).
//  * src/sdk imports nothing from the server side.
//  * src/sdk-node (the SDK's Node-only file adapter) imports only src/sdk and
//    node: builtins, so holdpoint/client/replay-file carries nothing of the server either.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const problems: string[] = [];

function files(dir: string): string[] {
  const abs = path.join(root, dir);
  try {
    statSync(abs);
  } catch {
    return [];
  }
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.tsx?$/.test(f))
    .map((f) => path.join(dir, f));
}

const IO = /from ['"](postgres|bullmq|ioredis|hono|@hono\/[^'"]+|@slack\/[^'"]+|node:(fs|net|http|https|dns|child_process|fs\/promises)|\.\.\/(db|queue|api|services|webhooks|slack)\/[^'"]*)['"]/;
const CLOCK = /\bDate\.now\(\)|new Date\(\)|performance\.now\(\)|setTimeout\(|setInterval\(/;

for (const f of [...files('src/approvals'), ...files('src/policy')]) {
  readFileSync(path.join(root, f), 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (IO.test(line)) problems.push(`${f}:${i + 1}: the pure core must not import I/O: ${line.trim()}`);
      if (CLOCK.test(line.replace(/\/\/.*$/, ''))) problems.push(`${f}:${i + 1}: the pure core must not read the clock: ${line.trim()}`);
    });
}

for (const f of [...files('src'), ...files('workers')]) {
  if (f === path.join('src', 'config.ts') || f.startsWith(path.join('src', 'sdk') + path.sep)) continue;
  readFileSync(path.join(root, f), 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (/process\.env\b/.test(line)) problems.push(`${f}:${i + 1}: only src/config.ts reads process.env`);
    });
}

for (const f of files('src/sdk')) {
  readFileSync(path.join(root, f), 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (/from ['"](postgres|bullmq|ioredis|hono|@slack\/|\.\.\/(db|queue|api|services|workers)\/)/.test(line)) {
        problems.push(`${f}:${i + 1}: the SDK must not import server code: ${line.trim()}`);
      }
    });
}

for (const f of files('src/sdk-node')) {
  readFileSync(path.join(root, f), 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const m = /^\s*(?:import|export)\b[^'"]*?(?:from\s+)?['"]([^'"]+)['"]/.exec(line);
      if (m && !m[1]!.startsWith('node:') && !m[1]!.startsWith('../sdk/')) {
        problems.push(`${f}:${i + 1}: the SDK's Node adapter may import only src/sdk and node: builtins: ${line.trim()}`);
      }
    });
}

if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('lint: ok (pure core, config, sdk boundaries)');
