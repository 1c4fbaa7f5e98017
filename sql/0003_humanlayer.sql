-- 0003_humanlayer: what the HumanLayer-compatible API needs beyond approvals.
--
-- Contract:
-- * approvals.decision_option is the reject option a human picked (HumanLayer's
--   reject_option_name), set with the decision, never after.
-- * contact_requests are questions an agent asks a human; one answer each,
--   written by a guarded UPDATE (WHERE status = 'pending'), keyed per tenant by
--   the client's call_id. Their Slack message follows the approvals' columns.

ALTER TABLE approvals ADD COLUMN decision_option text;

CREATE TABLE contact_requests (
  id                   uuid PRIMARY KEY,
  tenant_id            uuid NOT NULL REFERENCES tenants (id),
  call_id              text NOT NULL,
  run_id               text NOT NULL,
  request_hash         text NOT NULL,
  msg                  text NOT NULL,
  spec                 jsonb NOT NULL,
  routing              jsonb NOT NULL,
  status               text NOT NULL CHECK (status IN ('pending', 'answered')),
  response             text,
  response_option_name text,
  responded_by         text,
  response_channel     text,
  slack_channel        text,
  slack_ts             text,
  slack_synced_at      timestamptz,
  slack_error          text,
  created_at           timestamptz NOT NULL,
  updated_at           timestamptz NOT NULL,
  responded_at         timestamptz,
  UNIQUE (tenant_id, call_id)
);
CREATE INDEX contact_requests_slack_unposted ON contact_requests (created_at)
  WHERE status = 'pending' AND slack_ts IS NULL AND slack_error IS NULL;
CREATE INDEX contact_requests_slack_behind ON contact_requests (updated_at)
  WHERE slack_ts IS NOT NULL AND (slack_synced_at IS NULL OR slack_synced_at < updated_at);
