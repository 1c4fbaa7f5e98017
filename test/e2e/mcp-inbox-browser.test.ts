/// <reference lib="dom" />
// Issue 17's closing scene: an MCP client's write_file is held by the proxy,
// a person approves it in the web inbox in a real Chromium (opening the very
// link the client was offered), and the client then sees the file written.
// The transcript (what the client saw) goes to test/artifacts/mcp-inbox.txt.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { approvalIdIn, FS_SERVER, listen, stdioClient, textOf } from '../helpers/mcp.ts';
import { ROOT } from '../helpers/processes.ts';
import { waitFor } from '../helpers/receiver.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = `${ROOT}test/artifacts`;

let h: Harness;
let hp: { base: string; close(): Promise<void> };
let t: TenantKeys;
let dir: string;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  h = await createHarness({ workers: true });
  hp = await listen(h);
  t = await h.tenant('mcp-inbox');
  await h.setPolicy(t, {
    defaults: { decision: 'allow' },
    rules: [{ name: 'writes-need-a-human', match: { action: 'mcp.*.write_file' }, decision: 'require_approval', reason: 'Writes need a human', approval: { timeout_seconds: 600 } }],
  });
  dir = mkdtempSync(join(tmpdir(), 'hp-mcp-inbox-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await hp?.close();
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('MCP gateway and the web inbox', () => {
  it('a held write_file is approved in the inbox at the offered link, and the client then sees the file written', async () => {
    const aliceKey = await h.as(t, 'alice');
    const file = join(dir, 'notes.md');
    const { client } = await stdioClient(['--url', hp.base, '--key', t.agent, '--agent-id', 'claude-desktop', '--server-name', 'fs', '--progress-interval', '1', '--', FS_SERVER, dir]);
    const transcript: string[] = [`client → tools/call write_file ${JSON.stringify({ path: file, content: '# Q3 notes\n' })}`];
    const messages: string[] = [];
    const call = client
      .callTool({ name: 'write_file', arguments: { path: file, content: '# Q3 notes\n' } }, undefined, {
        onprogress: (p) => {
          messages.push(p.message ?? '');
          transcript.push(`client ← notifications/progress ${p.progress}: ${p.message}`);
        },
        resetTimeoutOnProgress: true,
        timeout: 10_000,
      })
      .catch((e: unknown) => e);
    const id = await waitFor(() => approvalIdIn(messages[0]), { what: 'the inbox link in a progress notification', timeout: 20_000 });
    const link = /(http:\/\/\S+\/ui\/approvals\/[0-9a-f-]{36})/.exec(messages[0]!)![1]!;
    expect(existsSync(file)).toBe(false);

    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto(link);
    expect(page.url()).toContain('/ui/login'); // signed out: the link leads through sign-in
    await page.fill('#key', aliceKey);
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/ui/approvals/${id}$`));
    const detail = (await page.textContent('main'))!;
    expect(detail).toContain('mcp.fs.write_file');
    expect(detail).toContain('claude-desktop');
    expect(detail).toContain('Writes need a human');
    await page.fill('#reason', 'Fine, it is only notes');
    await page.screenshot({ path: `${ARTIFACTS}/mcp-inbox-detail.png`, fullPage: true });
    await page.click('button.approve');
    await page.waitForURL(/done=approved$/);

    const out = await call;
    if (out instanceof Error) throw out;
    const result = out as { isError?: boolean; content: unknown };
    transcript.push(`client ← result ${JSON.stringify(result)}`);
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain('Successfully wrote');
    expect(readFileSync(file, 'utf8')).toBe('# Q3 notes\n');
    const a = (await h.call('GET', `/v1/approvals/${id}`, t.admin)).body;
    await waitFor(async () => (await h.call('GET', `/v1/approvals/${id}`, t.admin)).body.status === 'completed', { what: 'completed' });
    expect(a).toMatchObject({ decided_by: 'alice', decision_channel: 'web', decision_reason: 'Fine, it is only notes' });
    transcript.push(`approval ${id}: approved by ${a.decided_by} via ${a.decision_channel} ("${a.decision_reason}"); file now holds ${JSON.stringify(readFileSync(file, 'utf8'))}`);
    writeFileSync(`${ARTIFACTS}/mcp-inbox.txt`, `${transcript.join('\n')}\n`);
    process.stdout.write(`\n${transcript.join('\n')}\n`);
    await page.context().close();
    await client.close();
  });
});
