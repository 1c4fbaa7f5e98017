-- 0002_slack: what Holdpoint knows about each approval's Slack message.
--
-- Contract:
-- * slack_channel + slack_ts (0001) say where the request was posted; set once,
--   guarded by slack_ts IS NULL, so a message is stored once.
-- * slack_synced_at is the approval's updated_at as last rendered into Slack;
--   slack_synced_at < updated_at means the message is behind and a notify-slack
--   job (or the reconciler) brings it up to date.
-- * slack_result_ts is the thread reply carrying the post-action result.
-- * slack_error is a permanent posting failure (channel_not_found, not_in_channel,
--   invalid_auth, ...): nothing retries it; the approval stays pending and expires.

ALTER TABLE approvals
  ADD COLUMN slack_synced_at timestamptz,
  ADD COLUMN slack_result_ts text,
  ADD COLUMN slack_error text;

CREATE INDEX approvals_slack_unposted ON approvals (created_at)
  WHERE status = 'pending' AND slack_ts IS NULL AND slack_error IS NULL;
CREATE INDEX approvals_slack_behind ON approvals (updated_at)
  WHERE slack_ts IS NOT NULL AND (slack_synced_at IS NULL OR slack_synced_at < updated_at);
