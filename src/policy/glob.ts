// Action and agent globs: `*` matches any run of characters (dots included),
// `?` one character; everything else is literal. Both the glob and the value
// are normalised first (./normalize.ts: NFKC, invisible characters removed,
// trimmed, case folded), because the agent writes the value. Pure.
//
// Matching is linear in practice and O(|glob|·|value|) at worst: a greedy
// two-pointer walk that remembers only the last `*` and, on a mismatch,
// retries from there one character further. Earlier stars never need
// revisiting (whatever the last star cannot absorb, no earlier one could), so
// `*a*a*a*a*a*a*a*a*b` against a long run of `a`s costs one pass per retry,
// not the exponential blow-up of a backtracking RegExp.
import { normalizeText } from './normalize.ts';

const STAR = 42; // '*'
const ONE = 63; // '?'

/** Does `value` match `glob`, exactly as given (no normalisation)? */
export function globMatchRaw(glob: string, value: string): boolean {
  let g = 0;
  let v = 0;
  let star = -1; // index in glob just after the last `*` seen
  let resume = 0; // where in value that star's run currently ends
  while (v < value.length) {
    const c = g < glob.length ? glob.charCodeAt(g) : -1;
    if (c === STAR) {
      star = ++g;
      resume = v;
    } else if (c !== -1 && (c === ONE || c === value.charCodeAt(v))) {
      g++;
      v++;
    } else if (star !== -1) {
      g = star;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob.charCodeAt(g) === STAR) g++;
  return g === glob.length;
}

// Globs come from the policy (few, reused); values change per call.
const normalized = new Map<string, string>();
function normalGlob(glob: string): string {
  let n = normalized.get(glob);
  if (n === undefined) {
    n = normalizeText(glob);
    if (normalized.size > 10_000) normalized.clear();
    normalized.set(glob, n);
  }
  return n;
}

let lastValue = '';
let lastNormal = '';
function normalValue(value: string): string {
  if (value !== lastValue) {
    lastValue = value;
    lastNormal = normalizeText(value);
  }
  return lastNormal;
}

export function globMatch(pattern: string | readonly string[] | undefined, value: string): boolean {
  if (pattern === undefined) return true;
  const v = normalValue(value);
  if (typeof pattern === 'string') return globMatchRaw(normalGlob(pattern), v);
  return pattern.some((g) => globMatchRaw(normalGlob(g), v));
}
