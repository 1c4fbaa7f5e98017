// Percentiles and rounding for what the bench prints. Nothing is asserted.

/** Nearest-rank percentile of unsorted samples; NaN for none. */
export function pct(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export interface LatencySummary {
  samples: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
}

export function summarize(xs: readonly number[]): LatencySummary {
  const finite = xs.filter(Number.isFinite);
  const mean = finite.reduce((a, b) => a + b, 0) / (finite.length || 1);
  return {
    samples: xs.length,
    p50_ms: round(pct(finite, 50)),
    p90_ms: round(pct(finite, 90)),
    p99_ms: round(pct(finite, 99)),
    max_ms: round(finite.length ? Math.max(...finite) : NaN),
    mean_ms: round(mean),
  };
}

/** Holdpoint / floor, or null when either side is missing. */
export function ratio(holdpoint: number | null | undefined, floor: number | null | undefined): number | null {
  if (!holdpoint || !floor || !Number.isFinite(holdpoint) || !Number.isFinite(floor)) return null;
  return round(holdpoint / floor, 3);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Monotonic microseconds, on the same clock (CLOCK_MONOTONIC) as V8 CPU profiles of other processes. */
export const monoMicros = () => Number(process.hrtime.bigint() / 1000n);
