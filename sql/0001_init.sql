-- 0001_init: the whole durable state of Holdpoint.
--
-- Contract:
-- * Postgres is the source of truth; Redis only holds work to do.
-- * approvals change state only through guarded UPDATEs (WHERE status = expected);
--   every change writes one approval_events row in the same transaction.
-- * approval_events is append-only (trigger) and hash-chained per tenant by the
--   chainer, off the write path, so one tenant's approvals never queue on a lock.
-- * webhook_deliveries is the outbox: rows are written in the transaction that
--   writes the event, jobs are enqueued after commit, the reconciler re-enqueues
--   what Redis lost.

CREATE TABLE tenants (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  webhook_secret text NOT NULL,
  chain_seq      bigint NOT NULL DEFAULT 0,   -- the audit chain's last seq and hash
  chain_head     bytea,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  role         text NOT NULL CHECK (role IN ('agent', 'approver', 'admin')),
  key_hash     bytea NOT NULL UNIQUE,
  prefix       text NOT NULL,
  name         text,
  approver     text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at DESC);

CREATE TABLE policies (
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  version     integer NOT NULL CHECK (version > 0),
  document    jsonb NOT NULL,
  source      text,
  created_by  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, version)
);

CREATE TABLE approvals (
  id                 uuid PRIMARY KEY,
  tenant_id          uuid NOT NULL REFERENCES tenants (id),
  idempotency_key    text NOT NULL,
  request_hash       text NOT NULL,
  action             text NOT NULL,
  agent_id           text NOT NULL,
  params             jsonb NOT NULL,
  context            jsonb NOT NULL,
  reasons            jsonb NOT NULL,
  status             text NOT NULL CHECK (status IN
                       ('pending', 'approved', 'rejected', 'expired', 'cancelled',
                        'executing', 'completed', 'failed')),
  required_approvals integer NOT NULL CHECK (required_approvals BETWEEN 1 AND 20),
  timeout_seconds    integer NOT NULL,
  on_timeout         text NOT NULL CHECK (on_timeout IN ('reject', 'approve')),
  expires_at         timestamptz NOT NULL,
  callback_url       text,
  routing            jsonb NOT NULL,
  policy_version     integer,
  decision_id        uuid,
  slack_channel      text,
  slack_ts           text,
  decided_at         timestamptz,
  decided_by         text,
  decision_reason    text,
  decision_channel   text,
  claim_token        uuid,
  claim_expires_at   timestamptz,
  claimed_at         timestamptz,
  result             jsonb,
  error              jsonb,
  completed_at       timestamptz,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX approvals_list ON approvals (tenant_id, created_at DESC, id DESC);
CREATE INDEX approvals_pending_deadline ON approvals (expires_at) WHERE status = 'pending';
CREATE INDEX approvals_lease ON approvals (claim_expires_at) WHERE status = 'executing';

-- Long-polls wait on this channel: every status change says which approval moved.
CREATE FUNCTION holdpoint_notify_approval() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('holdpoint_approval', NEW.id::text);
  RETURN NEW;
END $$;
CREATE TRIGGER approvals_notify AFTER UPDATE OF status ON approvals
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION holdpoint_notify_approval();

CREATE TABLE approval_votes (
  approval_id uuid NOT NULL REFERENCES approvals (id),
  approver    text NOT NULL,
  vote        text NOT NULL CHECK (vote IN ('approve', 'reject')),
  reason      text,
  channel     text NOT NULL,
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (approval_id, approver)
);

-- The audit trail. Rows are inserted by the transaction that makes the change,
-- unchained (seq, prev_hash, hash NULL), so approvals of one tenant never wait
-- on each other. The chainer (holdpoint_chain, run by the chain-events job, the
-- reconciler and every read of the trail) then links them per tenant, in
-- insertion order:
--   hash = sha256(prev_hash || utf8(seq || '.' || canonical JSON of the event))
-- Once chained, a row can never change; before, only the chain columns may be set.
CREATE TABLE approval_events (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  ord         bigint GENERATED ALWAYS AS IDENTITY,
  approval_id uuid REFERENCES approvals (id),
  type        text NOT NULL,
  actor       text NOT NULL,
  channel     text NOT NULL,
  data        jsonb NOT NULL,
  created_at  timestamptz NOT NULL,
  seq         bigint,
  prev_hash   bytea,
  hash        bytea,
  CHECK ((seq IS NULL) = (hash IS NULL))
);
CREATE UNIQUE INDEX approval_events_chain ON approval_events (tenant_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX approval_events_approval ON approval_events (approval_id, ord);
CREATE INDEX approval_events_unchained ON approval_events (tenant_id, ord) WHERE hash IS NULL;

CREATE FUNCTION holdpoint_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'HP001';
END $$;

CREATE FUNCTION holdpoint_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
     AND (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash') = (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash') THEN
    RETURN NEW; -- the chainer linking a new event
  END IF;
  RAISE EXCEPTION 'approval_events is append-only' USING ERRCODE = 'HP001';
END $$;
CREATE TRIGGER approval_events_append_only BEFORE UPDATE OR DELETE ON approval_events
  FOR EACH ROW EXECUTE FUNCTION holdpoint_events_guard();
CREATE TRIGGER approval_events_no_truncate BEFORE TRUNCATE ON approval_events
  FOR EACH STATEMENT EXECUTE FUNCTION holdpoint_forbid_change();

-- Every check / guard evaluation. Guard evaluations carry the idempotency key,
-- so a retried guard returns the outcome it got the first time.
CREATE TABLE decisions (
  id               uuid PRIMARY KEY,
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  kind             text NOT NULL CHECK (kind IN ('check', 'guard')),
  idempotency_key  text,
  request_hash     text,
  action           text NOT NULL,
  agent_id         text NOT NULL,
  decision         text NOT NULL CHECK (decision IN ('allow', 'deny', 'require_approval')),
  reasons          jsonb NOT NULL,
  policy_version   integer,
  approval_id      uuid,
  created_at       timestamptz NOT NULL,
  report_status    text CHECK (report_status IN ('completed', 'failed')),
  report_result    jsonb,
  reported_at      timestamptz
);
CREATE UNIQUE INDEX decisions_guard_key ON decisions (tenant_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX decisions_list ON decisions (tenant_id, created_at DESC);

-- Decisions are evidence: never deleted, and only the report may be written,
-- once.
CREATE FUNCTION holdpoint_decisions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR OLD.reported_at IS NOT NULL
     OR (to_jsonb(NEW) - 'report_status' - 'report_result' - 'reported_at')
        IS DISTINCT FROM (to_jsonb(OLD) - 'report_status' - 'report_result' - 'reported_at') THEN
    RAISE EXCEPTION 'decisions are append-only (only a first report may be added)' USING ERRCODE = 'HP001';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
  FOR EACH ROW EXECUTE FUNCTION holdpoint_decisions_guard();

CREATE TABLE webhook_endpoints (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       uuid NOT NULL REFERENCES tenants (id),
  url             text NOT NULL,
  event_types     text[] NOT NULL DEFAULT '{}',
  description     text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  disabled_at     timestamptz,
  disabled_reason text
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id) WHERE disabled_at IS NULL;

CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  event_id         uuid NOT NULL REFERENCES approval_events (id),
  endpoint_id      uuid REFERENCES webhook_endpoints (id),
  target           text NOT NULL,          -- endpoint id, or 'callback'
  url              text NOT NULL,
  payload          text NOT NULL,          -- the exact body, stable across retries
  status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed', 'dead')),
  attempts         integer NOT NULL DEFAULT 0,
  last_status_code integer,
  last_error       text,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (event_id, target)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_tenant ON webhook_deliveries (tenant_id, created_at DESC);
