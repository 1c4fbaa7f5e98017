-- 0009_sealed_secrets: webhook signing secrets and OIDC client secrets are
-- stored encrypted, and a tenant's webhook secret can be rotated with overlap.
--
-- Contract:
-- * *_sealed columns hold AES-256-GCM envelopes `v1:<kid>:<iv>:<tag>:<ct>`
--   (src/secrets/keyring.ts) made with HOLDPOINT_SECRET_KEY, whose id is <kid>;
--   the additional data names the column and the row, so an envelope opens
--   only where it was written. Postgres never sees a key.
-- * The old plaintext columns (tenants.webhook_secret, tenant_oidc.client_secret)
--   stay, nullable, only so rows written before this migration — or by an older
--   process during a rolling upgrade — still work: a non-null plaintext wins
--   (only older code writes it), and `holdpoint migrate` and every boot seal it
--   and set it to NULL. Current code never writes plaintext. An older process
--   reading a sealed row finds NULL and fails loudly, never signs with garbage.
-- * webhook_secret_prev_sealed is the secret a rotation replaced; deliveries
--   are signed with it as well as the current one until
--   webhook_secret_prev_until, then never again.

ALTER TABLE tenants ALTER COLUMN webhook_secret DROP NOT NULL;
ALTER TABLE tenants ADD COLUMN webhook_secret_sealed text CHECK (webhook_secret_sealed LIKE 'v1:%');
ALTER TABLE tenants ADD COLUMN webhook_secret_prev_sealed text CHECK (webhook_secret_prev_sealed LIKE 'v1:%');
ALTER TABLE tenants ADD COLUMN webhook_secret_prev_until timestamptz;
ALTER TABLE tenants ADD CONSTRAINT tenants_webhook_secret_present
  CHECK (webhook_secret IS NOT NULL OR webhook_secret_sealed IS NOT NULL);
ALTER TABLE tenants ADD CONSTRAINT tenants_webhook_secret_prev_pair
  CHECK ((webhook_secret_prev_sealed IS NULL) = (webhook_secret_prev_until IS NULL));

ALTER TABLE tenant_oidc ALTER COLUMN client_secret DROP NOT NULL;
ALTER TABLE tenant_oidc ADD COLUMN client_secret_sealed text CHECK (client_secret_sealed LIKE 'v1:%');
ALTER TABLE tenant_oidc ADD CONSTRAINT tenant_oidc_client_secret_present
  CHECK (client_secret IS NOT NULL OR client_secret_sealed IS NOT NULL);
