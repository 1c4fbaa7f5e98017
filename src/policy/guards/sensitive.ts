// The sensitive_data guard: finds secrets and personal data anywhere in params
// (nested objects, arrays, strings, numbers) and masks them. Findings name the
// detector and where it fired — never the value. Pure.
//
// Every built-in pattern starts with a lookbehind that forbids starting inside a
// run of the characters it consumes, so a failed match costs one pass over the
// run and a long string is scanned in linear time. Custom patterns come from
// the policy and run on RE2 (../regex.ts), linear whatever they say. The time
// budget is asked before each string is scanned.
import type { EvaluationRequest } from '../evaluate.ts';
import { BUILTIN_DETECTORS, FIELD_DETECTOR, type BuiltinDetector, type OnFinding, type SensitiveDataConfig } from './config.ts';
import type { CounterOp, Finding, FindingDecision } from './types.ts';
import { normalizeText } from '../normalize.ts';
import { re2Spans } from '../regex.ts';
import { NO_CHECKPOINT, type Checkpoint } from '../time-budget.ts';

/** One place where a detector fired. */
export interface SensitiveFinding {
  detector: string;
  /** Dotted, array indices as numbers: `params.cards.0.number`. */
  path: string;
  /** The same path as segments under params (keys may contain dots). */
  at: (string | number)[];
  /** The masked span in the value's string form; absent when the whole value is sensitive (a field name). */
  start?: number;
  end?: number;
}

export interface Span {
  detector: string;
  start: number;
  end: number;
}

interface Detector {
  name: string;
  /** Built-in (our own, linear by construction): JS RegExp with the g flag. */
  patterns: RegExp[];
  /** Custom (from the policy): an RE2 pattern. */
  re2?: string;
  /** Refines a match into the spans that really are sensitive (Luhn, JWT header). */
  refine?: (match: string, index: number) => { start: number; end: number }[];
}

/** Luhn checksum over a string of digits. */
export function luhn(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

// A run of digit groups ("4111 1111-1111 1111 5"): the card is the longest
// window of whole groups with 13–19 digits, a plausible first digit and a valid
// Luhn checksum — so a card next to other numbers is still found, while one
// long unbroken number is judged as a whole.
function cardSpans(run: string, index: number): { start: number; end: number }[] {
  const groups: { start: number; end: number }[] = [];
  for (const m of run.matchAll(/\d+/g)) groups.push({ start: m.index, end: m.index + m[0].length });
  const out: { start: number; end: number }[] = [];
  let i = 0;
  while (i < groups.length) {
    let best: { j: number; start: number; end: number } | undefined;
    let digits = '';
    for (let j = i; j < groups.length; j++) {
      digits += run.slice(groups[j]!.start, groups[j]!.end);
      if (digits.length > 19) break;
      if (digits.length >= 13 && /^[2-6]/.test(digits) && luhn(digits)) best = { j, start: groups[i]!.start, end: groups[j]!.end };
    }
    if (best) {
      out.push({ start: index + best.start, end: index + best.end });
      i = best.j + 1;
    } else i++;
  }
  return out;
}

function decodesToJwtHeader(segment: string): boolean {
  if (!segment.startsWith('e')) return false; // base64 of '{'
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && typeof (header as Record<string, unknown>).alg === 'string';
  } catch {
    return false;
  }
}

const whole = (match: string, index: number) => [{ start: index, end: index + match.length }];

const BUILTIN: Record<BuiltinDetector, Detector> = {
  credit_card: { name: 'credit_card', patterns: [/(?<![\d])\d(?:[ -]?\d)*/g], refine: (m, i) => (m.length >= 13 ? cardSpans(m, i) : []) },
  us_ssn: { name: 'us_ssn', patterns: [/(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])/g] },
  email: {
    name: 'email',
    patterns: [/(?<![A-Za-z0-9!#$%&'*+/=?^_`{|}~.-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z][A-Za-z0-9-]+/g],
  },
  phone: {
    name: 'phone',
    patterns: [
      /(?<![\w+])\+[1-9]\d{7,14}(?!\d)/g,
      /(?<![\w+.-])(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}(?![\w-])/g,
    ],
  },
  aws_access_key: { name: 'aws_access_key', patterns: [/(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g] },
  private_key: { name: 'private_key', patterns: [/-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$)/g] },
  jwt: {
    name: 'jwt',
    patterns: [/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g],
    refine: (m, i) => (decodesToJwtHeader(m.slice(0, m.indexOf('.'))) ? whole(m, i) : []),
  },
  bearer_token: {
    name: 'bearer_token',
    patterns: [
      // The token after "Bearer " (the scheme stays readable); it must look like
      // a token, not a word ("Bearer tokens are…").
      /(?<=\b[Bb]earer\s{1,5})[A-Za-z0-9._~+/-]{6,}=*/g,
      /(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}/g,
      /(?<![A-Za-z0-9_])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}/g,
      /(?<![A-Za-z0-9_])(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}/g,
      /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,}/g,
      /(?<![A-Za-z0-9-])xox[bap]-[A-Za-z0-9-]{10,}/g,
    ],
    refine: (m, i) => (/^[A-Za-z]+$/.test(m) ? [] : whole(m, i)),
  },
};

/** How much one finding of a detector says about a request's risk. */
const DETECTOR_RISK: Record<string, number> = {
  private_key: 0.9,
  aws_access_key: 0.8,
  credit_card: 0.7,
  us_ssn: 0.7,
  jwt: 0.6,
  bearer_token: 0.6,
  field: 0.5,
  email: 0.2,
  phone: 0.2,
};
const CUSTOM_RISK = 0.5;

interface Compiled {
  detectors: Detector[];
  fields: Set<string>;
}

// The agent names the keys: `PASS\u200bWORD` and `ｐａｓｓｗｏｒｄ` are `password` too.
const normalizeField = (k: string) => normalizeText(k).replace(/[-_\s]/g, '');

// Compiled once per (parsed, immutable) config.
const compiled = new WeakMap<SensitiveDataConfig, Compiled>();

function compile(config: SensitiveDataConfig): Compiled {
  let c = compiled.get(config);
  if (!c) {
    c = {
      detectors: [
        ...config.detectors.map((d) => BUILTIN[d]),
        ...config.custom.map((x) => ({ name: x.name, patterns: [], re2: x.pattern })),
      ],
      fields: new Set(config.field_names.map(normalizeField)),
    };
    compiled.set(config, c);
  }
  return c;
}

function scanWith(s: string, detectors: readonly Detector[], checkpoint: Checkpoint = NO_CHECKPOINT): Span[] {
  const spans: Span[] = [];
  for (const d of detectors) {
    if (d.re2 !== undefined) {
      for (const m of re2Spans(d.re2, s, checkpoint)) {
        const found = d.refine ? d.refine(s.slice(m.start, m.end), m.start) : [m];
        for (const f of found) spans.push({ detector: d.name, ...f });
      }
    }
    for (const re of d.patterns) {
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(s)) !== null) {
        if (m[0].length === 0) {
          re.lastIndex++;
          continue;
        }
        const found = d.refine ? d.refine(m[0], m.index) : whole(m[0], m.index);
        for (const f of found) spans.push({ detector: d.name, ...f });
      }
    }
  }
  return spans;
}

/** The sensitive spans in one string, by every built-in detector (or those named). */
export function scanString(s: string, detectors: readonly BuiltinDetector[] = BUILTIN_DETECTORS): Span[] {
  return scanWith(
    s,
    detectors.map((d) => BUILTIN[d]),
  );
}

const pathOf = (at: readonly (string | number)[]) => ['params', ...at].join('.');

/** Every sensitive value in params, by path. */
export function detect(params: unknown, config: SensitiveDataConfig, checkpoint: Checkpoint = NO_CHECKPOINT): SensitiveFinding[] {
  const { detectors, fields } = compile(config);
  const out: SensitiveFinding[] = [];
  const walk = (v: unknown, at: (string | number)[]) => {
    if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'bigint') {
      checkpoint();
      for (const s of scanWith(String(v), detectors, checkpoint)) out.push({ detector: s.detector, path: pathOf(at), at, start: s.start, end: s.end });
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, [...at, i]));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined || x === null) continue;
        if (fields.has(normalizeField(k))) out.push({ detector: FIELD_DETECTOR, path: pathOf([...at, k]), at: [...at, k] });
        else walk(x, [...at, k]);
      }
    }
  };
  walk(params, []);
  return out;
}

function clone(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clone);
  if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
    // fromEntries defines own properties: a "__proto__" key stays a plain key.
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]));
  }
  return v;
}

const mask = (detector: string) => `[REDACTED:${detector}]`;

/** Masks overlapping spans as one, labelled by the span that starts first (the longer on a tie). */
export function maskString(s: string, spans: readonly Span[]): string {
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Span[] = [];
  for (const sp of sorted) {
    const last = merged[merged.length - 1];
    if (last && sp.start < last.end) last.end = Math.max(last.end, sp.end);
    else merged.push({ ...sp });
  }
  let out = '';
  let pos = 0;
  for (const sp of merged) {
    out += s.slice(pos, sp.start) + mask(sp.detector);
    pos = sp.end;
  }
  return out + s.slice(pos);
}

/**
 * A deep copy of params with every finding masked in place: a sensitive span
 * becomes `[REDACTED:<detector>]` (the rest of the string stays), a value under
 * a sensitive field name becomes `[REDACTED:field]` whole.
 */
export function redact<T>(params: T, findings: readonly SensitiveFinding[]): { params: T; redacted_paths: string[] } {
  const copy = clone(params) as T;
  const byPlace = new Map<string, { at: (string | number)[]; path: string; whole?: string; spans: Span[] }>();
  for (const f of findings) {
    const key = JSON.stringify(f.at);
    let place = byPlace.get(key);
    if (!place) byPlace.set(key, (place = { at: f.at, path: f.path, spans: [] }));
    if (f.start === undefined || f.end === undefined) place.whole ??= f.detector;
    else place.spans.push({ detector: f.detector, start: f.start, end: f.end });
  }
  const redacted: string[] = [];
  for (const place of byPlace.values()) {
    let parent: unknown = copy;
    for (const seg of place.at.slice(0, -1)) parent = (parent as Record<string | number, unknown>)?.[seg];
    const last = place.at[place.at.length - 1];
    if (parent === null || typeof parent !== 'object' || last === undefined) continue;
    const holder = parent as Record<string | number, unknown>;
    const value = holder[last];
    holder[last] = place.whole !== undefined ? mask(place.whole) : maskString(String(value), place.spans);
    redacted.push(place.path);
  }
  return { params: copy, redacted_paths: redacted };
}

const ACTION_DECISION: Record<OnFinding, FindingDecision> = { deny: 'deny', require_approval: 'require_approval', redact: 'modify' };
const VERB: Record<OnFinding, string> = { deny: 'denied', require_approval: 'needs approval', redact: 'redacted' };

export interface SensitiveOutcome {
  findings: Finding[];
  ops: CounterOp[];
  /** params with every finding masked (whatever each finding decided); set when anything was found. */
  params?: Record<string, unknown>;
  redacted_paths: string[];
}

export function queries(): [] {
  return [];
}

export function evaluate(config: SensitiveDataConfig, req: EvaluationRequest, checkpoint: Checkpoint = NO_CHECKPOINT): SensitiveOutcome {
  const found = detect(req.params, config, checkpoint);
  if (found.length === 0) return { findings: [], ops: [], redacted_paths: [] };
  const byDetector = new Map<string, string[]>();
  for (const f of found) {
    const paths = byDetector.get(f.detector) ?? [];
    if (!paths.includes(f.path)) paths.push(f.path);
    byDetector.set(f.detector, paths);
  }
  const findings: Finding[] = [];
  for (const [detector, paths] of byDetector) {
    const action = config.per_detector[detector] ?? config.on_finding;
    const decision = ACTION_DECISION[action];
    const base = DETECTOR_RISK[detector] ?? CUSTOM_RISK;
    const risk = decision === 'deny' ? 1 : decision === 'require_approval' ? Math.max(0.5, base) : base;
    const what = detector === FIELD_DETECTOR ? 'sensitive field' : detector;
    findings.push({ guard: 'sensitive_data', decision, message: `${what} at ${paths.join(', ')} (${VERB[action]})`, risk, paths });
  }
  const { params, redacted_paths } = redact(req.params, found);
  return { findings, ops: [], params, redacted_paths };
}
