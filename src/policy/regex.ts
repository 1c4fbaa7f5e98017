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

// Compiled once per pattern: policies are evaluated far more often than they change.
const compiled = new Map<string, RE2JS>();

export function re2(pattern: string): RE2JS {
  let re = compiled.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

/** Does `pattern` match anywhere in `s`? (JS `RegExp.prototype.test` semantics, on RE2.) */
export function re2Test(pattern: string, s: string): boolean {
  return re2(pattern).matcher(s).find();
}

/** Every non-empty match of `pattern` in `s`, left to right, as [start, end) in UTF-16 units. */
export function re2Spans(pattern: string, s: string): { start: number; end: number }[] {
  const m = re2(pattern).matcher(s);
  const out: { start: number; end: number }[] = [];
  while (m.find()) {
    const start = m.start();
    const end = m.end();
    if (end > start) out.push({ start, end });
  }
  return out;
}
