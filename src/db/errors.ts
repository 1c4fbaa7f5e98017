// Postgres errors become AppErrors here, by named SQLSTATE; nothing above src/db
// needs to know what a PostgresError looks like.
import { AppError } from '../errors.ts';

export const SQLSTATE = {
  UNIQUE_VIOLATION: '23505',
  FOREIGN_KEY_VIOLATION: '23503',
  CHECK_VIOLATION: '23514',
  INVALID_TEXT_REPRESENTATION: '22P02',
  SERIALIZATION_FAILURE: '40001',
  DEADLOCK_DETECTED: '40P01',
  ADMIN_SHUTDOWN: '57P01',
  CRASH_SHUTDOWN: '57P02',
  CANNOT_CONNECT_NOW: '57P03',
  TOO_MANY_CONNECTIONS: '53300',
  APPEND_ONLY: 'HP001',
} as const;

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  SQLSTATE.ADMIN_SHUTDOWN,
  SQLSTATE.CRASH_SHUTDOWN,
  SQLSTATE.CANNOT_CONNECT_NOW,
  SQLSTATE.TOO_MANY_CONNECTIONS,
]);

export function pgCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

export function isConnectionError(err: unknown): boolean {
  const code = pgCode(err);
  if (code && CONNECTION_CODES.has(code)) return true;
  // AggregateError from net (IPv4 + IPv6 both refused)
  if (err instanceof AggregateError) return err.errors.some(isConnectionError);
  return false;
}

/** Returns the AppError a database failure should surface as, or undefined if it is a bug. */
export function translateDbError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (isConnectionError(err)) {
    return new AppError('dependency_unavailable', 'Postgres is unavailable; retry shortly');
  }
  const code = pgCode(err);
  if (code === SQLSTATE.SERIALIZATION_FAILURE || code === SQLSTATE.DEADLOCK_DETECTED) {
    return new AppError('dependency_unavailable', 'transaction conflict; retry');
  }
  return undefined;
}
