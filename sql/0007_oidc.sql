-- 0007_oidc: the web inbox signs people in through the tenant's OpenID Connect provider.
--
-- Contract:
-- * tenant_oidc holds at most one provider per tenant: its issuer (the exact
--   Issuer Identifier; discovery, the ID token's `iss` and the RFC 9207 `iss`
--   response parameter are all checked against it), the client id and the
--   client secret registered there, and the name the sign-in button shows.
--   The client secret is stored AS GIVEN (plain text, like the webhook
--   secret): whoever can read this table can act as Holdpoint at that
--   provider, so guard database access and backups accordingly.
-- * oidc_logins is one sign-in in flight: keyed by the sha-256 of its `state`,
--   holding the nonce, the PKCE verifier (which never leaves the server), the
--   issuer it was started against (mix-up defence: a callback is only ever
--   checked against that issuer), the sha-256 of a random browser binding
--   held in an HttpOnly cookie (login CSRF defence) and where to go after.
--   A row is consumed by DELETE … RETURNING, so a state is single-use, and
--   lives ten minutes (expires_at); expired rows are swept at sign-in.
-- * A ui_sessions row is opened either with an API key (key_id) or by an
--   approver who signed in at the provider (approver), never both. An
--   approver session dies with its approver: the foreign key cascades the
--   DELETE, and the session lookup joins the approver as well.

CREATE TABLE tenant_oidc (
  tenant_id     uuid PRIMARY KEY REFERENCES tenants (id),
  issuer        text NOT NULL CHECK (issuer ~ '^https?://' AND length(issuer) <= 500),
  client_id     text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 255),
  client_secret text NOT NULL CHECK (length(client_secret) BETWEEN 1 AND 1000),
  display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
  updated_by    text,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oidc_logins (
  state_hash    bytea PRIMARY KEY,
  browser_hash  bytea NOT NULL,
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  issuer        text NOT NULL,
  nonce         text NOT NULL,
  code_verifier text NOT NULL,
  next          text,
  created_at    timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expiry ON oidc_logins (expires_at);

ALTER TABLE ui_sessions ALTER COLUMN key_id DROP NOT NULL;
ALTER TABLE ui_sessions ADD COLUMN approver text;
ALTER TABLE ui_sessions ADD CONSTRAINT ui_sessions_approver_fk
  FOREIGN KEY (tenant_id, approver) REFERENCES approvers (tenant_id, name) ON DELETE CASCADE;
ALTER TABLE ui_sessions ADD CONSTRAINT ui_sessions_one_identity
  CHECK ((key_id IS NULL) <> (approver IS NULL));
CREATE INDEX ui_sessions_approver ON ui_sessions (tenant_id, approver) WHERE approver IS NOT NULL;
