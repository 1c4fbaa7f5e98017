// `holdpoint mcp-proxy`: flags and environment into the proxy's options; see src/mcp.
import { parseArgs } from 'node:util';
import { loadMcpProxyEnv } from '../config.ts';
import { McpProxyError, McpProxyOptions, runMcpProxy } from '../mcp/proxy.ts';
import { BootError, UsageError } from './common.ts';

export async function mcpProxy(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      'agent-id': { type: 'string' },
      'server-name': { type: 'string' },
      'inbox-url': { type: 'string' },
      upstream: { type: 'string' },
      listen: { type: 'string' },
      'hide-denied': { type: 'boolean' },
      'progress-interval': { type: 'string' },
      'retry-window': { type: 'string' },
      'lease-seconds': { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const env = loadMcpProxyEnv();
  const parsed = McpProxyOptions.safeParse({
    url: values.url ?? env.url,
    key: values.key ?? env.key,
    agentId: values['agent-id'] ?? env.agentId,
    serverName: values['server-name'],
    inboxUrl: values['inbox-url'],
    upstream: values.upstream,
    listen: values.listen,
    hideDenied: values['hide-denied'] ?? false,
    progressInterval: values['progress-interval'],
    retryWindow: values['retry-window'],
    leaseSeconds: values['lease-seconds'],
    command: positionals,
  });
  if (!parsed.success) {
    const flag: Record<string, string> = { url: '--url (or HOLDPOINT_URL)', key: '--key (or HOLDPOINT_API_KEY)', agentId: '--agent-id', command: 'COMMAND' };
    throw new UsageError(`mcp-proxy: ${parsed.error.issues.map((i) => `${flag[String(i.path[0])] ?? `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`}: ${i.message}`).join('; ')}`);
  }
  try {
    await runMcpProxy(parsed.data, env.serverEnv, (line) => process.stderr.write(`holdpoint mcp-proxy: ${line}\n`));
  } catch (err) {
    if (err instanceof McpProxyError) throw new BootError(err.message);
    throw err;
  }
  return 0;
}
