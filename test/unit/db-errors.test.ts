// Postgres data exceptions (SQLSTATE class 22) are the caller's value, never a 500.
import { describe, expect, it } from 'vitest';
import { translateDbError } from '../../src/db/errors.ts';

const pg = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

describe('translateDbError', () => {
  it('maps a NUL Postgres cannot store (22021, 22P05) to 422 invalid_text', () => {
    for (const code of ['22021', '22P05']) {
      const e = translateDbError(pg(code));
      expect(e?.code).toBe('invalid_text');
      expect(e?.status).toBe(422);
    }
  });

  it('maps every other data exception (22xxx) to 400 validation_failed, not a 500', () => {
    for (const code of ['22003', '22008', '22P02', '22001', '22007', '2201B']) {
      const e = translateDbError(pg(code));
      expect(e?.code, code).toBe('validation_failed');
      expect(e?.status).toBe(400);
      expect(e?.details).toEqual({ sqlstate: code });
    }
  });

  it('leaves other classes alone: a constraint or syntax error is still a bug', () => {
    expect(translateDbError(pg('42601'))).toBeUndefined();
    expect(translateDbError(pg('23514'))).toBeUndefined();
  });
});
