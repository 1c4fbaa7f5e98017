// The real MCP server the proxy stands in front of: a child process over
// stdio, or a Streamable HTTP endpoint. One connection per client connection.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';

export type UpstreamSpec = { kind: 'command'; command: string; args: string[] } | { kind: 'http'; url: URL };

/** Thrown when the upstream cannot be started or reached: one line for the operator. */
export class UpstreamUnavailable extends Error {}

/**
 * The child's environment: the proxy's, minus Holdpoint's own credentials —
 * the server being guarded has no business holding the key that guards it.
 */
export function childEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.startsWith('HOLDPOINT_')) out[k] = v;
  return out;
}

export function describeUpstream(u: UpstreamSpec): string {
  return u.kind === 'http' ? u.url.toString() : [u.command, ...u.args].join(' ');
}

/** A started transport to the upstream (for a command: the child is running). */
export async function openUpstream(u: UpstreamSpec, env: Record<string, string>): Promise<Transport> {
  if (u.kind === 'http') return new StreamableHTTPClientTransport(u.url);
  const t = new StdioClientTransport({ command: u.command, args: u.args, env: childEnv(env), stderr: 'inherit' });
  try {
    await t.start();
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such command' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new UpstreamUnavailable(`cannot start the upstream server \`${describeUpstream(u)}\`: ${why}`);
  }
  // Started already: the relay's start() must not start it twice.
  t.start = async () => {};
  return t;
}

/** For an HTTP upstream: connect once (initialize) and close, so a wrong URL fails at startup, not at the first call. */
export async function probeHttpUpstream(url: URL, timeoutMs = 10_000): Promise<void> {
  const client = new Client({ name: 'holdpoint-mcp-proxy-probe', version: '1' });
  const transport = new StreamableHTTPClientTransport(url);
  try {
    await client.connect(transport, { timeout: timeoutMs });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new UpstreamUnavailable(`cannot reach the upstream MCP server at ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  } finally {
    await transport.terminateSession().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
}
