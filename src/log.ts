// Structured JSON lines on stderr, written by pino. Params and secrets never go
// in here unless LOG_LEVEL=debug; the redact list below is a safety net for
// credentials passed by mistake, not a licence to pass them.
import { pino, type DestinationStream } from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /** Whether a line at `level` would be written: lets a caller skip building costly fields. */
  isLevelEnabled?(level: Exclude<Level, 'silent'>): boolean;
}

/** Error objects anywhere in the top level of `fields` become {name, message, code, stack}. */
function errFields(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!fields) return {};
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) {
      out ??= { ...fields };
      out[k] = { name: v.name, message: v.message, code: (v as { code?: unknown }).code, stack: v.stack };
    }
  }
  return out ?? fields;
}

const REDACT = ['authorization', 'api_key', 'webhook_secret', 'password', 'token', 'secret'];

function wrap(p: pino.Logger): Logger {
  return {
    debug: (msg, f) => p.debug(errFields(f), msg),
    info: (msg, f) => p.info(errFields(f), msg),
    warn: (msg, f) => p.warn(errFields(f), msg),
    error: (msg, f) => p.error(errFields(f), msg),
    child: (fields) => wrap(p.child(errFields(fields))),
    isLevelEnabled: (level) => p.isLevelEnabled(level),
  };
}

/**
 * `write` receives one JSON line (with its newline) per entry; tests pass their
 * own to read what was logged. The default writes to stderr synchronously, so
 * the last line before an exit is never lost.
 */
export function createLogger(level: Level, base: Record<string, unknown> = {}, write?: (line: string) => void): Logger {
  const stream: DestinationStream = write ? { write } : level === 'silent' ? { write: () => undefined } : pino.destination({ dest: 2, sync: true });
  const p = pino(
    {
      level,
      base,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // errFields already shaped errors; pino's own err serializer would add `type`.
      serializers: { err: (e: unknown) => e },
      redact: { paths: [...REDACT, ...REDACT.map((k) => `*.${k}`)], censor: '[redacted]' },
    },
    stream,
  );
  return wrap(p);
}

export const silentLogger: Logger = createLogger('silent');
