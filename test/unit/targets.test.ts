import { describe, expect, it } from 'vitest';
import { isPrivateAddress, targetProblem } from '../../src/webhooks/targets.ts';

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.0.0.1',
    '10.255.255.255',
    '192.168.1.10',
    '172.16.0.1',
    '172.31.255.255',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fc00::1',
    'fd12:3456:789a::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '::ffff:7f00:1',
  ])('%s is private', (ip) => {
    expect(isPrivateAddress(ip)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.15.255.255', '172.32.0.1', '192.169.0.1', '2606:4700::1111', '2001:4860:4860::8888', '::ffff:8.8.8.8'])(
    '%s is public',
    (ip) => {
      expect(isPrivateAddress(ip)).toBe(false);
    },
  );

  it('treats anything that is not an IP address as private, so it is refused rather than trusted', () => {
    expect(isPrivateAddress('example.com')).toBe(true);
    expect(isPrivateAddress('')).toBe(true);
    expect(isPrivateAddress('999.1.1.1')).toBe(true);
  });
});

describe('targetProblem', () => {
  it('accepts a public https or http URL', () => {
    expect(targetProblem('https://hooks.example.com/holdpoint', false)).toBeNull();
    expect(targetProblem('http://8.8.8.8:8080/x', false)).toBeNull();
    expect(targetProblem('https://[2606:4700::1111]/x', false)).toBeNull();
  });

  it('refuses something that is not a URL', () => {
    expect(targetProblem('not a url', false)).toBe('not a valid URL');
  });

  it.each(['ftp://example.com/x', 'file:///etc/passwd', 'javascript:alert(1)', 'gopher://example.com'])('refuses the non-http scheme of %s', (url) => {
    expect(targetProblem(url, false)).toMatch(/http/);
    expect(targetProblem(url, true)).toMatch(/http/);
  });

  it('refuses URLs carrying credentials, even when private targets are allowed', () => {
    expect(targetProblem('https://user:pass@example.com/x', false)).toMatch(/credentials/);
    expect(targetProblem('https://user@example.com/x', true)).toMatch(/credentials/);
  });

  it.each([
    'http://localhost:3000/hook',
    'http://LOCALHOST/hook',
    'http://api.localhost/hook',
    'http://127.0.0.1/hook',
    'http://10.1.2.3/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]:8080/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://[fd00::1]/hook',
    // Other spellings of 127.0.0.1 that URL parsing normalises.
    'http://2130706433/hook',
    'http://0x7f000001/hook',
    'http://127.1/hook',
  ])('refuses the private target %s unless private targets are allowed', (url) => {
    expect(targetProblem(url, false)).toMatch(/private or loopback/);
    expect(targetProblem(url, true)).toBeNull();
  });
});
