// Drives an HTTP endpoint from a separate process (autocannon) and returns
// throughput and latency. Latencies count 2xx responses only (autocannon).
import { ROOT } from './config.ts';
import { spawn } from 'node:child_process';
import { track } from './processes.ts';
import { round } from './stats.ts';

export interface LoadOpts {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** JSON body; `[<id>]` is replaced by a fresh id per request. */
  body?: unknown;
  connections: number;
  duration?: number;
  amount?: number;
}

export interface LoadResult {
  connections: number;
  duration_s: number;
  requests_ok: number;
  non2xx: number;
  errors: number;
  per_second: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
}

export async function runLoad(o: LoadOpts): Promise<LoadResult> {
  const body = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  const opts = {
    url: o.url,
    method: o.method ?? (body ? 'POST' : 'GET'),
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...o.headers },
    body,
    connections: o.connections,
    duration: o.duration,
    amount: o.amount,
  };
  const child = track(spawn(process.execPath, [`${ROOT}bench/lib/load-child.mjs`, JSON.stringify(opts)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  const code = await child.exited;
  const line = child.output().split('\n').find((l) => l.startsWith('RESULT '));
  if (code !== 0 || !line) throw new Error(`load generator failed (${code}):\n${child.output()}`);
  const r = JSON.parse(line.slice(7)) as {
    duration_s: number;
    ok: number;
    non2xx: number;
    errors: number;
    timeouts: number;
    per_second: number;
    latency: { p50: number; p90: number; p99: number; max: number };
    status: Record<string, { count: number }> | null;
  };
  if (r.non2xx > 0 || r.errors > 0) {
    console.warn(`  ! ${o.url}: ${r.non2xx} non-2xx, ${r.errors} errors (${JSON.stringify(r.status)})`);
  }
  return {
    connections: o.connections,
    duration_s: round(r.duration_s),
    requests_ok: r.ok,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    per_second: round(r.per_second, 1),
    p50_ms: r.latency.p50,
    p90_ms: r.latency.p90,
    p99_ms: r.latency.p99,
    max_ms: r.latency.max,
  };
}
