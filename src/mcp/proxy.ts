// `holdpoint mcp-proxy`: the options, the startup checks (each failure is one
// line and a non-zero exit), and which front serves the client.
import { z } from 'zod';
import { AuthError, ConnectionError, Holdpoint, HoldpointError } from '../sdk/index.ts';
import { createGate } from './gate.ts';
import { serveHttp } from './http.ts';
import { serverNameOf } from './key.ts';
import { serveStdio } from './stdio.ts';
import { describeUpstream, probeHttpUpstream, UpstreamUnavailable, type UpstreamSpec } from './upstream.ts';

const seconds = (def: number, min: number, max: number) => z.coerce.number().min(min).max(max).default(def);
const required = { error: (i: { input: unknown }) => (i.input === undefined ? 'is required' : 'must be a string') };
const httpUrl = z.string(required).refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an http:// or https:// URL');

export const McpProxyOptions = z
  .strictObject({
    url: httpUrl,
    key: z.string(required).min(1, 'is required'),
    agentId: z.string().trim().min(1).max(200).default('mcp-proxy'),
    serverName: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only').max(100).optional(),
    inboxUrl: httpUrl.optional(),
    upstream: httpUrl.optional(),
    listen: z
      .string()
      .regex(/^(\[[0-9a-fA-F:]+\]|[^:]+):\d{1,5}$/, 'must be HOST:PORT (e.g. 127.0.0.1:7400)')
      .optional(),
    hideDenied: z.boolean().default(false),
    progressInterval: seconds(10, 0.1, 300),
    retryWindow: seconds(900, 0, 30 * 86_400),
    leaseSeconds: z.coerce.number().int().min(5).max(86_400).default(300),
    command: z.array(z.string()).default([]),
  })
  .superRefine((o, ctx) => {
    if (o.upstream && o.command.length > 0) ctx.addIssue({ code: 'custom', path: ['upstream'], message: 'give either --upstream URL or `-- COMMAND`, not both' });
    if (!o.upstream && o.command.length === 0) ctx.addIssue({ code: 'custom', path: ['command'], message: 'needs the server to guard: `-- COMMAND [ARGS…]` or --upstream URL' });
  });

export type McpProxyOptions = z.infer<typeof McpProxyOptions>;

/** A startup problem: the CLI prints the message as one line and exits 1. */
export class McpProxyError extends Error {}

/** Checks the key against Holdpoint without side effects: reading an approval that does not exist. */
async function checkHoldpoint(hp: Holdpoint, url: string): Promise<void> {
  try {
    await hp.getApprovalByKey('mcp-proxy-startup-check');
  } catch (err) {
    if (err instanceof HoldpointError && err.code === 'not_found') return;
    if (err instanceof AuthError) throw new McpProxyError(`Holdpoint at ${url} refused the key (${err.code}): give an agent key with --key or HOLDPOINT_API_KEY`);
    if (err instanceof ConnectionError) throw new McpProxyError(`${err.message} (${err.code})`);
    throw new McpProxyError(`Holdpoint at ${url} answered ${err instanceof HoldpointError ? `${err.code}: ${err.message}` : String(err)}`);
  }
}

/**
 * Runs the proxy until the client goes away (stdio) or the process is
 * signalled (HTTP). `serverEnv` is what an upstream command is started with. `log` writes the proxy's own lines (never to stdout in
 * stdio mode: that is the MCP channel).
 */
export async function runMcpProxy(o: McpProxyOptions, serverEnv: Record<string, string>, log: (line: string) => void): Promise<void> {
  let hp: Holdpoint;
  try {
    hp = new Holdpoint({ baseUrl: o.url, apiKey: o.key, agentId: o.agentId, retries: 2 });
  } catch (err) {
    throw new McpProxyError((err as Error).message);
  }
  await checkHoldpoint(hp, o.url);
  const upstream: UpstreamSpec = o.upstream ? { kind: 'http', url: new URL(o.upstream) } : { kind: 'command', command: o.command[0]!, args: o.command.slice(1) };
  try {
    if (upstream.kind === 'http') await probeHttpUpstream(upstream.url);
  } catch (err) {
    if (err instanceof UpstreamUnavailable) throw new McpProxyError(err.message);
    throw err;
  }
  const gate = createGate({
    hp,
    agentId: o.agentId,
    inboxUrl: o.inboxUrl ?? o.url,
    progressIntervalMs: o.progressInterval * 1000,
    retryWindowMs: o.retryWindow * 1000,
    leaseSeconds: o.leaseSeconds,
    log,
  });
  const serverName = (fromServer: string | undefined) => o.serverName ?? serverNameOf(fromServer ?? 'server');
  const common = { upstream, gate, serverName, hideDenied: o.hideDenied, env: serverEnv, log };

  if (!o.listen) {
    try {
      await serveStdio(common);
    } catch (err) {
      if (err instanceof UpstreamUnavailable) throw new McpProxyError(err.message);
      throw err;
    }
    return;
  }
  const at = o.listen.lastIndexOf(':');
  const host = o.listen.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(o.listen.slice(at + 1));
  let front: Awaited<ReturnType<typeof serveHttp>>;
  try {
    front = await serveHttp({ ...common, host, port });
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new McpProxyError(code === 'EADDRINUSE' ? `${o.listen} is already in use` : `cannot listen on ${o.listen}: ${(err as Error).message}`);
  }
  log(`serving MCP at ${front.url}, guarding ${describeUpstream(upstream)} through ${o.url}`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await front.close();
}
