// Postgres errors become AppErrors here, by named SQLSTATE; nothing above src/db
// needs to know what a PostgresError looks like.
import { AppError } from '../errors.ts';

export const SQLSTATE = {
  UNIQUE_VIOLATION: '23505',
  FOREIGN_KEY_VIOLATION: '23503',
  CHECK_VIOLATION: '23514',
  INVALID_TEXT_REPRESENTATION: '22P02',
  CHARACTER_NOT_IN_REPERTOIRE: '22021',
  UNTRANSLATABLE_CHARACTER: '22P05',
  /** The class of data exceptions (22xxx): a value Postgres cannot hold or convert. */
  DATA_EXCEPTION_CLASS: '22',
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
  // Data exceptions come from a value in the request that the edge did not
  // catch (the edge refuses NUL, deep nesting, out-of-range integers and
  // foreign cursors first). It is the caller's value, so a 4xx — never a 500
  // — but logged by the error handler, since the edge should have caught it.
  if (code === SQLSTATE.CHARACTER_NOT_IN_REPERTOIRE || code === SQLSTATE.UNTRANSLATABLE_CHARACTER) {
    return new AppError('invalid_text', 'a text value holds a character Postgres cannot store (NUL, \\u0000)', { sqlstate: code });
  }
  if (code?.length === 5 && code.startsWith(SQLSTATE.DATA_EXCEPTION_CLASS)) {
    return new AppError('validation_failed', 'a value in the request is out of range or not of the expected type', { sqlstate: code });
  }
  return undefined;
}

/** A Postgres data exception (SQLSTATE class 22). */
export function isDataException(err: unknown): boolean {
  const code = pgCode(err);
  return code?.length === 5 && code.startsWith(SQLSTATE.DATA_EXCEPTION_CLASS);
}
