// Keyset pagination cursors for lists ordered by (created_at DESC, id DESC):
// an opaque base64url of the last row's position. A cursor this API did not
// issue is a 400, never a query error.
import { AppError } from '../errors.ts';

export interface Position {
  created_at: Date;
  id: string;
}

export function encodeCursor(p: Position): string {
  return Buffer.from(`${p.created_at.toISOString()}|${p.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): Position {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const created_at = new Date(at ?? '');
  if (!id || Number.isNaN(created_at.getTime()) || !/^[0-9a-f-]{36}$/i.test(id)) {
    throw new AppError('validation_failed', 'cursor is not one this API returned', { field: 'cursor' });
  }
  return { created_at, id };
}
