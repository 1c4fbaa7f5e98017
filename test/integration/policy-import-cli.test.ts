// `holdpoint policy import` as a user runs it: the real CLI process, the seed
// files, YAML on stdout, the report on stderr, and --apply storing the policy.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parsePolicy } from '../../src/policy/schema.ts';
import { createHarness, type Harness } from '../helpers/harness.ts';
import { ROOT, runCli } from '../helpers/processes.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

const seed = (name: string) => path.join(ROOT, 'test/fixtures/seeds', name);
const cliEnv = () => ({ DATABASE_URL: h.config.DATABASE_URL, REDIS_URL: h.config.REDIS_URL, LOG_LEVEL: 'silent' });

describe('holdpoint policy import', () => {
  it('prints a valid policy for agenthalt.yaml on stdout and every default and approximation on stderr', async () => {
    const r = await runCli(['policy', 'import', '--from', 'agenthalt', seed('agenthalt.yaml')], cliEnv());
    expect(r.code).toBe(0);
    const doc = parse(r.stdout) as Record<string, unknown>;
    const parsed = parsePolicy(doc);
    expect(parsed.ok).toBe(true);
    expect((doc.guards as Record<string, unknown>).deletion).toEqual([expect.objectContaining({ protected: ['inbox', 'sent'] })]);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^holdpoint: default: guards\.deletion: AgentHalt names no actions or resource field/));
    expect(lines).toContainEqual(expect.stringMatching(/^holdpoint: approximate: guards\.sensitive_data\.blocked_patterns\.api_key: /));
    expect(lines.every((l) => /^holdpoint: (unmapped|approximate|default): /.test(l))).toBe(true);
  });

  it('--apply stores the AgentSentinel policy like policy set and prints its version', async () => {
    const t = await h.tenant();
    const r = await runCli(['policy', 'import', '--from', 'agentsentinel', seed('agentsentinel-callguard.yaml'), '--tenant', t.tenant_id, '--apply'], cliEnv());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('# policy version 1 is active');
    const got = await h.call('GET', '/v1/policy', t.admin);
    expect(got.body.version).toBe(1);
    expect(got.body.document.guards.scope.deny).toEqual(['delete_database', 'dangerous_operation']);
    const denied = await h.call('POST', '/v1/check', t.agent, { action: 'delete_database', agent_id: 'bot', params: {} });
    expect(denied.body.decision).toBe('deny');
  });

  it('an unknown --from is a usage error', async () => {
    const r = await runCli(['policy', 'import', '--from', 'langfuse', seed('agenthalt.yaml')], cliEnv());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('policy import needs --from agentsentinel | agenthalt');
    expect(r.stdout).toBe('');
  });
});
