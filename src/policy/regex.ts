// Regular expressions written in policies (condition `matches`, sensitive_data
// `custom` patterns) run on the agent's input, so they run on RE2 (re2js, a
// pure-JS port): time linear in the input, whatever the pattern. RE2 has no
// lookaround and no backreferences — the constructs that make a backtracking
// engine exponential — so a policy using them is refused when it is PUT, with
// the construct named. Our own built-in detectors stay JS RegExp. Pure.
import { RE2JS } from 're2js';
import { z } from 'zod';

// What a JS-regex author is likely to write that RE2 refuses, most specific first.
const UNSUPPORTED: { re: RegExp; what: string }[] = [
  { re: /\(\?<[=!]/, what: 'lookbehind "(?<=" / "(?<!"' },
  { re: /\(\?[=!]/, what: 'lookahead "(?=" / "(?!"' },
  { re: /\(\?>/, what: 'atomic group "(?>"' },
  { re: /\\[1-9]|\\k</, what: 'backreference ("\\1", "\\k<name>")' },
  { re: /[*+?}][+]/, what: 'possessive quantifier ("*+", "++", "?+")' },
];

/** Why RE2 will not compile `pattern` (naming the construct), or undefined when it compiles. */
export function re2Problem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    const hit = UNSUPPORTED.find((u) => u.re.test(pattern));
    if (hit) return `unsupported regular expression syntax: ${hit.what}; patterns run on RE2 (linear time), which has no lookaround or backreferences`;
    return `not a valid RE2 regular expression: ${detail.replace(/^error parsing regexp: /, '')}`;
  }
}

/** A policy field holding a pattern: validated by compiling it with RE2. */
export const re2Pattern = (max: number, min = 1) =>
  z
    .string()
    .min(min)
    .max(max)
    .superRefine((s, ctx) => {
      const problem = re2Problem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

/**
 * The same pattern with every capturing group made non-capturing. We only ever
 * use whole-match bounds, and re2js's Matcher is several times faster with no
 * groups to track. Match positions do not depend on captures in RE2.
 */
export function withoutCaptures(p: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      if (p[i + 1] === 'Q') {
        // \Q…\E: everything literal up to \E (or the end).
        const end = p.indexOf('\\E', i + 2);
        const stop = end === -1 ? p.length : end + 2;
        out += p.slice(i, stop);
        i = stop - 1;
      } else {
        out += c + (p[i + 1] ?? '');
        i++;
      }
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (p[i + 1] === '^') out += p[++i];
      if (p[i + 1] === ']') out += p[++i]; // a leading ] is literal
      continue;
    }
    if (c === '(') {
      if (p[i + 1] !== '?') {
        out += '(?:';
        continue;
      }
      const named = /^\(\?P?<[A-Za-z0-9_]+>/.exec(p.slice(i));
      if (named) {
        out += '(?:';
        i += named[0].length - 1;
        continue;
      }
    }
    out += c;
  }
  return out;
}

// Compiled once per pattern: policies are evaluated far more often than they change.
const compiled = new Map<string, RE2JS>();

export function re2(pattern: string): RE2JS {
  let re = compiled.get(pattern);
  if (!re) {
    RE2JS.compile(pattern); // the pattern as written must compile (its errors are the ones to report)
    try {
      re = RE2JS.compile(withoutCaptures(pattern));
    } catch {
      re = RE2JS.compile(pattern);
    }
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

/** Does `pattern` match anywhere in `s`? (JS `RegExp.prototype.test` semantics, on RE2.) */
export function re2Test(pattern: string, s: string): boolean {
  // test() asks for no capture groups, so re2js can run its DFA: several
  // times faster than a Matcher on long inputs.
  return re2(pattern).test(s);
}

/**
 * Every non-empty match of `pattern` in `s`, left to right, as [start, end) in
 * UTF-16 units. `checkpoint` is asked between matches (the time budget).
 */
export function re2Spans(pattern: string, s: string, checkpoint: () => void = () => {}): { start: number; end: number }[] {
  const re = re2(pattern);
  // Most strings hold no match: the DFA says so cheaply; only then find the spans.
  if (!re.test(s)) return [];
  const m = re.matcher(s);
  const out: { start: number; end: number }[] = [];
  while (m.find()) {
    checkpoint();
    const start = m.start();
    const end = m.end();
    if (end > start) out.push({ start, end });
  }
  return out;
}
