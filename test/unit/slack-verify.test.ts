import { describe, expect, it } from 'vitest';
import { signSlackRequest, verifySlackSignature } from '../../src/slack/verify.ts';

// The example from Slack's "Verifying requests from Slack" page.
const SLACK = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  ts: '1531420618',
  body:
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar' +
    '&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=' +
    '&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN' +
    '&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};
const NOW = 1531420618;

function verify(over: Partial<Parameters<typeof verifySlackSignature>[0]> = {}) {
  return verifySlackSignature({
    signingSecret: SLACK.secret,
    timestamp: SLACK.ts,
    signature: SLACK.signature,
    rawBody: SLACK.body,
    nowSeconds: NOW,
    ...over,
  });
}

describe('signSlackRequest', () => {
  it("reproduces the signature in Slack's documented example", () => {
    expect(signSlackRequest(SLACK.secret, SLACK.ts, SLACK.body)).toBe(SLACK.signature);
  });

  it('signs the same whether the timestamp is given as a number or a string', () => {
    expect(signSlackRequest(SLACK.secret, Number(SLACK.ts), SLACK.body)).toBe(SLACK.signature);
  });
});

describe('verifySlackSignature', () => {
  it("accepts Slack's documented example request", () => {
    expect(verify()).toEqual({ ok: true });
  });

  it('rejects a body changed by one character', () => {
    expect(verify({ rawBody: SLACK.body.replace('roadrunner', 'roadrunnex') })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verify({ rawBody: `${SLACK.body} ` })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('rejects a request signed with another secret', () => {
    const signature = signSlackRequest('not-the-secret', SLACK.ts, SLACK.body);
    expect(verify({ signature })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('rejects a request signed for another timestamp', () => {
    const signature = signSlackRequest(SLACK.secret, NOW - 1, SLACK.body);
    expect(verify({ signature })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('rejects a signature of a different length without throwing', () => {
    expect(verify({ signature: `${SLACK.signature}00` })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verify({ signature: 'v0=abc' })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verify({ signature: SLACK.signature.slice(3) })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verify({ signature: 'v0=' + 'é'.repeat(64) })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('rejects a timestamp 301 seconds in the past and accepts one exactly 300 seconds old', () => {
    expect(verify({ nowSeconds: NOW + 301 })).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verify({ nowSeconds: NOW + 300 })).toEqual({ ok: true });
  });

  it('rejects a timestamp 301 seconds in the future and accepts one exactly 300 seconds ahead', () => {
    expect(verify({ nowSeconds: NOW - 301 })).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verify({ nowSeconds: NOW - 300 })).toEqual({ ok: true });
  });

  it('uses the tolerance it is given instead of the five-minute default', () => {
    expect(verify({ nowSeconds: NOW + 61, toleranceSeconds: 60 })).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verify({ nowSeconds: NOW + 60, toleranceSeconds: 60 })).toEqual({ ok: true });
    expect(verify({ nowSeconds: NOW + 1000, toleranceSeconds: 3600 })).toEqual({ ok: true });
  });

  it('rejects a stale request even when its signature is valid for its body', () => {
    const ts = NOW - 10_000;
    const signature = signSlackRequest(SLACK.secret, ts, SLACK.body);
    expect(verify({ timestamp: String(ts), signature })).toEqual({ ok: false, reason: 'stale_timestamp' });
  });

  it('rejects a timestamp that is not a whole number of seconds, even if it is signed', () => {
    for (const ts of ['abc', '1531420618abc', '1531420618.5', '1.531420618e9', ' 1531420618', '-1531420618']) {
      const signature = signSlackRequest(SLACK.secret, ts, SLACK.body);
      expect(verify({ timestamp: ts, signature }), ts).toEqual({ ok: false, reason: 'stale_timestamp' });
    }
  });

  it('rejects when the clock reading is not a number instead of letting the request through', () => {
    expect(verify({ nowSeconds: Number.NaN })).toEqual({ ok: false, reason: 'stale_timestamp' });
  });

  it('reports missing headers when the timestamp or the signature is absent or empty', () => {
    expect(verify({ timestamp: undefined })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(verify({ signature: undefined })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(verify({ timestamp: '' })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(verify({ signature: '' })).toEqual({ ok: false, reason: 'missing_headers' });
  });

  it('refuses everything when the signing secret is empty, even a request signed with the empty secret', () => {
    const signature = signSlackRequest('', SLACK.ts, SLACK.body);
    expect(verify({ signingSecret: '', signature })).toEqual({ ok: false, reason: 'bad_signature' });
  });
});
