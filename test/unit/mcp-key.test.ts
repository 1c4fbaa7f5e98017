import { describe, expect, it } from 'vitest';
import { actionOf, callKey, serverNameOf } from '../../src/mcp/key.ts';
import { recordOf } from '../../src/mcp/results.ts';

const call = { agentId: 'claude-desktop', server: 'fs', tool: 'write_file', requestId: 1 as string | number, args: { path: '/tmp/a', content: 'x' } };

describe('MCP call keys', () => {
  it('is the same for a retry of the same request, whatever the order of the argument keys', () => {
    expect(callKey(call)).toBe(callKey({ ...call, args: { content: 'x', path: '/tmp/a' } }));
    expect(callKey(call)).toMatch(/^mcp-[0-9a-f]{40}$/);
  });

  it('differs when the request id, its type, the arguments, the tool, the server or the agent differ', () => {
    const k = callKey(call);
    for (const other of [
      { ...call, requestId: 2 },
      { ...call, requestId: '1' },
      { ...call, args: { path: '/tmp/a', content: 'y' } },
      { ...call, tool: 'edit_file' },
      { ...call, server: 'fs2' },
      { ...call, agentId: 'cursor' },
    ]) expect(callKey(other)).not.toBe(k);
  });

  it('later generations of a key say so, and stay within the server’s 255 characters', () => {
    expect(callKey(call, 3)).toBe(`${callKey(call)}-g3`);
    expect(callKey(call, 49).length).toBeLessThan(255);
  });

  it('names actions mcp.<server>.<tool>, with server names reduced to letters, digits, _ and -', () => {
    expect(actionOf(serverNameOf('mcp-servers/everything'), 'echo')).toBe('mcp.mcp-servers-everything.echo');
    expect(serverNameOf('  secure filesystem server ')).toBe('secure-filesystem-server');
    expect(serverNameOf('///')).toBe('server');
  });
});

describe('the recorded result of a tool call', () => {
  it('keeps text (clipped, with the full length), and only the type and size of binary content', () => {
    const rec = recordOf({
      content: [
        { type: 'text', text: 'a'.repeat(9_000) },
        { type: 'image', mimeType: 'image/png', data: 'AAAA' },
        { type: 'resource', resource: { uri: 'file:///x', blob: 'AAAAAAAA' } },
      ],
      isError: true,
    });
    expect(rec).toEqual({
      isError: true,
      content: [
        { type: 'text', text: 'a'.repeat(8_000), truncated: 9_000 },
        { type: 'image', mimeType: 'image/png', bytes: 3 },
        { type: 'resource', uri: 'file:///x', mimeType: undefined, bytes: 6 },
      ],
    });
  });
});
