import { describe, expect, it } from 'vitest';
import { csvField, csvRow, humanDuration, reasonText, timeLeft } from '../../src/ui/format.ts';

describe('inbox formatting', () => {
  it('reads durations at a glance', () => {
    expect(humanDuration(0.4)).toBe('0 s');
    expect(humanDuration(59)).toBe('59 s');
    expect(humanDuration(60)).toBe('1 min');
    expect(humanDuration(3600)).toBe('1 h');
    expect(humanDuration(3 * 3600 + 5 * 60)).toBe('3 h 5 min');
    expect(humanDuration(2 * 86400 + 4 * 3600)).toBe('2 d 4 h');
    expect(humanDuration(-5)).toBe('0 s');
  });

  it('counts down to a deadline and says when it passed', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(timeLeft('2026-01-01T00:10:00Z', now)).toBe('10 min left');
    expect(timeLeft('2025-12-31T23:59:59Z', now)).toBe('deadline passed');
  });

  it('writes RFC 4180 CSV and defuses spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('@cmd')).toBe("'@cmd");
    expect(csvField(null)).toBe('');
    expect(csvField(12.5)).toBe('12.5');
    expect(csvField(new Date('2026-01-01T00:00:00Z'))).toBe('2026-01-01T00:00:00.000Z');
    expect(csvRow(['a', 1, null])).toBe('a,1,\r\n');
  });

  it('turns engine reasons into one line', () => {
    expect(reasonText({ source: 'rule', rule: 'big', decision: 'require_approval', message: 'over $100' })).toEqual({ text: 'over $100', source: 'big' });
    expect(reasonText({ source: 'default', decision: 'deny', message: 'no rule matched' })).toEqual({ text: 'no rule matched', source: null });
    expect(reasonText('plain')).toEqual({ text: 'plain', source: null });
    expect(reasonText({ guard: 'budget' })).toEqual({ text: 'budget', source: null });
  });
});
