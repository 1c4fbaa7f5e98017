// Keyset pagination cursors for lists ordered by (created_at DESC, id DESC):
// an opaque base64url of the last row's position. A cursor this API did not
// issue is a 400, never a query error: it must decode to exactly what
// encodeCursor writes — an ISO timestamp that round-trips (so a year Postgres
// cannot hold, like −200000, is refused) and a canonical UUID (not 36 dashes).
import { AppError } from '../errors.ts';

export interface Position {
  created_at: Date;
  id: string;
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(p: Position): string {
  return Buffer.from(`${p.created_at.toISOString()}|${p.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): Position {
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const [at, id] = parts;
  const created_at = new Date(at ?? '');
  const valid =
    parts.length === 2 &&
    ISO_MS.test(at ?? '') &&
    !Number.isNaN(created_at.getTime()) &&
    created_at.toISOString() === at &&
    UUID.test(id ?? '');
  if (!valid) throw new AppError('validation_failed', 'cursor is not one this API returned', { field: 'cursor' });
  return { created_at, id: id! };
}
