// Reading another product's configuration for `holdpoint policy import`: every
// key read is marked, so whatever is left at the end is reported as not
// mapped — nothing is dropped silently. Values of the wrong type are reported
// too, and skipped. Pure.

export interface ImportNote {
  /** The source key, dotted (`guards.budget.cost_estimator`). */
  key: string;
  /** unmapped: nothing in the output stands for it; approximate: mapped, but not to the same meaning; default: a value the importer chose. */
  kind: 'unmapped' | 'approximate' | 'default';
  why: string;
}

export interface ImportResult {
  /** A Holdpoint policy document (validate it with parsePolicy). */
  document: Record<string, unknown>;
  notes: ImportNote[];
}

export type Plain = Record<string, unknown>;

export const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One mapping (a YAML section) being read; `rest()` reports what nobody read. */
export class Section {
  readonly #read = new Set<string>();
  constructor(
    readonly path: string,
    readonly value: Plain,
    readonly notes: ImportNote[],
  ) {}

  key(k: string): string {
    return this.path === '' ? k : `${this.path}.${k}`;
  }

  has(k: string): boolean {
    return Object.hasOwn(this.value, k) && this.value[k] !== null && this.value[k] !== undefined;
  }

  note(k: string, kind: ImportNote['kind'], why: string): void {
    this.notes.push({ key: this.key(k), kind, why });
  }

  /** Marks a key read and reports it as not mapped, with why. */
  skip(k: string, why: string): void {
    this.#read.add(k);
    this.note(k, 'unmapped', why);
  }

  #take(k: string): unknown {
    this.#read.add(k);
    return Object.hasOwn(this.value, k) ? this.value[k] : undefined;
  }

  #wrong(k: string, want: string): undefined {
    this.note(k, 'unmapped', `expected ${want}; skipped`);
    return undefined;
  }

  number(k: string): number | undefined {
    const v = this.#take(k);
    if (v === undefined || v === null) return undefined;
    return typeof v === 'number' && Number.isFinite(v) ? v : this.#wrong(k, 'a number');
  }

  boolean(k: string): boolean | undefined {
    const v = this.#take(k);
    if (v === undefined || v === null) return undefined;
    return typeof v === 'boolean' ? v : this.#wrong(k, 'true or false');
  }

  strings(k: string): string[] | undefined {
    const v = this.#take(k);
    if (v === undefined || v === null) return undefined;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : this.#wrong(k, 'a list of strings');
  }

  /** A mapping of names to numbers (`cost_estimator`, `action_budgets`). */
  numbers(k: string): Record<string, number> | undefined {
    const v = this.#take(k);
    if (v === undefined || v === null) return undefined;
    if (!isPlain(v)) return this.#wrong(k, 'a mapping of names to numbers');
    const out: Record<string, number> = {};
    for (const [name, x] of Object.entries(v)) {
      if (typeof x === 'number' && Number.isFinite(x)) out[name] = x;
      else this.notes.push({ key: `${this.key(k)}.${name}`, kind: 'unmapped', why: 'expected a number; skipped' });
    }
    return out;
  }

  /** A mapping of names to values of any kind, for the caller to check. */
  mapping(k: string): Plain | undefined {
    const v = this.#take(k);
    if (v === undefined || v === null) return undefined;
    return isPlain(v) ? v : this.#wrong(k, 'a mapping');
  }

  section(k: string): Section | undefined {
    const v = this.mapping(k);
    return v === undefined ? undefined : new Section(this.key(k), v, this.notes);
  }

  /** Reports every key nobody read. */
  rest(why = 'not a setting this importer knows; not mapped'): void {
    for (const k of Object.keys(this.value)) if (!this.#read.has(k)) this.note(k, 'unmapped', why);
  }
}

/** Globs in Holdpoint: `*` and `?` are wildcards. A source name holding one is matched as a glob, which the note says. */
export function exactNames(names: string[], s: Section, k: string): string[] {
  if (names.some((n) => n.includes('*') || n.includes('?'))) s.note(k, 'approximate', 'names containing * or ? are globs in Holdpoint (wildcards), not exact names');
  return names;
}
