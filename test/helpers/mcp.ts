// The pieces of an MCP gateway test: Holdpoint (the harness's app, with its
// workers, on a real port, since the proxy is a separate process), the real
// `holdpoint mcp-proxy` in front of real MCP servers from npm, and a real
// @modelcontextprotocol/sdk client.
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Harness } from './harness.ts';
import { freePort, ROOT, spawnHoldpoint, waitForPort, type Proc } from './processes.ts';

export const BIN = `${ROOT}bin/holdpoint.js`;
export const FS_SERVER = `${ROOT}node_modules/.bin/mcp-server-filesystem`;
export const EVERYTHING_SERVER = `${ROOT}node_modules/.bin/mcp-server-everything`;

/** Serves the harness's app on 127.0.0.1: the proxy reaches Holdpoint over HTTP like any agent. */
export async function listen(h: Harness): Promise<{ base: string; close(): Promise<void> }> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: h.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => r());
      }),
  };
}

export const newClient = (caps: Record<string, unknown> = {}) => new Client({ name: 'gateway-test', version: '1.0.0' }, { capabilities: caps });

/** A client talking to `holdpoint mcp-proxy … -- <server>` over stdio; the proxy is its child process. */
export async function stdioClient(proxyArgs: string[], env: Record<string, string> = {}, caps: Record<string, unknown> = {}) {
  let stderr = '';
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp-proxy', ...proxyArgs],
    env: { ...(process.env as Record<string, string>), ...env },
    cwd: ROOT,
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = newClient(caps);
  await client.connect(transport, { timeout: 30_000 });
  return { client, transport, stderr: () => stderr, pid: transport.pid! };
}

/** `holdpoint mcp-proxy --listen` as a process, and a client connected to it over Streamable HTTP. */
export async function httpProxy(proxyArgs: string[], env: Record<string, string> = {}) {
  const port = await freePort();
  const proc = spawnHoldpoint(['mcp-proxy', '--listen', `127.0.0.1:${port}`, ...proxyArgs], env);
  await waitForPort(port, 30_000, () => proc.output());
  const url = new URL(`http://127.0.0.1:${port}/mcp`);
  return {
    proc,
    url,
    async connect(caps: Record<string, unknown> = {}) {
      const client = newClient(caps);
      await client.connect(new StreamableHTTPClientTransport(url), { timeout: 30_000 });
      return client;
    },
  };
}

/** server-everything in its Streamable HTTP mode: an upstream the proxy reaches over HTTP. */
export async function everythingOverHttp(): Promise<{ url: string; proc: Proc }> {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING_SERVER, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, cwd: ROOT });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((r) => child.once('exit', (c, s) => r(c ?? s ?? -1)));
  const proc: Proc = {
    proc: child,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  await waitForPort(port, 30_000, () => out);
  return { url: `http://127.0.0.1:${port}/mcp`, proc };
}

/** The text of a tool result's content. */
export const textOf = (r: object) =>
  (((r as { content?: unknown }).content as { type: string; text?: string }[] | undefined) ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');

/** The approval id in the inbox link of a progress message. */
export const approvalIdIn = (message: string | undefined) => /\/ui\/approvals\/([0-9a-f-]{36})/.exec(message ?? '')?.[1];
