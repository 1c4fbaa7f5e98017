// What a scenario hands back, and the table the run prints.

export interface Row {
  scenario: string;
  metric: string;
  floor?: number | string | null;
  holdpoint: number | string | null;
  /** Holdpoint / floor (throughput), when both sides were measured. */
  ratio?: number | null;
  target?: string;
  /** null: no target, or not measurable. */
  met?: boolean | null;
}

export interface ScenarioResult {
  rows: Row[];
  data: Record<string, unknown>;
}

export type Scenario = () => Promise<ScenarioResult>;

const cell = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? (Math.abs(v) >= 100 ? String(Math.round(v)) : String(v)) : 'n/a';
  if (typeof v === 'boolean') return v ? 'yes' : 'NO';
  return String(v);
};

export function formatTable(rows: readonly Row[]): string {
  const head = ['scenario', 'metric', 'floor', 'holdpoint', 'ratio', 'target', 'met'];
  const body = rows.map((r) => [r.scenario, r.metric, cell(r.floor), cell(r.holdpoint), cell(r.ratio), r.target ?? '', r.met === undefined || r.met === null ? '' : cell(r.met)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cols: string[]) => cols.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The same rows as a Markdown table, for the README. */
export function markdownTable(rows: readonly Row[]): string {
  const out = ['| scenario | metric | floor | Holdpoint | ratio | target | met |', '|---|---|--:|--:|--:|---|---|'];
  for (const r of rows) {
    out.push(`| ${r.scenario} | ${r.metric} | ${cell(r.floor)} | ${cell(r.holdpoint)} | ${cell(r.ratio)} | ${r.target ?? ''} | ${r.met === undefined || r.met === null ? '' : cell(r.met)} |`);
  }
  return out.join('\n');
}
