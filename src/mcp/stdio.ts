// The stdio front: the client runs the proxy as its server command and talks
// MCP on the proxy's stdin/stdout. stdout carries only MCP messages; the proxy's
// own lines go to stderr.
import { randomUUID } from 'node:crypto';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Gate } from './gate.ts';
import { createRelay } from './relay.ts';
import { openUpstream, type UpstreamSpec } from './upstream.ts';

export interface StdioFrontOptions {
  upstream: UpstreamSpec;
  gate: Gate;
  serverName: (serverInfoName: string | undefined) => string;
  hideDenied: boolean;
  env: Record<string, string>;
  log: (line: string) => void;
}

/** Serves one client on stdin/stdout until either side closes; resolves then. */
export async function serveStdio(o: StdioFrontOptions): Promise<void> {
  const upstream = await openUpstream(o.upstream, o.env);
  const client = new StdioServerTransport();
  const relay = createRelay({ client, upstream, gate: o.gate, serverName: o.serverName, hideDenied: o.hideDenied, session: randomUUID(), log: o.log });
  const done = new Promise<void>((resolve) => {
    const prev = client.onclose;
    client.onclose = () => {
      prev?.();
      resolve();
    };
  });
  // The SDK's stdio transport does not notice the client going away; the proxy must.
  process.stdin.once('end', () => void relay.close());
  process.stdin.once('close', () => void relay.close());
  await relay.start();
  await done;
  await relay.close();
}
