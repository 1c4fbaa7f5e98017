// The Streamable HTTP front: MCP at http://HOST:PORT/mcp, one upstream
// connection per client session. Sessions live in this process: after a
// restart a client's session id is unknown (404), it initializes again, and
// its retried calls find their approvals by key (key.ts), not by session.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { Hono } from 'hono';
import type { Gate } from './gate.ts';
import { createRelay } from './relay.ts';
import { openUpstream, type UpstreamSpec } from './upstream.ts';

export interface HttpFrontOptions {
  host: string;
  port: number;
  upstream: UpstreamSpec;
  gate: Gate;
  serverName: (serverInfoName: string | undefined) => string;
  hideDenied: boolean;
  env: Record<string, string>;
  log: (line: string) => void;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
const rpcError = (code: number, message: string) => ({ jsonrpc: '2.0', id: null, error: { code, message } });

export async function serveHttp(o: HttpFrontOptions): Promise<{ url: string; close(): Promise<void> }> {
  const sessions = new Map<string, { transport: WebStandardStreamableHTTPServerTransport; close(): Promise<void> }>();
  const app = new Hono();

  // Bound to loopback, only loopback names may be asked for: a web page that
  // rebinds its own name to 127.0.0.1 must not reach tools through the proxy.
  let allowedHosts: Set<string> | null = null;
  app.use('*', async (c, next) => {
    if (allowedHosts && !allowedHosts.has((c.req.header('host') ?? '').toLowerCase())) return c.json(rpcError(-32000, 'Forbidden: Host is not this proxy'), 403);
    return next();
  });

  app.all('/mcp', async (c) => {
    const id = c.req.header('mcp-session-id');
    if (id) {
      const s = sessions.get(id);
      if (!s) return c.json(rpcError(-32001, 'Session not found: initialize again'), 404);
      return s.transport.handleRequest(c.req.raw);
    }
    if (c.req.method !== 'POST') return c.json(rpcError(-32000, 'Bad Request: no session id'), 400);
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json(rpcError(-32700, 'Parse error'), 400);
    }
    if (!isInitializeRequest(body)) return c.json(rpcError(-32000, 'Bad Request: no session id, and not an initialize request'), 400);

    let upstream;
    try {
      upstream = await openUpstream(o.upstream, o.env);
    } catch (err) {
      o.log((err as Error).message);
      return c.json(rpcError(-32603, 'the upstream server is unavailable'), 502);
    }
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void sessions.set(sid, { transport, close: relay.close }),
    });
    const relay = createRelay({ client: transport, upstream, gate: o.gate, serverName: o.serverName, hideDenied: o.hideDenied, session: randomUUID(), log: o.log });
    const onclose = transport.onclose;
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
      onclose?.();
    };
    await relay.start();
    return transport.handleRequest(c.req.raw, { parsedBody: body });
  });

  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: o.host, port: o.port }, () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address() as AddressInfo;
  if (LOOPBACK.has(o.host)) allowedHosts = new Set([`127.0.0.1:${addr.port}`, `localhost:${addr.port}`, `[::1]:${addr.port}`]);
  return {
    url: `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}/mcp`,
    async close() {
      await Promise.allSettled([...sessions.values()].map((s) => s.close()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
