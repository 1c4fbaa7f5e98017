// Exports as CSV or JSON Lines, streamed: rows are read in keyset pages and
// written as they come, so an export of any size holds one page in memory.
//
// CSV cells are the agent's words (params, tags, action names), and a
// spreadsheet runs a cell that starts with = + - @ (or a tab / carriage return
// that hides one) as a formula: such a cell is written with a leading '
// (OWASP's CSV-injection advice), and every cell is quoted when it holds a
// quote, comma or line break (RFC 4180).

export type ExportFormat = 'csv' | 'jsonl';

/** A column: its header and how a row's value is read (objects become JSON text in CSV). */
export interface Column<R> {
  name: string;
  value: (row: R) => unknown;
}

const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell: injection-safe and quoted as needed. */
export function csvCell(v: unknown): string {
  let s: string;
  if (v === null || v === undefined) s = '';
  else if (typeof v === 'string') s = v;
  else if (typeof v === 'number' || typeof v === 'boolean') s = String(v);
  else if (v instanceof Date) s = v.toISOString();
  else s = JSON.stringify(v);
  // A number column we write ourselves stays a number; everything else that could start a formula is defused.
  if (typeof v !== 'number' && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvLine(cells: readonly unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

function jsonValue(v: unknown): unknown {
  return v instanceof Date ? v.toISOString() : v;
}

export const EXPORT_CONTENT_TYPE: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/x-ndjson; charset=utf-8',
};

/**
 * The export as a byte stream. `page(after)` returns the rows after `after`
 * (undefined: from the start), at most `pageSize`; a shorter page ends it.
 * Pulled: the next page is read only when the client has taken the last one.
 */
export function exportStream<R>(opts: {
  format: ExportFormat;
  columns: readonly Column<R>[];
  pageSize: number;
  page: (after: R | undefined) => Promise<R[]>;
  /** A JSON Lines record other than the columns (e.g. the nested original); default: the columns as an object. */
  json?: (row: R) => unknown;
  onError?: (err: unknown) => void;
}): ReadableStream<Uint8Array> {
  const { format, columns, pageSize, page } = opts;
  const enc = new TextEncoder();
  let after: R | undefined;
  let started = false;
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        let out = '';
        if (!started) {
          started = true;
          if (format === 'csv') out += csvLine(columns.map((c) => c.name));
        }
        if (!done) {
          const rows = await page(after);
          if (rows.length < pageSize) done = true;
          if (rows.length > 0) after = rows[rows.length - 1];
          for (const r of rows) {
            if (format === 'csv') out += csvLine(columns.map((c) => c.value(r)));
            else out += `${JSON.stringify(opts.json ? opts.json(r) : Object.fromEntries(columns.map((c) => [c.name, jsonValue(c.value(r))])))}\n`;
          }
        }
        if (out) controller.enqueue(enc.encode(out));
        if (done) controller.close();
      } catch (err) {
        // Headers are gone: the only honest signal left is a broken stream.
        opts.onError?.(err);
        controller.error(err);
      }
    },
  });
}

/** A file name for content-disposition: only [a-z0-9-_.], so it needs no quoting rules. */
export function attachment(name: string, format: ExportFormat): string {
  return `attachment; filename="${name.replace(/[^a-z0-9._-]/gi, '-')}.${format}"`;
}
