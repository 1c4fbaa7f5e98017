-- 0004_guards: the decision log grows what the stateful guards decide and spend.
--
-- Contract:
-- * decision 'modify' = allowed with sensitive values redacted from params.
-- * budget_buckets name the counter buckets a call's cost was reserved in; the
--   report (or complete / fail) settles that reservation with the actual cost.
-- * Decisions stay append-only: only the report columns, once.

ALTER TABLE decisions DROP CONSTRAINT decisions_decision_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_decision_check
  CHECK (decision IN ('allow', 'modify', 'deny', 'require_approval'));

ALTER TABLE decisions
  ADD COLUMN risk_score real,
  ADD COLUMN cost_usd numeric,
  ADD COLUMN budget_buckets text[] NOT NULL DEFAULT '{}',
  ADD COLUMN redacted_paths text[] NOT NULL DEFAULT '{}',
  ADD COLUMN failed_open boolean NOT NULL DEFAULT false,
  ADD COLUMN eval_ms real,
  ADD COLUMN report_cost_usd numeric,
  ADD COLUMN report_duration_ms integer;

CREATE OR REPLACE FUNCTION holdpoint_decisions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  report_cols text[] := ARRAY['report_status', 'report_result', 'reported_at', 'report_cost_usd', 'report_duration_ms'];
BEGIN
  IF TG_OP = 'DELETE' OR OLD.reported_at IS NOT NULL
     OR (to_jsonb(NEW) - report_cols) IS DISTINCT FROM (to_jsonb(OLD) - report_cols) THEN
    RAISE EXCEPTION 'decisions are append-only (only a first report may be added)' USING ERRCODE = 'HP001';
  END IF;
  RETURN NEW;
END $$;

CREATE INDEX decisions_by_agent ON decisions (tenant_id, agent_id, created_at DESC);
