-- The web inbox: server-side sessions and the history ordering.
--
-- * A session is what the browser's cookie names: the cookie holds a random
--   token, this table holds only its sha-256, so a database read gives nobody
--   a usable session. The API key it was opened with is referenced, not kept:
--   revoking the key ends the session at its next request.
-- * History lists decided approvals newest decision first; the partial index
--   has no entry for a pending approval, so parking one costs nothing extra.

CREATE TABLE ui_sessions (
  token_hash   bytea PRIMARY KEY,
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  key_id       uuid NOT NULL REFERENCES api_keys (id),
  csrf_token   text NOT NULL,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);

CREATE INDEX approvals_history ON approvals (tenant_id, decided_at DESC, id DESC) WHERE decided_at IS NOT NULL;
