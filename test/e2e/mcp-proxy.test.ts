// The MCP approval gateway end to end: a real @modelcontextprotocol/sdk
// client, the real `holdpoint mcp-proxy` process, and the reference MCP servers
// from npm (filesystem on a temp dir, everything), over stdio and over
// Streamable HTTP. Holdpoint is the harness's app with its workers, on a port.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { approvalIdIn, everythingOverHttp, EVERYTHING_SERVER, FS_SERVER, httpProxy, listen, stdioClient, textOf } from '../helpers/mcp.ts';
import { freePort, runCli, type Proc } from '../helpers/processes.ts';
import { waitFor } from '../helpers/receiver.ts';

let h: Harness;
let hp: { base: string; close(): Promise<void> };
let t: TenantKeys;
let alice: string;
let dir: string;
const cleanup: Array<() => Promise<unknown> | unknown> = [];

const POLICY = {
  defaults: { decision: 'allow' },
  guards: { sensitive_data: {} }, // on_finding: redact
  rules: [
    {
      name: 'quick-writes-expire',
      match: { action: 'mcp.fs.write_file', when: { 'params.path': { matches: 'expire' } } },
      decision: 'require_approval',
      reason: 'Writes need a human',
      approval: { timeout_seconds: 2, min_timeout_seconds: 1, on_timeout: 'reject' },
    },
    { name: 'writes-need-a-human', match: { action: 'mcp.fs.write_file' }, decision: 'require_approval', reason: 'Writes need a human', approval: { timeout_seconds: 300 } },
    { name: 'no-moves', match: { action: 'mcp.fs.move_file' }, decision: 'deny', reason: 'Moving files is not allowed' },
    { name: 'no-sums', match: { action: 'mcp.everything.get-sum' }, decision: 'deny', reason: 'No arithmetic today' },
    { name: 'long-jobs', match: { action: 'mcp.everything.trigger-long-running-operation' }, decision: 'require_approval', reason: 'Long jobs need a human', approval: { timeout_seconds: 300 } },
  ],
};

beforeAll(async () => {
  h = await createHarness({ workers: true });
  hp = await listen(h);
  t = await h.tenant('mcp');
  alice = await h.as(t, 'alice');
  await h.setPolicy(t, POLICY);
  dir = mkdtempSync(join(tmpdir(), 'hp-mcp-'));
});

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
});

afterAll(async () => {
  await hp?.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

const fsArgs = (extra: string[] = []) => ['--url', hp.base, '--key', t.agent, '--agent-id', 'claude-desktop', '--server-name', 'fs', '--progress-interval', '0.3', ...extra, '--', FS_SERVER, dir];

async function fsOverStdio(extra: string[] = [], caps: Record<string, unknown> = {}) {
  const c = await stdioClient(fsArgs(extra), {}, caps);
  cleanup.push(() => c.client.close());
  return c;
}

const decide = (approvalId: string, decision: 'approve' | 'reject', reason?: string) =>
  h.call('POST', `/v1/approvals/${approvalId}/decision`, alice, { decision, ...(reason ? { reason } : {}) });

const approval = async (id: string) => (await h.call('GET', `/v1/approvals/${id}`, t.admin)).body;

/** Calls a tool, collecting progress; `hold` runs once the first progress (with the inbox link) arrived. */
async function heldCall(client: Client, name: string, args: Record<string, unknown>, hold: (approvalId: string, messages: string[]) => Promise<void>) {
  const messages: string[] = [];
  const call = client.callTool({ name, arguments: args }, undefined, {
    onprogress: (p) => void messages.push(p.message ?? ''),
    resetTimeoutOnProgress: true,
    timeout: 5_000,
    maxTotalTimeout: 60_000,
  });
  const caught = call.catch((e: unknown) => e);
  const id = await waitFor(() => approvalIdIn(messages[0]), { what: 'the first progress notification, with the inbox link', timeout: 20_000 });
  await hold(id, messages);
  const out = await caught;
  if (out instanceof Error) throw out;
  return { result: out as Awaited<typeof call>, messages, approvalId: id };
}

describe('MCP gateway over stdio (filesystem server)', () => {
  it('forwards an allowed call and reports its outcome to the audit trail', async () => {
    writeFileSync(join(dir, 'hello.txt'), 'hello from disk');
    const { client } = await fsOverStdio();
    const r = await client.callTool({ name: 'read_text_file', arguments: { path: join(dir, 'hello.txt') } });
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toContain('hello from disk');
    const d = await waitFor(async () => {
      const list = (await h.call('GET', '/v1/decisions?action=mcp.fs.read_text_file', t.admin)).body.data as { report_status: string | null; agent_id: string; report_result: unknown }[];
      return list.find((x) => x.report_status === 'completed');
    }, { what: 'the completed report' });
    expect(d.agent_id).toBe('claude-desktop');
    expect(JSON.stringify(d.report_result)).toContain('hello from disk');
  });

  it('answers a denied call with the policy reasons as an error result, and the server never sees it', async () => {
    writeFileSync(join(dir, 'stay.txt'), 'x');
    const { client } = await fsOverStdio();
    const r = await client.callTool({ name: 'move_file', arguments: { source: join(dir, 'stay.txt'), destination: join(dir, 'gone.txt') } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Holdpoint denied mcp\.fs\.move_file: no-moves: Moving files is not allowed/);
    expect(existsSync(join(dir, 'stay.txt'))).toBe(true);
    expect(existsSync(join(dir, 'gone.txt'))).toBe(false);
  });

  it('holds a write_file with progress and the inbox link, writes nothing until approved through the API, then writes exactly the approved arguments', async () => {
    const file = join(dir, 'approved.txt');
    const { client } = await fsOverStdio();
    const { result, messages, approvalId } = await heldCall(client, 'write_file', { path: file, content: 'approved content' }, async (id, msgs) => {
      await waitFor(() => msgs.length >= 3, { what: 'three progress notifications during the hold' });
      expect(existsSync(file)).toBe(false);
      const a = await approval(id);
      expect(a).toMatchObject({ status: 'pending', action: 'mcp.fs.write_file', agent_id: 'claude-desktop', params: { path: file, content: 'approved content' } });
      expect(a.context.mcp).toMatchObject({ client: { name: 'gateway-test', version: '1.0.0' }, server: 'fs', tool: 'write_file', request_id: 1 });
      expect((await decide(id, 'approve', 'looks fine')).status).toBe(200);
    });
    expect(messages[0]).toContain(`${hp.base}/ui/approvals/${approvalId}`);
    expect(result.isError).toBeFalsy();
    expect(readFileSync(file, 'utf8')).toBe('approved content');
    const a = await waitFor(async () => ((await approval(approvalId)).status === 'completed' ? approval(approvalId) : undefined), { what: 'the completed approval' });
    expect(a.decided_by).toBe('alice');
    expect(JSON.stringify(a.result)).toContain('Successfully wrote');
  });

  it('a rejection is an error result naming who decided and why, and nothing is written', async () => {
    const file = join(dir, 'rejected.txt');
    const { client } = await fsOverStdio();
    const { result } = await heldCall(client, 'write_file', { path: file, content: 'no' }, async (id) => {
      expect((await decide(id, 'reject', 'not on a Friday')).status).toBe(200);
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('Holdpoint: alice rejected mcp.fs.write_file: "not on a Friday". The call was not run.');
    expect(existsSync(file)).toBe(false);
  });

  it('an expired hold is an error result, and nothing is written', async () => {
    const file = join(dir, 'will-expire.txt');
    const { client } = await fsOverStdio();
    const { result } = await heldCall(client, 'write_file', { path: file, content: 'late' }, async () => {});
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/nobody decided on mcp\.fs\.write_file before its deadline .*; it expired and the call was not run/);
    expect(existsSync(file)).toBe(false);
  });

  it('forwards the redacted arguments: the approver saw them, and they are what reaches the server', async () => {
    const file = join(dir, 'redacted.txt');
    const { client } = await fsOverStdio();
    const { result } = await heldCall(client, 'write_file', { path: file, content: 'mail bob@example.com today' }, async (id) => {
      expect(JSON.stringify((await approval(id)).params)).not.toContain('bob@example.com');
      await decide(id, 'approve');
    });
    expect(result.isError).toBeFalsy();
    const written = readFileSync(file, 'utf8');
    expect(written).not.toContain('bob@example.com');
    expect(written).toMatch(/^mail \[REDACTED[^\]]*\] today$/);
  });

  it('--hide-denied drops the tools the policy denies outright and keeps the rest', async () => {
    const plain = (await (await fsOverStdio()).client.listTools()).tools.map((x) => x.name);
    const hidden = (await (await fsOverStdio(['--hide-denied'])).client.listTools()).tools.map((x) => x.name);
    expect(plain).toContain('move_file');
    expect(hidden).not.toContain('move_file');
    expect(hidden).toEqual(plain.filter((n) => n !== 'move_file'));
  });

  it('offers the inbox link as a URL elicitation to a client that declares it, and says when the hold is over', async () => {
    const file = join(dir, 'elicited.txt');
    const { client } = await fsOverStdio([], { elicitation: { url: {} } });
    const { ElicitRequestSchema, ElicitationCompleteNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
    const asked: { url?: string; elicitationId?: string; mode?: string }[] = [];
    const completed: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, (req) => {
      asked.push(req.params as never);
      return { action: 'accept' };
    });
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => void completed.push(n.params.elicitationId));
    const { approvalId } = await heldCall(client, 'write_file', { path: file, content: 'via link' }, async (id) => {
      await waitFor(() => asked.length > 0, { what: 'the elicitation request' });
      await decide(id, 'approve');
    });
    expect(asked).toEqual([{ mode: 'url', url: `${hp.base}/ui/approvals/${approvalId}`, elicitationId: approvalId, message: expect.stringContaining('Waiting for a human') }]);
    await waitFor(() => completed.includes(approvalId), { what: 'notifications/elicitation/complete' });
    expect(readFileSync(file, 'utf8')).toBe('via link');
  });

  it('a client that cancels a held call gets no answer, and nothing runs; the approval stays for a retry', async () => {
    const file = join(dir, 'cancelled.txt');
    const { client } = await fsOverStdio();
    const abort = new AbortController();
    const messages: string[] = [];
    const call = client
      .callTool({ name: 'write_file', arguments: { path: file, content: 'never' } }, undefined, { onprogress: (p) => void messages.push(p.message ?? ''), signal: abort.signal })
      .catch((e: unknown) => e);
    const id = await waitFor(() => approvalIdIn(messages[0]), { what: 'the hold', timeout: 20_000 });
    abort.abort('changed my mind');
    expect(String(await call)).toMatch(/changed my mind|abort/i);
    const seen = messages.length;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(messages.length).toBe(seen); // the proxy stopped waiting: no more progress
    expect((await approval(id)).status).toBe('pending');
    expect(existsSync(file)).toBe(false);
    // The client still works after the cancel.
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it('the proxy SIGKILLed during a hold: the restarted proxy finds the same approval for the retry, which runs once', async () => {
    const file = join(dir, 'survives.txt');
    const args = { path: file, content: 'written once' };
    const first = await stdioClient(fsArgs());
    const messages: string[] = [];
    const lost = first.client
      .callTool({ name: 'write_file', arguments: args }, undefined, { onprogress: (p) => void messages.push(p.message ?? ''), resetTimeoutOnProgress: true, timeout: 5_000 })
      .catch((e: unknown) => e);
    const id = await waitFor(() => approvalIdIn(messages[0]), { what: 'the hold', timeout: 20_000 });
    process.kill(first.pid, 'SIGKILL');
    expect(String(await lost)).toMatch(/closed/i);
    await first.client.close().catch(() => undefined);

    // The client starts the proxy again and retries the same request (same id: initialize is 0, the call 1).
    const second = await fsOverStdio();
    const { result, approvalId } = await heldCall(second.client, 'write_file', args, async (again) => {
      expect(again).toBe(id);
      expect((await approval(id)).status).toBe('pending');
      await decide(id, 'approve');
    });
    expect(approvalId).toBe(id);
    expect(result.isError).toBeFalsy();
    expect(readFileSync(file, 'utf8')).toBe('written once');
    await waitFor(async () => (await approval(id)).status === 'completed', { what: 'completed' });
    const events = (await h.call('GET', `/v1/approvals/${id}/events`, t.admin)).body;
    const types = (events.data ?? events.events ?? events).map((e: { type: string }) => e.type);
    expect(types.filter((x: string) => x === 'claimed')).toHaveLength(1);
    expect(types.filter((x: string) => x === 'completed')).toHaveLength(1);

    // One more retry of the same request gets the recorded result and does not write again.
    rmSync(file);
    const third = await fsOverStdio();
    const replay = await third.client.callTool({ name: 'write_file', arguments: args });
    expect(textOf(replay)).toContain(`this call already ran (approval ${id}, completed`);
    expect(existsSync(file)).toBe(false);
  });

  it('the same request id and arguments after the retry window are a new call: a new approval, not the old result', async () => {
    const file = join(dir, 'twice.txt');
    const args = { path: file, content: 'again' };
    const first = await fsOverStdio(['--retry-window', '1']);
    const one = await heldCall(first.client, 'write_file', args, (id) => decide(id, 'approve').then(() => undefined));
    expect(readFileSync(file, 'utf8')).toBe('again');
    await waitFor(async () => (await approval(one.approvalId)).status === 'completed', { what: 'completed' });
    rmSync(file);
    await new Promise((r) => setTimeout(r, 1_500));
    const second = await fsOverStdio(['--retry-window', '1']);
    const two = await heldCall(second.client, 'write_file', args, (id) => decide(id, 'approve').then(() => undefined));
    expect(two.approvalId).not.toBe(one.approvalId);
    expect((await approval(two.approvalId)).idempotency_key).toBe(`${(await approval(one.approvalId)).idempotency_key}-g1`);
    expect(readFileSync(file, 'utf8')).toBe('again');
  });

  it('never hands Holdpoint\'s key to the server it guards (key and URL from the environment)', async () => {
    const c = await stdioClient(['--server-name', 'everything', '--', EVERYTHING_SERVER, 'stdio'], { HOLDPOINT_URL: hp.base, HOLDPOINT_API_KEY: t.agent });
    cleanup.push(() => c.client.close());
    const r = await c.client.callTool({ name: 'get-env', arguments: {} });
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toContain('"PATH"');
    expect(textOf(r)).not.toContain(t.agent);
    expect(textOf(r)).not.toContain('HOLDPOINT_');
  });

  it('a refused key is one line on stderr and exit 1', async () => {
    const badKey = await runCli(['mcp-proxy', '--url', hp.base, '--key', 'hp_agent_nope', '--', FS_SERVER, dir], {});
    expect(badKey.code).toBe(1);
    expect(badKey.stderr.trim().split('\n')).toHaveLength(1);
    expect(badKey.stderr).toMatch(/refused the key/);
  });

  it('an unreachable HTTP upstream is one line on stderr and exit 1', async () => {
    const port = await freePort();
    const badUpstream = await runCli(['mcp-proxy', '--url', hp.base, '--key', t.agent, '--upstream', `http://127.0.0.1:${port}/mcp`, '--listen', '127.0.0.1:0'], {});
    expect(badUpstream.code).toBe(1);
    expect(badUpstream.stderr.trim().split('\n')).toHaveLength(1);
    expect(badUpstream.stderr).toMatch(/cannot reach the upstream MCP server at http:\/\/127\.0\.0\.1:\d+\/mcp/);
  });

  it('a server command that does not exist is one line on stderr and exit 1', async () => {
    const badCommand = await runCli(['mcp-proxy', '--url', hp.base, '--key', t.agent, '--', '/no/such/server'], {});
    expect(badCommand.code).toBe(1);
    expect(badCommand.stderr.trim().split('\n')).toHaveLength(1);
    expect(badCommand.stderr).toMatch(/cannot start the upstream server `\/no\/such\/server`: no such command/);
  });
});

describe('MCP gateway over Streamable HTTP', () => {
  let upstream: { url: string; proc: Proc };
  beforeAll(async () => {
    upstream = await everythingOverHttp();
  });
  afterAll(async () => {
    await upstream?.proc.kill('SIGTERM');
  });

  it('HTTP to HTTP: an allowed call is forwarded with the redacted arguments, a denied one returns the reasons', async () => {
    const proxy = await httpProxy(['--url', hp.base, '--key', t.agent, '--server-name', 'everything', '--upstream', upstream.url]);
    cleanup.push(() => proxy.proc.kill('SIGTERM'));
    const client = await proxy.connect();
    cleanup.push(() => client.close());
    expect(client.getServerVersion()?.name).toMatch(/everything/); // initialize passed through
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'write to carol@example.com' } });
    expect(echo.isError).toBeFalsy();
    expect(textOf(echo)).not.toContain('carol@example.com');
    expect(textOf(echo)).toMatch(/Echo: write to \[REDACTED[^\]]*\]/);
    const sum = await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } });
    expect(sum.isError).toBe(true);
    expect(textOf(sum)).toContain('No arithmetic today');
    // Everything else passes through: prompts and resources.
    expect((await client.listPrompts()).prompts.length).toBeGreaterThan(0);
    expect((await client.listResources()).resources.length).toBeGreaterThan(0);
  });

  it('HTTP front on loopback refuses a request for another host name (DNS rebinding)', async () => {
    const proxy = await httpProxy(['--url', hp.base, '--key', t.agent, '--server-name', 'everything', '--upstream', upstream.url]);
    cleanup.push(() => proxy.proc.kill('SIGTERM'));
    const { request } = await import('node:http');
    const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'page', version: '1' } } });
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(proxy.url, { method: 'POST', headers: { host, 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(init);
      });
    expect(await status(`evil.example:${proxy.url.port}`)).toBe(403);
    expect(await status(`127.0.0.1:${proxy.url.port}`)).toBe(200);
  });

  it('HTTP to HTTP: progress keeps increasing from the hold into the server\'s own progress for the approved call', async () => {
    const proxy = await httpProxy(['--url', hp.base, '--key', t.agent, '--server-name', 'everything', '--progress-interval', '0.3', '--upstream', upstream.url]);
    cleanup.push(() => proxy.proc.kill('SIGTERM'));
    const client = await proxy.connect();
    cleanup.push(() => client.close());
    const progress: { progress: number; message?: string }[] = [];
    const call = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } }, undefined, {
      onprogress: (p) => void progress.push(p),
      resetTimeoutOnProgress: true,
      timeout: 5_000,
    });
    const id = await waitFor(() => approvalIdIn(progress[0]?.message), { what: 'the hold', timeout: 20_000 });
    await waitFor(() => progress.length >= 2, { what: 'progress during the hold' });
    await decide(id, 'approve');
    const r = await call;
    expect(r.isError).toBeFalsy();
    const held = progress.filter((p) => approvalIdIn(p.message)).length;
    expect(progress.length - held).toBe(3); // the server's three steps came through after the hold's
    const values = progress.map((p) => p.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(new Set(values).size).toBe(values.length);
  });

  it('HTTP front, filesystem server: a held write gets progress, is approved, then written; a rejected one is not', async () => {
    const proxy = await httpProxy(fsArgs());
    cleanup.push(() => proxy.proc.kill('SIGTERM'));
    const client = await proxy.connect();
    cleanup.push(() => client.close());
    const file = join(dir, 'http-approved.txt');
    const { result, messages } = await heldCall(client, 'write_file', { path: file, content: 'over http' }, async (id, msgs) => {
      await waitFor(() => msgs.length >= 2, { what: 'progress during the hold' });
      expect(existsSync(file)).toBe(false);
      await decide(id, 'approve');
    });
    expect(messages.length).toBeGreaterThanOrEqual(2);
    expect(result.isError).toBeFalsy();
    expect(readFileSync(file, 'utf8')).toBe('over http');

    const no = join(dir, 'http-rejected.txt');
    const rejected = await heldCall(client, 'write_file', { path: no, content: 'x' }, (id) => decide(id, 'reject', 'no').then(() => undefined));
    expect(rejected.result.isError).toBe(true);
    expect(textOf(rejected.result)).toContain('alice rejected');
    expect(existsSync(no)).toBe(false);
  });

  it('HTTP front: the proxy SIGKILLed during a hold, restarted on the same port, and the client\'s retry completes once', async () => {
    const port = await freePort();
    const { spawnHoldpoint, waitForPort } = await import('../helpers/processes.ts');
    const start = async () => {
      const p = spawnHoldpoint(['mcp-proxy', '--listen', `127.0.0.1:${port}`, ...fsArgs()], {});
      await waitForPort(port, 30_000, () => p.output());
      return p;
    };
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const { newClient } = await import('../helpers/mcp.ts');
    const connect = async () => {
      const c = newClient();
      await c.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
      cleanup.push(() => c.close());
      return c;
    };
    const file = join(dir, 'http-survives.txt');
    const args = { path: file, content: 'once over http' };
    let proc = await start();
    const c1 = await connect();
    const messages: string[] = [];
    const lost = c1.callTool({ name: 'write_file', arguments: args }, undefined, { onprogress: (p) => void messages.push(p.message ?? ''), resetTimeoutOnProgress: true, timeout: 3_000 }).catch((e: unknown) => e);
    const id = await waitFor(() => approvalIdIn(messages[0]), { what: 'the hold', timeout: 20_000 });
    expect(await proc.kill('SIGKILL')).toBe('SIGKILL');
    expect(await lost).toBeInstanceOf(Error);
    proc = await start();
    cleanup.push(() => proc.kill('SIGTERM'));
    const c2 = await connect();
    const { result, approvalId } = await heldCall(c2, 'write_file', args, (again) => decide(again, 'approve').then(() => undefined));
    expect(approvalId).toBe(id);
    expect(result.isError).toBeFalsy();
    expect(readFileSync(file, 'utf8')).toBe('once over http');
  });
});
