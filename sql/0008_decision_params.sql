-- 0008_decision_params: a retried guard gets the params it was granted.
--
-- Contract:
-- * granted_params holds the params an allowed guard decision let through when
--   the policy redacted them (decision 'modify'); NULL otherwise (the agent's
--   own params were granted, or an approval holds them).
-- * A replay of the idempotency key answers these, so a retry after a lost
--   response never hands the caller back its unredacted originals.
ALTER TABLE decisions ADD COLUMN granted_params jsonb;
