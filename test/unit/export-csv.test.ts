import { describe, expect, it } from 'vitest';
import { attachment, csvCell, csvLine } from '../../src/services/export.ts';

describe('CSV cells', () => {
  it('a string that would start a formula (= + - @ tab CR) is prefixed with a quote', () => {
    for (const s of ['=1+1', '+1', '-2', '@SUM(A1)', '\tx', '\rx']) expect(csvCell(s).replace(/^"/, '').startsWith("'")).toBe(true);
    expect(csvCell('plain')).toBe('plain');
  });

  it('a number stays a number, even a negative one; null is empty; objects are JSON', () => {
    expect(csvCell(-2)).toBe('-2');
    expect(csvCell(null)).toBe('');
    expect(csvCell({ a: 1 })).toBe('"{""a"":1}"');
    expect(csvCell(['x'])).toBe('"[""x""]"');
  });

  it('quotes a cell holding a comma, quote or line break, and ends a line with CRLF', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvLine(['a', 1, null])).toBe('a,1,\r\n');
  });

  it('an attachment file name keeps only safe characters', () => {
    expect(attachment('decisions-2026-11-30', 'csv')).toBe('attachment; filename="decisions-2026-11-30.csv"');
    expect(attachment('a"b\r\nc', 'jsonl')).toBe('attachment; filename="a-b--c.jsonl"');
  });
});
