// Reads a V8 .cpuprofile (node --cpu-prof) and sums time by function, by file
// and by package, optionally only for samples inside a window of the
// monotonic clock (the profile's timestamps are CLOCK_MONOTONIC µs, the same
// clock as process.hrtime in any process on the machine).
import { readFileSync } from 'node:fs';
import { ROOT } from './config.ts';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Entry {
  name: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  window_ms: number;
  sampled_ms: number;
  /** Share of the window the process was on a CPU (not idle). */
  busy_pct: number;
  by_category: Entry[];
  self_by_function: Entry[];
  self_by_file: Entry[];
  /** Holdpoint's own functions (src/, workers/) with everything they call. */
  inclusive_holdpoint: Entry[];
}

function shortUrl(url: string): string {
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(ROOT)) u = u.slice(ROOT.length);
  return u;
}

/** Where a frame's code lives: a package, Holdpoint's own code, Node internals, or V8 pseudo-frames. */
export function category(url: string, fn: string): string {
  if (!url) {
    if (fn.startsWith('(')) return fn; // (idle) (garbage collector) (program) (root)
    return '(native builtins)';
  }
  if (url.startsWith('node:')) {
    const m = /^node:(internal\/)?([^/]+)/.exec(url);
    return `node:${m?.[2] ?? url}`;
  }
  const u = shortUrl(url);
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (u.startsWith('src/') || u.startsWith('workers/') || u.startsWith('bin/')) return `holdpoint ${u.split('/').slice(0, 2).join('/')}`;
  return u;
}

function top(m: Map<string, number>, total: number, n: number): Entry[] {
  return [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, pct: Math.round((us / total) * 1000) / 10 }));
}

export function analyzeProfile(file: string, window?: { startUs: number; endUs: number }, n = 30): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, Node>();
  const parent = new Map<number, number>();
  for (const node of p.nodes) {
    byId.set(node.id, node);
    for (const c of node.children ?? []) parent.set(c, node.id);
  }
  const self = new Map<string, number>();
  const files = new Map<string, number>();
  const cats = new Map<string, number>();
  const incl = new Map<string, number>();
  let t = p.startTime;
  let total = 0;
  let idle = 0;
  const from = window?.startUs ?? -Infinity;
  const to = window?.endUs ?? Infinity;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < from || t > to) continue;
    const dt = p.timeDeltas[i + 1] ?? 0;
    const node = byId.get(p.samples[i]!)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = functionName || '(anonymous)';
    const cat = category(url, fn);
    total += dt;
    if (fn === '(idle)') idle += dt;
    const key = url ? `${fn} ${shortUrl(url)}:${lineNumber + 1}` : fn;
    self.set(key, (self.get(key) ?? 0) + dt);
    const fk = url ? shortUrl(url) : cat;
    files.set(fk, (files.get(fk) ?? 0) + dt);
    cats.set(cat, (cats.get(cat) ?? 0) + dt);
    // Inclusive time of Holdpoint's own frames on this stack (each counted once).
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      const u = shortUrl(f.url);
      if (!(u.startsWith('src/') || u.startsWith('workers/'))) continue;
      const k = `${f.functionName || '(anonymous)'} ${u}:${f.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  }
  const busy = total - idle;
  const windowUs = window ? window.endUs - window.startUs : p.endTime - p.startTime;
  return {
    window_ms: Math.round(windowUs / 1000),
    sampled_ms: Math.round(total / 1000),
    busy_pct: Math.round((busy / (total || 1)) * 1000) / 10,
    // Shares below are of busy (non-idle) time.
    by_category: top(new Map([...cats].filter(([k]) => k !== '(idle)')), busy, n),
    self_by_function: top(new Map([...self].filter(([k]) => k !== '(idle)')), busy, n),
    self_by_file: top(new Map([...files].filter(([k]) => k !== '(idle)')), busy, n),
    inclusive_holdpoint: top(incl, busy, n),
  };
}

export function formatSummary(s: ProfileSummary, n = 20): string {
  const sec = (title: string, es: Entry[]) => [`  ${title}`, ...es.slice(0, n).map((e) => `    ${String(e.pct).padStart(5)} %  ${String(e.ms).padStart(8)} ms  ${e.name}`)].join('\n');
  return [
    `  window ${s.window_ms} ms, on-CPU ${s.busy_pct} % of it (shares below are of on-CPU time)`,
    sec('by package / area (self time)', s.by_category),
    sec('self time by function', s.self_by_function),
    sec('self time by file', s.self_by_file),
    sec('inclusive time, Holdpoint functions', s.inclusive_holdpoint),
  ].join('\n');
}
