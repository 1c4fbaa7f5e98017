// What every way of signing in to the inbox shares: the session cookie's and
// the tenant cookie's names, the route context, and where a sign-in may lead.
import type { SessionAuth } from '../db/sessions.ts';

export type UiEnv = { Variables: { session: SessionAuth } };

export const SESSION_COOKIE = 'hp_session';
/** The tenant whose provider this browser signed in with, so /ui/login offers it again. Not a secret. */
export const TENANT_COOKIE = 'hp_tenant';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Only a path inside the inbox may be a post-sign-in destination. */
export const safeNext = (next: string | undefined) => (next && /^\/ui(\/[A-Za-z0-9\-._~/?=&%]*)?$/.test(next) && !next.startsWith('//') ? next : '/ui/inbox');
