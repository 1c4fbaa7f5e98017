// Names and keys for one MCP tool call. Pure.
//
// The idempotency key has to survive a proxy restart, so it cannot use the
// proxy's session id (a restarted proxy issues new ones). It is built from what
// the client resends when it retries the same request: the JSON-RPC request id
// and the arguments, plus what the operator configured (agent id, server
// name). Clients restart their ids at 0 on every connection, so the same id and
// arguments can come back later as a genuinely new call: `generation` bumps the
// key past a finished approval that is older than the retry window (see gate.ts).
import { createHash } from 'node:crypto';
import { canonicalJson } from '../approvals/chain.ts';

/** A JSON-RPC request id: the spec allows a string or a number, and they differ (1 is not "1"). */
export type RequestId = string | number;

/**
 * A server name usable inside an action: letters, digits, `_` and `-`; runs of
 * anything else become one `-` (`mcp-servers/everything` → `mcp-servers-everything`).
 */
export function serverNameOf(raw: string): string {
  const s = raw.trim().replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  return s || 'server';
}

/** The action a tool call is guarded as: `mcp.<server>.<tool>`. */
export function actionOf(server: string, tool: string): string {
  return `mcp.${server}.${tool}`;
}

/** sha-256 of the canonical JSON of a tool call's arguments (key order does not matter). */
export function argumentsHash(args: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(args)).digest('hex');
}

export interface CallIdentity {
  agentId: string;
  server: string;
  tool: string;
  requestId: RequestId;
  args: Record<string, unknown>;
}

/**
 * The idempotency key of a tool call: `mcp-` and 40 hex digits of
 * sha-256(canonical JSON of agent, server, tool, request id, arguments hash),
 * with `-g<n>` after the first generation.
 */
export function callKey(c: CallIdentity, generation = 0): string {
  const h = createHash('sha256')
    .update(canonicalJson({ v: 1, agent: c.agentId, server: c.server, tool: c.tool, id: c.requestId, args: argumentsHash(c.args) }))
    .digest('hex')
    .slice(0, 40);
  return generation === 0 ? `mcp-${h}` : `mcp-${h}-g${generation}`;
}
