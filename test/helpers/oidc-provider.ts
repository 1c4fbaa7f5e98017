// A real OpenID Connect provider for the tests: `oidc-provider` (panva) on
// 127.0.0.1, with its development sign-in pages (any password) and a few
// people. Its issuer is http://localhost:<port>, a different site from the app
// under test at 127.0.0.1, so SameSite cookie rules apply as they would between
// a real provider and Holdpoint.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** A person at the provider; the key they are listed under is both their login and their subject (`sub`). */
export interface TestPerson {
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Every authorization request the provider received (its query), newest last. */
  authorizations: URLSearchParams[];
  close(): Promise<void>;
}

export async function startOidcProvider(opts: { people: Record<string, TestPerson>; redirectUris: string[]; clientId?: string; clientSecret?: string }): Promise<TestProvider> {
  const clientId = opts.clientId ?? 'holdpoint-inbox';
  const clientSecret = opts.clientSecret ?? 'test-secret-0123456789abcdef0123456789';
  const authorizations: URLSearchParams[] = [];
  // The port must be known before the Provider exists (the issuer carries it).
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://localhost:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: opts.redirectUris, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    cookies: { keys: ['holdpoint-test-cookie-key'] },
    features: { devInteractions: { enabled: true } },
    // The login is the dev form's "login" field: a known person, or nobody.
    async findAccount(_ctx, id) {
      const p = opts.people[id];
      if (!p) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, ...(p.email !== undefined ? { email: p.email, email_verified: p.email_verified ?? false } : {}), ...(p.name ? { name: p.name } : {}) };
        },
      };
    },
    // First-party client: consent is implied, so the only page is the sign-in.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  provider.on('authorization.accepted', (ctx) => authorizations.push(new URLSearchParams(ctx.querystring)));
  const handler = provider.callback();
  server.on('request', handler);
  return {
    issuer,
    clientId,
    clientSecret,
    authorizations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
