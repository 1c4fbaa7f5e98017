// The one place that reads process.env. Parsed once at boot, passed down.
import { z } from 'zod';
import { parseSecretKey } from './secrets/keyring.ts';

const bool = z
  .enum(['true', 'false', '1', '0', ''])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

const KEY_HINT = 'must be 32 bytes as base64 or 64 hex digits (generate one with: openssl rand -base64 32)';
const secretKey = z.string().transform((v, ctx) => {
  const key = parseSecretKey(v);
  if (!key) {
    ctx.addIssue({ code: 'custom', message: KEY_HINT });
    return z.NEVER;
  }
  return key;
});

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

export const ConfigSchema = z.object({
  /** Unset: an embedded Postgres with its data in HOLDPOINT_PG_DIR (src/embedded). */
  DATABASE_URL: z.string().url().optional(),
  // redis:// or rediss://, with an optional database number: anything else (a
  // schemeless host:port parses as a URL with scheme "host:") would silently use db 0.
  /** Unset: a private redis-server from PATH with its data in HOLDPOINT_REDIS_DIR. */
  REDIS_URL: z
    .string()
    .url()
    .refine((u) => /^rediss?:\/\//.test(u) && URL.canParse(u), 'must start with redis:// or rediss:// (e.g. redis://127.0.0.1:6379/0)')
    .refine((u) => !URL.canParse(u) || /^\/?(\d{1,5})?$/.test(new URL(u).pathname), 'the path is the database number: redis://host:6379/0')
    .optional(),
  /** The embedded Postgres's directory (its cluster in data/, its log, its password), when DATABASE_URL is unset. */
  HOLDPOINT_PG_DIR: z.string().min(1).default('.holdpoint/pg'),
  /** The private redis-server's directory (append-only file, log, pid), when REDIS_URL is unset. */
  HOLDPOINT_REDIS_DIR: z.string().min(1).default('.holdpoint/redis'),
  /** The embedded Postgres's port; 0: a free one at each start. */
  HOLDPOINT_PG_PORT: int(0, 0, 65535),
  /** The private redis-server's port; 0: a free one at each start. */
  HOLDPOINT_REDIS_PORT: int(0, 0, 65535),
  /** Postgres never runs as root: started as root, the embedded one runs as this (existing) system user. */
  HOLDPOINT_PG_RUN_AS: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a system user name').default('postgres'),
  PORT: int(8080, 0, 65535),
  HOST: z.string().default('0.0.0.0'),
  HOLDPOINT_PUBLIC_URL: z.string().url().optional(),
  HOLDPOINT_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_{}.-]+$/, 'letters, digits, _ - . { } only')
    .default('{holdpoint}'),
  SLACK_BOT_TOKEN: z.string().optional(),
  SLACK_SIGNING_SECRET: z.string().optional(),
  SLACK_API_URL: z.string().url().optional(),
  /**
   * The Slack workspace (team id, e.g. T0123ABCD) whose interactions are
   * accepted. Unset: any workspace whose request carries a valid signature
   * (i.e. any workspace the app with this signing secret is installed in).
   */
  SLACK_TEAM_ID: z.string().regex(/^[A-Z0-9]{2,32}$/, 'a Slack team id such as T0123ABCD').optional(),
  HOLDPOINT_WEBHOOK_ALLOW_PRIVATE: bool,
  /** The deadline of one whole webhook attempt: lookup, connect, headers and body. */
  HOLDPOINT_WEBHOOK_TIMEOUT_MS: int(10_000, 100, 120_000),
  /** Webhook attempts one worker process runs at once. */
  HOLDPOINT_WEBHOOK_CONCURRENCY: int(32, 1, 1_000),
  /** Attempts at once, across all workers, to one receiver (scheme://host:port) of one tenant. */
  HOLDPOINT_WEBHOOK_MAX_PER_TARGET: int(4, 1, 1_000),
  /** Attempts at once, across all workers, for one tenant. */
  HOLDPOINT_WEBHOOK_MAX_PER_TENANT: int(8, 1, 1_000),
  /** A delivery that finds no free slot waits this long (plus up to half again) and tries again, without using an attempt. */
  HOLDPOINT_WEBHOOK_SLOT_WAIT_MS: int(1_000, 10, 60_000),
  HOLDPOINT_WEBHOOK_RETRY_BASE_MS: int(2_000, 1, 3_600_000),
  HOLDPOINT_WEBHOOK_MAX_ATTEMPTS: int(17, 1, 50),
  HOLDPOINT_RECONCILE_INTERVAL_MS: int(15_000, 200, 3_600_000),
  HOLDPOINT_MAX_BODY_BYTES: int(1_048_576, 1024, 64 * 1_048_576),
  HOLDPOINT_SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 600_000),
  HOLDPOINT_DB_POOL: int(10, 1, 200),
  HOLDPOINT_UI_SESSION_HOURS: int(12, 1, 24 * 30),
  HOLDPOINT_STREAM_HEARTBEAT_MS: int(15_000, 100, 300_000),
  /** A live-feed stream ends after this long (minus up to a tenth, spread); the client reconnects with Last-Event-ID. */
  HOLDPOINT_STREAM_MAX_LIFETIME_MS: int(1_800_000, 1_000, 86_400_000),
  /** Live-feed streams one key (or inbox user) may hold open in one API process; 429 beyond. */
  HOLDPOINT_MAX_STREAMS_PER_KEY: int(20, 1, 100_000),
  /** Long-polls (GET /v1/approvals/by-key/…?wait=N) one key may hold open in one API process; 429 beyond. */
  HOLDPOINT_MAX_LONG_POLLS_PER_KEY: int(200, 1, 100_000),
  /**
   * Proxies in front of the API that append the client's address to X-Forwarded-For.
   * 0 (the default): the socket's peer is the client and X-Forwarded-For is ignored.
   */
  HOLDPOINT_TRUSTED_PROXY_HOPS: int(0, 0, 10),
  /** Sign-in attempts (POST /ui/login, GET /ui/oidc/start) per client address per window; 0: no limit. */
  HOLDPOINT_SIGNIN_RATE_LIMIT: int(20, 0, 1_000_000),
  /** API requests with an unknown or revoked key per client address per window; 0: no limit. */
  HOLDPOINT_BAD_KEY_RATE_LIMIT: int(30, 0, 1_000_000),
  /** The window of the per-address limits above. */
  HOLDPOINT_ADDRESS_LIMIT_WINDOW_MS: int(60_000, 1_000, 86_400_000),
  /** Seals webhook signing secrets and OIDC client secrets in Postgres (AES-256-GCM). */
  HOLDPOINT_SECRET_KEY: secretKey.optional(),
  /** Earlier keys, comma-separated: still open what they sealed, until `holdpoint secrets rotate-key`. */
  HOLDPOINT_SECRET_KEYS_OLD: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const keys: Buffer[] = [];
      for (const [i, part] of v.split(',').map((p) => p.trim()).filter(Boolean).entries()) {
        const key = parseSecretKey(part);
        if (!key) ctx.addIssue({ code: 'custom', message: `key ${i + 1} ${KEY_HINT}` });
        else keys.push(key);
      }
      return keys;
    }),
  /** Where the key lives when HOLDPOINT_SECRET_KEY is unset; created (0600) on first use. */
  HOLDPOINT_SECRET_KEY_FILE: z.string().min(1).optional(),
  /** production: HOLDPOINT_SECRET_KEY (or HOLDPOINT_SECRET_KEY_FILE) must be set; no key is made up. */
  NODE_ENV: z.string().optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  /** When set, /metrics also answers on this port (the only way to scrape a --worker process). */
  HOLDPOINT_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** When set, /metrics requires `Authorization: Bearer <token>`. */
  HOLDPOINT_METRICS_TOKEN: z.string().regex(/^[A-Za-z0-9._~+/-]+=*$/, 'a bearer token: letters, digits and . _ ~ + / - only').optional(),
  /** /readyz fails when a queue's oldest due job has waited longer than this (0: no queue check). */
  HOLDPOINT_READY_MAX_QUEUE_AGE_MS: int(60_000, 0, 86_400_000),
});

/** The environment as read: DATABASE_URL and REDIS_URL may be unset (then the embedded services provide them). */
export type Settings = z.infer<typeof ConfigSchema>;
/** What a running process is given: the services' addresses are known, set or embedded. */
export type Config = Settings & { DATABASE_URL: string; REDIS_URL: string };

export class ConfigError extends Error {}

export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  // An empty variable (FOO= in a compose file) means "not set".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = ConfigSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/**
 * The configuration of a process whose Postgres and Redis are given (tests,
 * embedders). The CLI reads loadSettings() and lets src/embedded fill in what
 * is unset.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const settings = loadSettings(env);
  const { DATABASE_URL, REDIS_URL } = settings;
  if (!DATABASE_URL || !REDIS_URL) {
    throw new ConfigError(`invalid configuration:\n  ${DATABASE_URL ? 'REDIS_URL' : 'DATABASE_URL'}: required here (only the holdpoint command starts embedded services)`);
  }
  return { ...settings, DATABASE_URL, REDIS_URL };
}

/** postgres://user:secret@host/db → postgres://user:***@host/db, for error messages. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

/**
 * What `holdpoint mcp-proxy` reads from the environment (flags win), and the
 * environment its upstream server is started with: everything but Holdpoint's
 * own variables, so the guarded server never holds the key that guards it.
 * The server's configuration is not loaded: the proxy runs beside an agent,
 * not beside Postgres.
 */
export function loadMcpProxyEnv(env: Record<string, string | undefined> = process.env): {
  url?: string;
  key?: string;
  agentId?: string;
  serverEnv: Record<string, string>;
} {
  const get = (name: string) => (env[name] ? env[name] : undefined);
  const serverEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith('HOLDPOINT_')) serverEnv[k] = v;
  return { url: get('HOLDPOINT_URL'), key: get('HOLDPOINT_API_KEY'), agentId: get('HOLDPOINT_AGENT_ID'), serverEnv };
}
