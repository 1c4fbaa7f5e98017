"""The errors carry what a caller acts on, read well, and survive a pickle
(a guard run in a worker process hands its error back intact)."""
import pickle
import unittest

import support  # noqa: F401
from holdpoint import (
    ActionClaimed,
    ActionDenied,
    ActionPending,
    ActionRejected,
    ActionTimeout,
    ApprovalPending,
    AuthError,
    ConnectionError,
    HoldpointError,
    ServerError,
)

APPROVAL = {
    "id": "0190f4c2-0000-7000-8000-000000000001",
    "idempotency_key": "inv-1",
    "status": "rejected",
    "expires_at": "2026-11-30T09:00:00.000Z",
    "decided_by": "bob",
    "decision_reason": "wrong account",
}


class Errors(unittest.TestCase):
    def test_outcome_errors_carry_who_why_and_when(self):
        r = ActionRejected(APPROVAL)
        self.assertEqual((r.rejected_by, r.reason, r.code), ("bob", "wrong account", "rejected"))
        self.assertEqual(str(r), f"approval {APPROVAL['id']} was rejected by bob: wrong account")
        p = ActionPending({**APPROVAL, "status": "pending"})
        self.assertEqual((p.approval_id, p.idempotency_key, p.expires_at.year), (APPROVAL["id"], "inv-1", 2026))
        self.assertIs(ApprovalPending, ActionPending)
        self.assertEqual(ActionTimeout({**APPROVAL, "status": "expired"}).expires_at.minute, 0)
        self.assertEqual(ActionClaimed({**APPROVAL, "status": "executing"}).approval_status, "executing")
        d = ActionDenied([{"rule": "never-drop", "message": "no"}], "dec-1")
        self.assertEqual((d.reason, d.decision_id, str(d)), ("no", "dec-1", "denied by policy: no"))

    def test_every_error_is_a_holdpoint_error_and_ours_is_not_the_builtin_connection_error(self):
        for cls in (AuthError, ConnectionError, ServerError, ActionPending, ActionRejected, ActionTimeout, ActionDenied, ActionClaimed):
            self.assertTrue(issubclass(cls, HoldpointError))
        self.assertFalse(issubclass(ConnectionError, OSError))

    def test_errors_survive_a_pickle_with_every_field(self):
        for err in (
            ConnectionError("timeout", "no answer", attempts=4),
            ActionRejected(APPROVAL, status=200),
            ActionDenied([{"message": "no"}], "dec-1", status=200),
            ActionClaimed({**APPROVAL, "status": "completed"}, ambiguous=True),
        ):
            back = pickle.loads(pickle.dumps(err))
            self.assertIs(type(back), type(err))
            self.assertEqual(back.__dict__, err.__dict__)
            self.assertEqual(str(back), str(err))


if __name__ == "__main__":
    unittest.main()
