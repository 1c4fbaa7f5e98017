// The pure parts of signing in at an OpenID Connect provider: which issuers an
// admin may set, and what identity a provider's claims carry.
import { describe, expect, it } from 'vitest';
import { identityOf, issuerProblem, ProviderInput, redirectUriOf } from '../../src/identities/oidc.ts';

describe('issuerProblem', () => {
  it.each([
    ['https://login.example.com', null],
    ['https://login.example.com/realms/acme', null],
    ['http://localhost:8080', null],
    ['http://127.0.0.1:9000/oidc', null],
    ['http://[::1]:9000', null],
  ])('accepts %s', (issuer, want) => expect(issuerProblem(issuer)).toBe(want));

  it.each([
    ['http://login.example.com', /https/],
    ['http://10.0.0.5', /https/],
    ['ftp://login.example.com', /https/],
    ['https://login.example.com/?tenant=1', /query or fragment/],
    ['https://login.example.com/#x', /query or fragment/],
    ['https://user:pw@login.example.com', /credentials/],
    ['not a url', /URL/],
  ])('refuses %s', (issuer, why) => expect(issuerProblem(issuer)).toMatch(why));
});

describe('ProviderInput', () => {
  it('trims and keeps what an admin gave; the secret is taken as given', () => {
    const r = ProviderInput.parse({ issuer: ' https://login.example.com ', client_id: ' holdpoint ', client_secret: ' s3cret ' });
    expect(r).toEqual({ issuer: 'https://login.example.com', client_id: 'holdpoint', client_secret: ' s3cret ' });
  });

  it('refuses unknown fields and empty ids', () => {
    expect(ProviderInput.safeParse({ issuer: 'https://a.example', client_id: '', client_secret: 's' }).success).toBe(false);
    expect(ProviderInput.safeParse({ issuer: 'https://a.example', client_id: 'c', client_secret: 's', scope: 'x' }).success).toBe(false);
  });
});

describe('identityOf', () => {
  it('a verified e-mail counts', () => {
    expect(identityOf({ sub: 's1', email: 'a@b.test', email_verified: true })).toEqual({ subject: 's1', verified_email: 'a@b.test', email_claimed: 'a@b.test' });
  });

  it.each([
    ['email_verified false', { email_verified: false }],
    ['email_verified missing', {}],
    ['email_verified the string "true"', { email_verified: 'true' }],
  ])('an unverified e-mail never counts (%s)', (_what, extra) => {
    const id = identityOf({ sub: 's1', email: 'a@b.test', ...extra });
    expect(id.verified_email).toBeNull();
    expect(id.email_claimed).toBe('a@b.test');
  });

  it('no e-mail at all leaves only the subject', () => {
    expect(identityOf({ sub: 's2' })).toEqual({ subject: 's2', verified_email: null, email_claimed: null });
  });
});

describe('redirectUriOf', () => {
  it('is the public URL plus /ui/oidc/callback, or nothing without one', () => {
    expect(redirectUriOf('https://holdpoint.example.com/')).toBe('https://holdpoint.example.com/ui/oidc/callback');
    expect(redirectUriOf('https://example.com/holdpoint')).toBe('https://example.com/holdpoint/ui/oidc/callback');
    expect(redirectUriOf(undefined)).toBeNull();
  });
});
