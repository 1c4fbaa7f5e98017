// Signing people in through the tenant's OpenID Connect provider: the
// provider settings (validated once, here), and the relying party (openid-client
// v6: authorization code + PKCE S256 + state + nonce). The routes that carry the
// browser through it live in src/ui/oidc.tsx; the rows in src/db/oidc.ts.
import * as client from 'openid-client';
import { z } from 'zod';
import type { Sql } from '../db/client.ts';
import { deleteProvider, getProvider, openClientSecret, upsertProvider, type OidcProviderRow } from '../db/oidc.ts';
import { deleteProviderSessions } from '../db/sessions.ts';
import { AppError } from '../errors.ts';
import type { Keyring } from '../secrets/keyring.ts';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Plain http is for a provider on this machine only (development, tests); anything else must be https. */
export function issuerProblem(issuer: string): string | null {
  let u: URL;
  try {
    u = new URL(issuer);
  } catch {
    return 'must be a URL';
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) return 'must be https (plain http only for localhost)';
  if (u.search || u.hash) return 'must have no query or fragment (it is the Issuer Identifier)';
  if (u.username || u.password) return 'must not carry credentials';
  return null;
}

/** What an admin gives to set a tenant's provider (CLI and API). */
export const ProviderInput = z.strictObject({
  issuer: z
    .string()
    .trim()
    .max(500)
    .superRefine((v, ctx) => {
      const p = issuerProblem(v);
      if (p) ctx.addIssue({ code: 'custom', message: p });
    }),
  client_id: z.string().trim().min(1, 'is required').max(255),
  client_secret: z.string().min(1, 'is required').max(1000),
  display_name: z.string().trim().min(1).max(100).optional(),
});
export type ProviderInput = z.infer<typeof ProviderInput>;

/** A provider as shown to admins: never the secret. */
export function renderProvider(p: OidcProviderRow, redirectUri: string | null) {
  return {
    issuer: p.issuer,
    client_id: p.client_id,
    client_secret_set: true,
    display_name: p.display_name,
    redirect_uri: redirectUri,
    updated_by: p.updated_by,
    updated_at: p.updated_at.toISOString(),
  };
}

export const redirectUriOf = (publicUrl: string | undefined) => (publicUrl ? `${publicUrl.replace(/\/+$/, '')}/ui/oidc/callback` : null);

/**
 * Sets the tenant's provider. A different issuer or client ends every session
 * the old one opened: a subject means something only at the issuer that
 * vouched for it.
 */
export async function setProvider(sql: Sql, tenantId: string, input: ProviderInput, by: string, secrets: Keyring) {
  const displayName = input.display_name ?? new URL(input.issuer).host;
  return sql.begin(async (tx) => {
    const [tenant] = await tx<{ id: string }[]>`SELECT id FROM tenants WHERE id = ${tenantId}`;
    if (!tenant) throw new AppError('not_found', `tenant ${tenantId} not found`);
    const { row, previous } = await upsertProvider(tx, secrets, { tenant_id: tenantId, issuer: input.issuer, client_id: input.client_id, client_secret: input.client_secret, display_name: displayName, updated_by: by });
    const changed = previous !== undefined && (previous.issuer !== row.issuer || previous.client_id !== row.client_id);
    const ended = changed ? await deleteProviderSessions(tx, tenantId) : 0;
    return { row, created: previous === undefined, ended_sessions: ended };
  });
}

/** Removes the tenant's provider and ends the sessions it opened; undefined when there was none. */
export async function removeProvider(sql: Sql, tenantId: string) {
  return sql.begin(async (tx) => {
    const row = await deleteProvider(tx, tenantId);
    if (!row) return undefined;
    return { row, ended_sessions: await deleteProviderSessions(tx, tenantId) };
  });
}

export { getProvider };

/** Why a sign-in at the provider did not produce an identity; `status` is what the page answers. */
export class OidcError extends Error {
  constructor(
    readonly status: 400 | 403 | 502 | 503,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** Who the provider says signed in. `email` is only set when the provider says it verified it. */
export interface OidcIdentity {
  subject: string;
  verified_email: string | null;
  /** For messages: the e-mail as claimed, verified or not. */
  email_claimed: string | null;
}

/** Pure: the identity in an ID token's (or userinfo's) claims. An unverified e-mail never counts. */
export function identityOf(claims: Record<string, unknown>): OidcIdentity {
  const email = typeof claims.email === 'string' && claims.email.length <= 320 ? claims.email : null;
  return { subject: String(claims.sub), verified_email: email && claims.email_verified === true ? email : null, email_claimed: email };
}

const DISCOVERY_TTL_MS = 10 * 60_000;

/**
 * The relying party. Discovery is cached per tenant and provider settings for
 * ten minutes, so a changed provider takes effect at once and a key rotation
 * at the provider within minutes.
 */
export function createOidcClient(opts: { secrets: Keyring; timeoutSeconds?: number }) {
  const cache = new Map<string, { at: number; config: Promise<client.Configuration> }>();
  const timeout = opts.timeoutSeconds ?? 10;

  function configFor(p: OidcProviderRow): Promise<client.Configuration> {
    const key = `${p.tenant_id}|${p.issuer}|${p.client_id}|${p.updated_at.getTime()}`;
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < DISCOVERY_TTL_MS) return hit.config;
    for (const k of cache.keys()) if (k.startsWith(`${p.tenant_id}|`)) cache.delete(k);
    // A wrong key throws SecretKeyError here (a 500 and a log line), never a sign-in with a garbled secret.
    const secret = openClientSecret(opts.secrets, p);
    const config = client
      .discovery(new URL(p.issuer), p.client_id, { client_secret: secret }, client.ClientSecretBasic(secret), {
        timeout,
        ...(new URL(p.issuer).protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
      })
      .catch((err: unknown) => {
        cache.delete(key);
        throw new OidcError(503, `${p.display_name} could not be reached, or did not answer as an OpenID provider should (its discovery document). Try again shortly, or sign in with an API key.`, errText(err));
      });
    cache.set(key, { at: Date.now(), config });
    return config;
  }

  return {
    /** The provider's authorization URL for a new sign-in, with fresh state, nonce and PKCE verifier. */
    async begin(p: OidcProviderRow, redirectUri: string) {
      const config = await configFor(p);
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid email profile',
        response_type: 'code',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      return { url, state, nonce, verifier };
    },

    /**
     * Checks the provider's answer (iss, state, code, then the ID token's
     * signature, iss, aud, nonce and expiry) and redeems the code with the
     * verifier. The e-mail comes from the ID token, or from userinfo when the
     * provider keeps it there (bound to the same subject).
     */
    async finish(p: OidcProviderRow, callbackUrl: URL, checks: { state: string; nonce: string; verifier: string }): Promise<OidcIdentity> {
      const config = await configFor(p);
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: checks.verifier, expectedState: checks.state, expectedNonce: checks.nonce, idTokenExpected: true });
      } catch (err) {
        if (err instanceof client.AuthorizationResponseError) {
          const why = err.error === 'access_denied' ? 'The sign-in was cancelled or refused at the provider.' : `The provider refused the sign-in (${err.error}).`;
          throw new OidcError(403, why, err.error_description ?? err.error);
        }
        throw new OidcError(400, `The answer from ${p.display_name} did not check out, so nobody was signed in. Start the sign-in again.`, errText(err));
      }
      const claims = tokens.claims();
      if (!claims) throw new OidcError(400, `${p.display_name} sent no ID token.`);
      let identity = identityOf(claims as Record<string, unknown>);
      if (identity.email_claimed === null && tokens.access_token) {
        try {
          const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
          identity = identityOf({ ...info, sub: claims.sub });
        } catch (err) {
          throw new OidcError(502, `${p.display_name} did not answer who you are (userinfo). Try again.`, errText(err));
        }
      }
      return identity;
    },
  };
}

export type OidcClient = ReturnType<typeof createOidcClient>;

function errText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const code = (err as { code?: string }).code;
    return `${code ? `${code}: ` : ''}${err.message}${cause instanceof Error ? ` (${cause.message})` : ''}`;
  }
  return String(err);
}
