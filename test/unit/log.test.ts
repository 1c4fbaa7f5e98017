import { describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/log.ts';

function capture(level: Parameters<typeof createLogger>[0], base: Record<string, unknown> = {}) {
  const lines: string[] = [];
  const log = createLogger(level, base, (l) => lines.push(l));
  return { log, lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger', () => {
  it('writes one JSON line per entry with level, ISO time, message, base and fields', () => {
    const { log, lines, entries } = capture('info', { service: 'holdpoint' });
    log.info('api listening', { port: 8080 });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const [e] = entries();
    expect(e).toMatchObject({ level: 'info', msg: 'api listening', service: 'holdpoint', port: 8080 });
    expect(new Date(e!.time as string).toISOString()).toBe(e!.time);
  });

  it('drops entries below its level, and silent writes nothing', () => {
    const info = capture('info');
    info.log.debug('hidden');
    info.log.warn('shown');
    expect(info.entries().map((e) => [e.level, e.msg])).toEqual([['warn', 'shown']]);
    expect(info.log.isLevelEnabled?.('debug')).toBe(false);

    const debug = capture('debug');
    debug.log.debug('now shown');
    expect(debug.entries().map((e) => e.level)).toEqual(['debug']);
    expect(debug.log.isLevelEnabled?.('debug')).toBe(true);

    const silent = capture('silent');
    silent.log.error('nothing');
    expect(silent.lines).toHaveLength(0);
    expect(() => silentLogger.error('nothing', { err: new Error('x') })).not.toThrow();
  });

  it('a child carries its fields on every line, and its own children add theirs', () => {
    const { log, entries } = capture('info', { service: 'holdpoint' });
    const req = log.child({ request_id: 'r-1' });
    req.child({ worker: 'deliver-webhook' }).info('attempt', { attempt: 2 });
    log.info('parent');
    const [child, parent] = entries();
    expect(child).toMatchObject({ service: 'holdpoint', request_id: 'r-1', worker: 'deliver-webhook', attempt: 2 });
    expect(parent).not.toHaveProperty('request_id');
  });

  it('serializes Error values under any key with name, message, code and stack', () => {
    const { log, entries } = capture('info');
    const err = Object.assign(new TypeError('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    log.error('boot failed', { err, cause: new Error('inner') });
    const [e] = entries() as [{ err: Record<string, unknown>; cause: Record<string, unknown> }];
    expect(e.err).toMatchObject({ name: 'TypeError', message: 'connect ECONNREFUSED 127.0.0.1:1', code: 'ECONNREFUSED' });
    expect(e.err.stack).toContain('TypeError: connect ECONNREFUSED');
    expect(e.cause).toMatchObject({ name: 'Error', message: 'inner' });
  });

  it('redacts credentials passed by mistake, at the top level and one level down', () => {
    const { log, lines } = capture('debug');
    log.info('oops', { authorization: 'Bearer hp_agent_SECRETKEY', headers: { authorization: 'Bearer hp_agent_SECRETKEY2' }, webhook_secret: 'whsec_SECRET3' });
    expect(lines.join('')).not.toMatch(/SECRETKEY|SECRET3/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ authorization: '[redacted]', headers: { authorization: '[redacted]' } });
  });

  it('writes values JSON cannot (a bigint, a cycle) instead of throwing', () => {
    const { log, entries } = capture('info');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    log.info('odd values', { n: 10n, cyclic });
    expect(entries()[0]).toMatchObject({ n: 10, cyclic: { a: 1 } });
  });
});
