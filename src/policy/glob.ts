// Action and agent globs: `*` matches any run of characters (dots included),
// `?` one character; everything else is literal. Pure.

const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  let re = cache.get(glob);
  if (!re) {
    const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${body}$`, 's');
    if (cache.size > 10_000) cache.clear();
    cache.set(glob, re);
  }
  return re;
}

export function globMatch(pattern: string | readonly string[] | undefined, value: string): boolean {
  if (pattern === undefined) return true;
  const list = typeof pattern === 'string' ? [pattern] : pattern;
  return list.some((g) => globToRegExp(g).test(value));
}
