// Renders every failure as {"error": {code, message, details?}} with the status
// from ERROR_STATUS. Unknown errors are logged and become internal_error.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { isDataException, translateDbError } from '../db/errors.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { toProblems } from '../validation.ts';

export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 400 && /malformed json/i.test(err.message)) return new AppError('malformed_json', 'request body is not valid JSON');
    if (err.status === 415) return new AppError('unsupported_media_type', 'send the body as application/json');
    if (err.status === 413) return new AppError('payload_too_large', 'request body is too large');
    if (err.status === 401) return new AppError('unauthorized', 'missing or invalid API key');
    if (err.status === 404) return new AppError('not_found', 'not found');
    if (err.status === 400) return new AppError('validation_failed', err.message || 'bad request');
  }
  const db = translateDbError(err);
  if (db) return db;
  const msg = err instanceof Error ? err.message : '';
  // ioredis: "Stream isn't writeable and enableOfflineQueue options is false", connection refused...
  if (/enableOfflineQueue|ECONNREFUSED|Connection is closed|MaxRetriesPerRequest/i.test(msg)) {
    return new AppError('dependency_unavailable', 'Redis is unavailable; retry shortly');
  }
  return undefined;
}

export function errorHandler(log: Logger) {
  return (err: unknown, c: Context) => {
    // The request's own logger (request-id middleware) carries its request_id.
    const rlog: Logger = (c.get('log') as Logger | undefined) ?? log;
    const app = toAppError(err);
    if (app) {
      if (app.code === 'dependency_unavailable') rlog.warn('dependency unavailable', { err, path: c.req.path });
      // A value the edge should have refused reached Postgres: answered as the caller's, but worth a look.
      else if (isDataException(err)) rlog.warn('postgres refused a value from the request', { err, path: c.req.path, method: c.req.method });
      const retryAfter = (app.details as { retry_after_seconds?: unknown } | undefined)?.retry_after_seconds;
      if (app.code === 'rate_limited' && typeof retryAfter === 'number') c.header('retry-after', String(Math.max(1, Math.ceil(retryAfter))));
      return c.json(app.toJSON(), app.status as 400);
    }
    rlog.error('unhandled error', { err, path: c.req.path, method: c.req.method });
    return c.json(new AppError('internal_error', 'internal error').toJSON(), 500);
  };
}

/** zod failures from @hono/zod-openapi validators: 400 with every problem's path. */
export function validationHook(result: { success: boolean; error?: unknown; target?: string }) {
  if (result.success) return;
  const issues = (result.error as { issues?: Parameters<typeof toProblems>[0] })?.issues ?? [];
  const problems = toProblems(issues);
  throw new AppError('validation_failed', `request did not validate: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, {
    target: result.target,
    problems,
  });
}
