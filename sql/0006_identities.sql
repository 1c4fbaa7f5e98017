-- 0006_identities: approvers are people, and a vote's author is who authenticated.
--
-- Contract:
-- * approvers holds the people of a tenant who may decide, by name (unique per
--   tenant). Every way a person authenticates maps to one row: an approver key
--   bound to the name (api_keys.approver), a Slack user id, an OpenID Connect
--   subject or a verified e-mail address.
-- * A name never contains a colon and is never `system` or `timeout`: those are
--   the names the engine writes (key:…, slack:…, web:…), so no caller can pose
--   as one (the CHECK mirrors src/approvals/identity.ts).
-- * api_keys.permissions: `assert_identity` lets an integration that
--   authenticated the person itself name that person on a decision. Without it
--   the key decides as its bound approver, or as key:<prefix>.
-- * Removing an approver revokes the keys bound to it (done by the service in
--   the same transaction as the DELETE).

CREATE TABLE approvers (
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$'
                                     AND lower(name) NOT IN ('system', 'timeout')),
  email         text CHECK (email IS NULL OR (length(email) BETWEEN 3 AND 320 AND email LIKE '%_@_%')),
  slack_user_id text CHECK (slack_user_id IS NULL OR slack_user_id ~ '^[UW][A-Z0-9]{2,}$'),
  oidc_subject  text CHECK (oidc_subject IS NULL OR length(oidc_subject) BETWEEN 1 AND 255),
  created_by    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, name)
);
CREATE UNIQUE INDEX approvers_email ON approvers (tenant_id, lower(email)) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX approvers_slack ON approvers (tenant_id, slack_user_id) WHERE slack_user_id IS NOT NULL;
CREATE UNIQUE INDEX approvers_oidc ON approvers (tenant_id, oidc_subject) WHERE oidc_subject IS NOT NULL;

ALTER TABLE api_keys ADD COLUMN permissions text[] NOT NULL DEFAULT '{}'
  CHECK (permissions <@ ARRAY['assert_identity']::text[]);

-- A key bound to a name the engine writes (slack:…, system) could pose as the
-- engine: it loses the binding and votes as key:<prefix> from now on.
UPDATE api_keys SET approver = NULL
WHERE approver IS NOT NULL
  AND (approver !~ '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$' OR lower(approver) IN ('system', 'timeout'));

-- Keys already bound to a name keep working: that name becomes an approver.
INSERT INTO approvers (tenant_id, name, created_by)
SELECT DISTINCT tenant_id, approver, 'migration 0006'
FROM api_keys
WHERE approver IS NOT NULL
  AND approver ~ '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$'
  AND lower(approver) NOT IN ('system', 'timeout')
ON CONFLICT DO NOTHING;
