// A message-level MCP relay: everything passes between the client and the
// upstream server unchanged, except tools/call, which goes through the gate,
// and tools/list, which --hide-denied filters. Working on JSON-RPC messages,
// not on typed handlers, is what lets every other method (resources, prompts,
// completion, logging, sampling, elicitation, roots, tasks, ones not yet
// specified) through as it is.
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type JSONRPCRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { UpstreamError, type Gate } from './gate.ts';
import type { RequestId } from './key.ts';
import type { ToolResult } from './results.ts';

export interface RelayOptions {
  client: Transport;
  upstream: Transport;
  gate: Gate;
  /** `--server-name`; when absent, the upstream's own name (serverInfo.name) from initialize. */
  serverName: (serverInfoName: string | undefined) => string;
  hideDenied: boolean;
  /** Identifies this client connection in the approval's context (a fresh value per connection). */
  session: string;
  log: (line: string) => void;
}

type ProgressToken = string | number;

interface Held {
  abort: AbortController;
  progressToken: ProgressToken | undefined;
  /** Progress already sent by the proxy: upstream progress for the same token is shifted past it, so it keeps increasing. */
  sent: number;
}

const idKey = (id: RequestId) => JSON.stringify(id);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function createRelay(o: RelayOptions) {
  const { client, upstream } = o;
  let serverInfoName: string | undefined;
  let clientInfo: unknown;
  let clientCaps: Record<string, unknown> = {};
  let closed = false;
  const calls = new Map<string, Held>(); // client tools/call ids, held or running
  const forwarded = new Map<string, { resolve(r: ToolResult): void; reject(e: Error): void }>();
  const lists = new Set<string>();
  const inits = new Set<string>();
  const tokens = new Map<string, RequestId>(); // progress token → the tools/call it belongs to
  let ownIds = 0;

  const toClient = (m: JSONRPCMessage, relatedRequestId?: RequestId) =>
    client.send(m, relatedRequestId === undefined ? undefined : { relatedRequestId }).catch((err: Error) => o.log(`could not send to the client: ${err.message}`));
  const toUpstream = (m: JSONRPCMessage) =>
    upstream.send(m).catch((err: Error) => {
      o.log(`could not send to the upstream server: ${err.message}`);
      // A request the upstream never got must still be answered.
      if (isJSONRPCRequest(m)) {
        const f = forwarded.get(idKey(m.id));
        if (f) f.reject(new UpstreamError({ code: -32603, message: `upstream unreachable: ${err.message}` }));
        else void toClient({ jsonrpc: '2.0', id: m.id, error: { code: -32603, message: `upstream unreachable: ${err.message}` } });
      }
    });

  async function onToolsCall(req: JSONRPCRequest): Promise<void> {
    const params = isRecord(req.params) ? req.params : {};
    const tool = typeof params.name === 'string' ? params.name : '';
    const args = isRecord(params.arguments) ? params.arguments : {};
    const meta = isRecord(params._meta) ? params._meta : undefined;
    const token = meta && (typeof meta.progressToken === 'string' || typeof meta.progressToken === 'number') ? meta.progressToken : undefined;
    const held: Held = { abort: new AbortController(), progressToken: token, sent: 0 };
    const k = idKey(req.id);
    calls.set(k, held);
    if (token !== undefined) tokens.set(idKey(token), req.id);
    const server = o.serverName(serverInfoName);
    const elicitUrl = isRecord(clientCaps.elicitation) && isRecord(clientCaps.elicitation.url);
    try {
      const result = await o.gate.call(
        { server, tool, args, requestId: req.id, context: { mcp: { client: clientInfo ?? null, server, tool, request_id: req.id, session: o.session } } },
        {
          signal: held.abort.signal,
          progress(progress, message) {
            if (token === undefined) return;
            held.sent = progress;
            void toClient({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress, message } }, req.id);
          },
          offerLink(url, approvalId, message) {
            if (!elicitUrl) return { done() {} };
            void toClient({ jsonrpc: '2.0', id: `holdpoint-${++ownIds}`, method: 'elicitation/create', params: { mode: 'url', url, message, elicitationId: approvalId } }, req.id);
            return {
              done: () => void toClient({ jsonrpc: '2.0', method: 'notifications/elicitation/complete', params: { elicitationId: approvalId } }, req.id),
            };
          },
          forward(granted) {
            return new Promise<ToolResult>((resolve, reject) => {
              forwarded.set(k, { resolve, reject });
              void toUpstream({ ...req, params: { ...params, arguments: granted } });
            });
          },
        },
      );
      void toClient({ jsonrpc: '2.0', id: req.id, result: result as Record<string, unknown> });
    } catch (err) {
      if (held.abort.signal.aborted) return; // cancelled by the client: no answer is expected
      const error = err instanceof UpstreamError ? err.error : { code: -32603, message: `holdpoint mcp-proxy: ${(err as Error)?.message ?? String(err)}` };
      void toClient({ jsonrpc: '2.0', id: req.id, error });
    } finally {
      calls.delete(k);
      forwarded.delete(k);
      if (token !== undefined) tokens.delete(idKey(token));
    }
  }

  client.onmessage = (m: JSONRPCMessage) => {
    if (isJSONRPCRequest(m)) {
      if (m.method === 'tools/call') return void onToolsCall(m);
      if (m.method === 'initialize') {
        inits.add(idKey(m.id));
        const p = isRecord(m.params) ? m.params : {};
        clientInfo = p.clientInfo;
        clientCaps = isRecord(p.capabilities) ? p.capabilities : {};
      }
      if (m.method === 'tools/list' && o.hideDenied) lists.add(idKey(m.id));
      return void toUpstream(m);
    }
    if (isJSONRPCNotification(m) && m.method === 'notifications/cancelled') {
      const id = isRecord(m.params) ? (m.params.requestId as RequestId | undefined) : undefined;
      const held = id === undefined ? undefined : calls.get(idKey(id));
      if (held) held.abort.abort();
      // A call already forwarded is cancelled upstream too; one still held never reached it.
      if (held && id !== undefined && !forwarded.has(idKey(id))) return;
    }
    // Answers to the proxy's own elicitation requests stop here.
    if ((isJSONRPCResultResponse(m) || isJSONRPCErrorResponse(m)) && typeof m.id === 'string' && m.id.startsWith('holdpoint-')) return;
    void toUpstream(m);
  };

  async function onUpstreamResponse(m: JSONRPCMessage & { id: RequestId }): Promise<void> {
    const k = idKey(m.id);
    const f = forwarded.get(k);
    if (f) {
      forwarded.delete(k);
      if (isJSONRPCErrorResponse(m)) f.reject(new UpstreamError(m.error));
      else f.resolve((m as unknown as { result: ToolResult }).result);
      return;
    }
    if (inits.delete(k) && isJSONRPCResultResponse(m)) {
      const r = m.result as { protocolVersion?: string; serverInfo?: { name?: string } };
      serverInfoName = r.serverInfo?.name;
      if (r.protocolVersion) upstream.setProtocolVersion?.(r.protocolVersion);
    }
    if (lists.delete(k) && isJSONRPCResultResponse(m) && Array.isArray((m.result as { tools?: unknown }).tools)) {
      const server = o.serverName(serverInfoName);
      const tools = (m.result as { tools: { name: string }[] }).tools;
      // A check that fails keeps the tool listed: its calls are still guarded.
      const denied = await Promise.all(tools.map((t) => o.gate.deniedOutright(server, t.name).catch(() => false)));
      return void toClient({ ...m, result: { ...m.result, tools: tools.filter((_, i) => !denied[i]) } });
    }
    void toClient(m);
  }

  upstream.onmessage = (m: JSONRPCMessage) => {
    if (isJSONRPCResultResponse(m) || isJSONRPCErrorResponse(m)) {
      if (m.id === undefined) return void toClient(m);
      return void onUpstreamResponse(m as JSONRPCMessage & { id: RequestId });
    }
    if (isJSONRPCNotification(m) && m.method === 'notifications/progress' && isRecord(m.params)) {
      const token = m.params.progressToken as ProgressToken;
      const callId = tokens.get(idKey(token));
      const held = callId === undefined ? undefined : calls.get(idKey(callId));
      if (held && callId !== undefined) {
        const progress = Number(m.params.progress) + held.sent;
        const total = typeof m.params.total === 'number' ? m.params.total + held.sent : undefined;
        return void toClient({ ...m, params: { ...m.params, progress, ...(total !== undefined ? { total } : {}) } }, callId);
      }
    }
    void toClient(m);
  };

  const close = async () => {
    if (closed) return;
    closed = true;
    // A call already forwarded will get no answer now: it is reported as failed, not left to its lease.
    for (const f of forwarded.values()) f.reject(new UpstreamError({ code: -32603, message: 'the connection to the upstream server closed before it answered' }));
    for (const [k, h] of calls) if (!forwarded.has(k)) h.abort.abort();
    await Promise.allSettled([client.close(), upstream.close()]);
  };
  client.onclose = () => void close();
  upstream.onclose = () => {
    if (!closed) o.log('the upstream server closed the connection');
    void close();
  };
  client.onerror = (err) => o.log(`client transport: ${err.message}`);
  upstream.onerror = (err) => o.log(`upstream transport: ${err.message}`);

  return {
    /** Starts the upstream first, so nothing the client sends is dropped. */
    async start(): Promise<void> {
      await upstream.start();
      await client.start();
    },
    close,
    get closed() {
      return closed;
    },
  };
}
