// zod issues → [{ path, message }], the shape every validation error carries. Pure.

export interface Problem {
  path: string;
  message: string;
}

interface IssueLike {
  path: readonly PropertyKey[];
  message: string;
  code?: string;
  keys?: readonly string[];
}

/** An unknown field is reported at its own path (zod puts it at the parent, with the names in `keys`). */
export function toProblems(issues: readonly IssueLike[]): Problem[] {
  return issues.flatMap((i) => {
    const base = i.path.map(String);
    if (i.code === 'unrecognized_keys' && i.keys?.length) {
      return i.keys.map((k) => ({ path: [...base, k].join('.'), message: `unknown field "${k}"` }));
    }
    return [{ path: base.join('.') || '(root)', message: i.message }];
  });
}
