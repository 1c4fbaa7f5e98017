// How agent-controlled strings are compared. The agent chooses action,
// agent_id, params and context, so `ACCT_EVIL`, ` acct_evil` and `acct_evil`
// with a zero-width space must not slip past a rule about `acct_evil`. Both
// sides of a comparison go through the same normalisation: Unicode NFKC
// (fullwidth and compatibility forms fold to their plain letters and digits),
// the invisible characters below removed, surrounding whitespace trimmed, and
// (unless the condition asks otherwise) case folded. Pure.

// ZERO WIDTH SPACE, ZWNJ, ZWJ, WORD JOINER, BOM / ZWNBSP, SOFT HYPHEN.
const INVISIBLE = /[\u200B-\u200D\u2060\uFEFF\u00AD]/g;

export function normalizeText(s: string, caseSensitive = false): string {
  const n = s.normalize('NFKC').replace(INVISIBLE, '').trim();
  return caseSensitive ? n : n.toLowerCase();
}

// A number written the plain way: optional sign, digits with an optional
// fraction, an optional exponent. No grouping commas, currency, units, hex,
// `Infinity`, or non-ASCII digits: those are for the fail-closed path.
const PLAIN_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A finite number, or a plain numeric string ("5000", " -3.5 ", "1e3"); else undefined. */
export function plainNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  if (!PLAIN_NUMBER.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}
