-- 0010_ledger: the decision log becomes a full ledger — what was asked, with
-- which labels, in which session and run — and can be summed cheaply.
--
-- Contract:
-- * params is what the evaluation saw, in the form Holdpoint may keep: when the
--   sensitive_data guard found anything it is the redacted params, whatever the
--   decision (a deny on a card number never stores the card number). context is
--   the agent's context as sent. Both are bounded by the request body limit
--   (HOLDPOINT_MAX_BODY_BYTES, 1 MiB by default, 64 levels deep). NULL on rows
--   written before this migration.
-- * tags are the agent's labels (at most 20, each 1–64 characters of
--   [A-Za-z0-9_.:/-]). They are never a policy input: nothing in evaluation
--   reads them.
-- * session_id / run_id are context.session_id / context.run_id as the budget
--   guard keys them (a non-empty string, or a finite number written in
--   decimal); a value longer than 200 characters is stored as
--   "sha256:<hex of the value>" so every index entry stays small. NULL when
--   the context has none.
-- * cost_usd (0004) now holds the cost the budget guard used — the request's
--   cost_usd, else the policy's cost table — so the log sums to the spend.
-- * The append-only trigger of 0004 covers the new columns unchanged: they are
--   not report columns, so they can never change after the insert.

ALTER TABLE decisions
  ADD COLUMN params jsonb,
  ADD COLUMN context jsonb,
  ADD COLUMN tags text[] NOT NULL DEFAULT '{}',
  ADD COLUMN session_id text,
  ADD COLUMN run_id text;

-- GET /v1/usage?session_id= / ?run_id=: one tenant's session or run, summed.
CREATE INDEX decisions_by_session ON decisions (tenant_id, session_id) WHERE session_id IS NOT NULL;
CREATE INDEX decisions_by_run ON decisions (tenant_id, run_id) WHERE run_id IS NOT NULL;

-- Per-action totals over a period read only this index (an index-only scan
-- where the visibility map allows): the period bounds created_at, and every
-- column the totals need rides along.
CREATE INDEX decisions_usage ON decisions (tenant_id, created_at)
  INCLUDE (action, decision, cost_usd, report_status, report_cost_usd, approval_id);

-- ?tag= on the log and its export.
CREATE INDEX decisions_by_tag ON decisions USING gin (tags);
