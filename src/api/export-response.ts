// What the export routes (/v1/decisions/export, /v1/oversight/export) answer
// alike: the 200 their OpenAPI description promises, the period check, and the
// download's headers. Which rows, and how they stream, is theirs
// (src/services/export.ts writes them).
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { AppError } from '../errors.ts';
import { EXPORT_CONTENT_TYPE, attachment, type ExportFormat } from '../services/export.ts';
import { errorResponses } from './schemas.ts';

/** An export route's responses: a CSV or JSON Lines body (`description` says what a row is), or 400/401/403. */
export function exportResponses(description: string) {
  return {
    200: {
      description,
      content: { 'text/csv': { schema: z.string() }, 'application/x-ndjson': { schema: z.string() } },
    },
    ...errorResponses(400, 401, 403),
  };
}

/** An export's period, when both ends are given, must not be empty: 400 validation_failed on `until`. */
export function checkPeriod(since: Date | undefined, until: Date | undefined): void {
  if (since && until && until <= since) throw new AppError('validation_failed', 'until must be after since', { field: 'until' });
}

/** The streamed download, named `<stem>-<today>.<format>`, never cached (it holds what agents asked). */
export function exportDownload(c: Context, body: ReadableStream<Uint8Array>, format: ExportFormat, stem: string, now: Date): Response {
  return c.body(body, 200, {
    'content-type': EXPORT_CONTENT_TYPE[format],
    'content-disposition': attachment(`${stem}-${now.toISOString().slice(0, 10)}`, format),
    'cache-control': 'no-store',
  });
}
