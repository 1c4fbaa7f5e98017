// Signing in to the inbox at the tenant's OpenID Connect provider.
//
//   GET /ui/login?tenant=<id>      shows "Sign in with <provider>" (routes.tsx)
//   GET /ui/oidc/start?tenant=&next=  new state, nonce and PKCE verifier, kept
//                                  server-side (oidc_logins); the browser gets a
//                                  random binding in an HttpOnly cookie; 303 to
//                                  the provider
//   GET /ui/oidc/callback          consumes the state (single-use, 10 min),
//                                  checks the binding cookie (login CSRF), the
//                                  issuer it was started against (mix-up), and
//                                  the provider's answer (openid-client); maps
//                                  subject, else verified e-mail, to an
//                                  approver; opens a session for that approver
//
// The start is a link, not a form: the inbox's CSP has form-action 'self',
// which Chromium also applies to a form's redirect to the provider. Starting a
// sign-in on someone's behalf gains nothing (they sign in as themselves); the
// dangerous direction, finishing one started elsewhere, is what the binding
// cookie stops.
import { timingSafeEqual } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppDeps, LiveDeps } from '../api/deps.ts';
import { clientAddress } from '../api/client-address.ts';
import { approverByOidc } from '../db/approvers.ts';
import { deleteExpiredLogins, getProvider, insertLogin, takeLogin } from '../db/oidc.ts';
import { createSession, deleteExpiredSessions, deleteSession, newToken, sha256 } from '../db/sessions.ts';
import { OidcError, redirectUriOf, type OidcClient } from '../identities/oidc.ts';
import { SignedInPage, SignInRefusedPage } from './pages.tsx';
import { safeNext, SESSION_COOKIE, TENANT_COOKIE, UUID, type UiEnv } from './session.ts';

/** Binds a sign-in in flight to the browser that started it. SameSite=Lax: it must come back on the provider's cross-site redirect. */
const BINDING_COOKIE = 'hp_oidc';
const LOGIN_TTL_MS = 10 * 60_000;

interface Kit {
  oidc: OidcClient;
  sessionTtlMs: number;
  publicUrl?: string | undefined;
  page: (c: Context, status: number, html: unknown) => Response | Promise<Response>;
  cookieOpts: (c: Context, maxAge?: number) => { path: string; httpOnly: boolean; secure: boolean; sameSite: 'Strict' };
  secure: (c: Context) => boolean;
}

const sameHash = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

export function oidcRoutes(ui: Hono<UiEnv>, deps: AppDeps & Pick<LiveDeps, 'addresses' | 'trustedProxyHops'> & Kit) {
  const { sql, clock, oidc, log } = deps;
  const redirectUri = redirectUriOf(deps.publicUrl);

  const refuse = (c: Context, status: number, title: string, message: string, tenant?: string) =>
    deps.page(c, status, <SignInRefusedPage title={title} message={message} tenant={tenant} />);

  ui.get('/ui/oidc/start', async (c) => {
    // Each start stores a pending sign-in: limited per address, with the key sign-ins (HOLDPOINT_SIGNIN_RATE_LIMIT).
    const verdict = await deps.addresses.hit('signin', clientAddress(c, deps.trustedProxyHops));
    if (!verdict.ok) {
      c.header('retry-after', String(verdict.retryAfterSeconds));
      return refuse(c, 429, 'Too many sign-ins', `Too many sign-in attempts from your network. Try again in ${verdict.retryAfterSeconds} seconds.`);
    }
    const tenant = c.req.query('tenant') ?? '';
    const next = c.req.query('next');
    if (!UUID.test(tenant)) return refuse(c, 400, 'Which tenant?', 'This sign-in link does not name a tenant. Use the sign-in link your admin gave you (/ui/login?tenant=…).');
    const provider = await getProvider(sql, tenant);
    if (!provider) return refuse(c, 404, 'No single sign-on here', 'Single sign-on is not set up for this tenant. Sign in with an API key.', tenant);
    if (!redirectUri) return refuse(c, 503, 'Single sign-on is not available', 'The server does not know its public address (HOLDPOINT_PUBLIC_URL), so the provider could not send you back.', tenant);
    let begun: Awaited<ReturnType<OidcClient['begin']>>;
    try {
      begun = await oidc.begin(provider, redirectUri);
    } catch (err) {
      if (!(err instanceof OidcError)) throw err;
      log.warn('oidc sign-in could not start', { tenant_id: tenant, issuer: provider.issuer, why: err.detail });
      return refuse(c, err.status, 'Sign-in could not start', err.message, tenant);
    }
    const binding = newToken();
    const now = clock();
    await sql.begin(async (tx) => {
      await deleteExpiredLogins(tx, now);
      await insertLogin(tx, {
        state_hash: sha256(begun.state),
        browser_hash: sha256(binding),
        tenant_id: tenant,
        issuer: provider.issuer,
        nonce: begun.nonce,
        code_verifier: begun.verifier,
        next: next ? safeNext(next) : null,
        now,
        ttlMs: LOGIN_TTL_MS,
      });
    });
    setCookie(c, BINDING_COOKIE, binding, { path: '/ui/oidc', httpOnly: true, secure: deps.secure(c), sameSite: 'Lax', maxAge: LOGIN_TTL_MS / 1000 });
    return c.redirect(begun.url.href, 303);
  });

  ui.get('/ui/oidc/callback', async (c) => {
    const state = c.req.query('state');
    const binding = getCookie(c, BINDING_COOKIE);
    if (binding) deleteCookie(c, BINDING_COOKIE, { path: '/ui/oidc' });
    const expired = 'This sign-in link expired or was already used. Start the sign-in again.';
    if (!state || state.length > 200) return refuse(c, 400, 'Sign-in failed', expired);
    const login = await takeLogin(sql, sha256(state), clock());
    if (!login) return refuse(c, 400, 'Sign-in failed', expired);
    // Login CSRF: a provider answer is only good in the browser that asked for it.
    if (!binding || binding.length > 100 || !sameHash(sha256(binding), login.browser_hash)) {
      log.warn('oidc callback from another browser refused', { tenant_id: login.tenant_id });
      return refuse(c, 403, 'Sign-in failed', 'This sign-in was started in another browser (or your cookies were cleared). Start the sign-in again here.', login.tenant_id);
    }
    const provider = await getProvider(sql, login.tenant_id);
    // Mix-up: the answer is checked against the issuer the sign-in went to, never one named by the request.
    if (!provider || provider.issuer !== login.issuer || !redirectUri) {
      return refuse(c, 400, 'Sign-in failed', "The tenant's identity provider changed while you were signing in. Start the sign-in again.", login.tenant_id);
    }
    const current = new URL(redirectUri);
    current.search = new URL(c.req.url).search;
    let identity;
    try {
      identity = await oidc.finish(provider, current, { state, nonce: login.nonce, verifier: login.code_verifier });
    } catch (err) {
      if (!(err instanceof OidcError)) throw err;
      log.warn('oidc sign-in failed', { tenant_id: login.tenant_id, issuer: provider.issuer, why: err.detail });
      return refuse(c, err.status, 'Sign-in failed', err.message, login.tenant_id);
    }
    const approver = await approverByOidc(sql, login.tenant_id, identity.subject, identity.verified_email);
    if (!approver) {
      log.warn('oidc sign-in by someone who is not an approver', { tenant_id: login.tenant_id, subject: identity.subject, email_verified: identity.verified_email !== null });
      const who = identity.email_claimed ?? `subject ${identity.subject}`;
      const unverified = identity.email_claimed && !identity.verified_email ? ` ${provider.display_name} has not verified that e-mail address, so it cannot match one.` : '';
      return refuse(
        c,
        403,
        'Not an approver here',
        `You signed in at ${provider.display_name} as ${who}, but no approver of this tenant has that identity.${unverified} Ask an admin to add you as an approver with your e-mail address or subject.`,
        login.tenant_id,
      );
    }
    const now = clock();
    const previous = getCookie(c, SESSION_COOKIE);
    const s = await sql.begin(async (tx) => {
      await deleteExpiredSessions(tx, now);
      // Signing in again replaces the session the browser sent along. (After a
      // cross-site provider the Strict cookie is withheld; the old token is then
      // overwritten below, so nobody holds it, and its row expires.)
      if (previous && previous.length <= 100) await deleteSession(tx, previous);
      return createSession(tx, { tenant_id: login.tenant_id, approver: approver.name, now, ttlMs: deps.sessionTtlMs });
    });
    setCookie(c, SESSION_COOKIE, s.token, deps.cookieOpts(c, Math.floor(deps.sessionTtlMs / 1000)));
    setCookie(c, TENANT_COOKIE, login.tenant_id, { path: '/ui', httpOnly: true, secure: deps.secure(c), sameSite: 'Lax', maxAge: 180 * 86_400 });
    log.info('inbox sign-in', { tenant_id: login.tenant_id, method: 'oidc', approver: approver.name, matched_by: approver.oidc_subject === identity.subject ? 'subject' : 'email' });
    return deps.page(c, 200, <SignedInPage next={login.next ?? '/ui/inbox'} who={approver.name} />);
  });
}
