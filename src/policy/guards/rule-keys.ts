// Counter keys for the list guards (purchase, deletion): a rule is named by
// the globs it applies to, so its counts survive edits to its limits and the
// reordering of the list; two rules naming the same globs get `#2`, `#3`…
// (by order) so they never share, and so never double-write, a counter. Pure.

const ids = new WeakMap<readonly { actions: string[] }[], string[]>();

/** One stable id per rule of the list, in order. */
export function ruleIds(rules: readonly { actions: string[] }[]): string[] {
  let out = ids.get(rules);
  if (out === undefined) {
    const seen = new Map<string, number>();
    out = rules.map((r) => {
      const base = r.actions.join('|');
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      return n === 1 ? base : `${base}#${n}`;
    });
    ids.set(rules, out);
  }
  return out;
}
