// The load generator, in its own process (never the process under test).
// Plain JavaScript so it starts in a blink (no TypeScript loader). Runs
// autocannon with the options in argv[2] (JSON) and prints one line:
// `RESULT {json}`. `[<id>]` in the body becomes a fresh id per request, so
// every guard carries a new idempotency key.
import autocannon from 'autocannon';

const o = JSON.parse(process.argv[2] ?? '{}');

const r = await autocannon({
  url: o.url,
  method: o.method ?? 'GET',
  headers: o.headers ?? {},
  ...(o.body !== undefined ? { body: o.body, idReplacement: o.body.includes('[<id>]') } : {}),
  connections: o.connections,
  ...(o.amount ? { amount: o.amount } : { duration: o.duration ?? 10 }),
  timeout: o.timeout ?? 60,
});

const ok = r['2xx'];
process.stdout.write(
  `RESULT ${JSON.stringify({
    duration_s: r.duration,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    per_second: ok / r.duration,
    latency: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.average },
    status: r.statusCodeStats ?? null,
  })}\n`,
);
process.exit(0);
