"""HoldpointClient against a real `holdpoint start`: allow, deny and pending;
approve and reject while a guard waits; timeouts; one approval per key;
redacted params reaching the block; reports; the decorator."""
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone

import support
from holdpoint import (
    ActionClaimed,
    ActionDenied,
    ActionPending,
    ActionRejected,
    ActionTimeout,
    HoldpointClient,
    HoldpointError,
    InvalidRequest,
    holdpoint_guard,
)

hp: support.Server


def setUpModule():
    global hp
    hp = support.shared()


def client(**kw) -> HoldpointClient:
    return HoldpointClient(hp.keys["agent"], base_url=hp.base, agent_id="py-sync", **kw)


def in_background(fn):
    """Runs fn in a thread; returns a function that joins it and returns its result or raises its error."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            box["error"] = err

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def join(timeout=60):
        t.join(timeout)
        assert not t.is_alive(), "the guard is still waiting"
        if "error" in box:
            raise box["error"]
        return box.get("value")

    return join


class CheckAndReport(unittest.TestCase):
    def test_check_says_allow_deny_or_require_approval_with_the_rule_that_said_it(self):
        c = client()
        ok = c.check("payment.send", {"amount": 20})
        self.assertTrue(ok.allowed)
        self.assertFalse(ok.denied or ok.requires_approval or ok.modified)
        self.assertEqual(ok.risk_score, 0)
        no = c.check("database.drop", {"table": "users"})
        self.assertTrue(no.denied)
        self.assertEqual(no.reason, "Dropping databases is never allowed")
        self.assertEqual(no.risk_score, 1)
        ask = c.check("payment.send", {"amount": 5000})
        self.assertTrue(ask.requires_approval)
        self.assertEqual(ask.reason, "Payments over 1000 need a human")
        self.assertEqual(ask.matched_rules, ["big-payments"])
        self.assertIsNone(hp.approval_by_key("never-parked"))

    def test_a_redacting_policy_answers_modified_with_the_redacted_params_not_allowed(self):
        d = client().check("email.send", {"to": "jane@example.com", "subject": "hi"})
        self.assertTrue(d.modified)
        self.assertFalse(d.allowed)
        self.assertEqual(d.params, {"to": "[REDACTED:email]", "subject": "hi"})
        self.assertEqual(d.redacted_paths, ["params.to"])

    def test_report_records_the_outcome_result_duration_and_cost_on_the_decision(self):
        c = client()
        d = c.check("payment.send", {"amount": 20}, cost_usd=0.5)
        c.report(d, "success", result={"payment_id": "pay_1"}, duration_ms=84, cost_usd=0.25)
        rec = hp.decision("payment.send", d.decision_id)
        self.assertEqual(rec["report_status"], "completed")
        self.assertEqual(rec["report_result"], {"payment_id": "pay_1"})
        self.assertEqual(rec["report_duration_ms"], 84)
        self.assertEqual(rec["cost_usd"], 0.5)
        self.assertEqual(rec["report_cost_usd"], 0.25)
        with self.assertRaises(HoldpointError) as cm:
            c.report(d, "completed")
        self.assertEqual(cm.exception.code, "invalid_state")

    def test_a_failure_is_reported_with_the_error(self):
        c = client()
        d = c.check("payment.send", {"amount": 21})
        c.report(d, "failed", error=RuntimeError("bank down"))
        rec = hp.decision("payment.send", d.decision_id)
        self.assertEqual(rec["report_status"], "failed")
        self.assertEqual(rec["report_result"], {"name": "RuntimeError", "message": "bank down"})


class Guard(unittest.TestCase):
    def test_an_allowed_action_runs_the_block_and_completes_with_its_result(self):
        key = support.unique("allow")
        with client().guard("payment.send", {"amount": 20, "to": "acct_7"}, key) as permit:
            self.assertEqual(permit.params, {"amount": 20, "to": "acct_7"})
            self.assertIsNone(permit.approval_id)
            self.assertIsNone(permit.approver)
            permit.result = {"payment_id": "pay_20"}
        self.assertTrue(permit.reported)
        rec = hp.decision("payment.send", permit.decision_id)
        self.assertEqual((rec["report_status"], rec["report_result"]), ("completed", {"payment_id": "pay_20"}))

    def test_a_denied_action_never_runs_the_block(self):
        ran = []
        with self.assertRaises(ActionDenied) as cm:
            with client().guard("database.drop", {"table": "users"}, support.unique("deny")):
                ran.append(1)
        self.assertEqual(ran, [])
        self.assertEqual(cm.exception.reasons[0]["rule"], "never-drop")

    def test_a_pending_action_raises_action_pending_and_the_same_key_twice_is_one_approval(self):
        key = support.unique("pending")
        ran = []
        ids = []
        for _ in range(2):
            with self.assertRaises(ActionPending) as cm:
                with client().guard("payment.send", {"amount": 5000}, key):
                    ran.append(1)
            ids.append(cm.exception.approval_id)
            self.assertEqual(cm.exception.idempotency_key, key)
            self.assertIsNotNone(cm.exception.expires_at)
        self.assertEqual(ran, [])
        self.assertEqual(ids[0], ids[1])
        self.assertEqual(hp.approval_by_key(key)["id"], ids[0])
        self.assertEqual(hp.approval(ids[0])["status"], "pending")

    def test_timeout_seconds_sets_the_approvals_deadline_from_when_it_was_asked(self):
        key = support.unique("deadline")
        asked = datetime.now(timezone.utc)
        with self.assertRaises(ActionPending) as cm:
            client().permit("deploy.api", {"version": "9"}, key, timeout_seconds=120)
        answered = datetime.now(timezone.utc)
        a = hp.approval(cm.exception.approval_id)
        expires = datetime.fromisoformat(a["expires_at"].replace("Z", "+00:00"))
        # the policy default is 300 s: only the SDK's 120 puts the deadline here
        self.assertGreaterEqual(expires, asked + timedelta(seconds=119))
        self.assertLessEqual(expires, answered + timedelta(seconds=121))
        self.assertEqual(cm.exception.expires_at, expires)

    def test_the_same_key_with_other_params_is_refused_not_a_second_approval(self):
        key = support.unique("reuse")
        with self.assertRaises(ActionPending):
            client().permit("payment.send", {"amount": 5000}, key)
        with self.assertRaises(HoldpointError) as cm:
            client().permit("payment.send", {"amount": 5001}, key)
        self.assertEqual(cm.exception.code, "idempotency_key_reused")

    def test_a_guard_waiting_for_a_human_runs_once_they_approve_and_completes_the_approval(self):
        key = support.unique("approve")
        ran = []

        def agent():
            with client().guard("payment.send", {"amount": 5000, "to": "acct_42"}, key, wait=60) as permit:
                ran.append(dict(permit.params))
                permit.result = {"payment_id": "pay_5000"}
            return permit

        join = in_background(agent)
        parked = hp.wait_parked(key)
        time.sleep(0.3)
        self.assertEqual(ran, [])
        hp.decide(parked["id"], "approve", "alice", "looks right")
        permit = join()
        self.assertEqual(ran, [{"amount": 5000, "to": "acct_42"}])
        self.assertEqual(permit.approver, "alice")
        self.assertEqual(permit.approval_id, parked["id"])
        self.assertIsNotNone(permit.approved_at)
        self.assertTrue(permit.claim_token)
        a = hp.approval(parked["id"])
        self.assertEqual((a["status"], a["result"]), ("completed", {"payment_id": "pay_5000"}))

    def test_a_guard_waiting_for_a_human_raises_action_rejected_with_who_and_why(self):
        key = support.unique("reject")
        join = in_background(lambda: client().permit("payment.send", {"amount": 7000}, key, wait=60))
        parked = hp.wait_parked(key)
        hp.decide(parked["id"], "reject", "bob", "wrong account")
        with self.assertRaises(ActionRejected) as cm:
            join()
        self.assertEqual(cm.exception.rejected_by, "bob")
        self.assertEqual(cm.exception.reason, "wrong account")

    def test_nobody_deciding_by_the_deadline_raises_action_timeout(self):
        key = support.unique("quick")
        started = time.monotonic()
        with self.assertRaises(ActionTimeout) as cm:
            with client().guard("quick.fix", {"n": 1}, key, wait=True):
                self.fail("the block must not run")
        self.assertLess(time.monotonic() - started, 20)
        self.assertEqual(hp.approval(cm.exception.approval_id)["status"], "expired")

    def test_a_wait_that_runs_out_first_raises_action_pending(self):
        key = support.unique("short-wait")
        started = time.monotonic()
        with self.assertRaises(ActionPending):
            client().permit("deploy.api", {"version": "1.2.3"}, key, wait=1)
        self.assertGreaterEqual(time.monotonic() - started, 0.9)

    def test_an_exception_in_the_block_fails_the_approval_and_propagates(self):
        key = support.unique("boom")
        with self.assertRaises(ActionPending) as cm:
            client().permit("deploy.api", {"version": "2"}, key)
        hp.decide(cm.exception.approval_id, "approve", "alice")
        with self.assertRaises(ValueError):
            with client().guard("deploy.api", {"version": "2"}, key) as permit:
                raise ValueError("migration failed")
        a = hp.approval(permit.approval_id)
        self.assertEqual(a["status"], "failed")
        self.assertEqual(a["error"], {"name": "ValueError", "message": "migration failed"})
        with self.assertRaises(ActionClaimed) as again:
            client().permit("deploy.api", {"version": "2"}, key)
        self.assertEqual(again.exception.approval_status, "failed")

    def test_redacted_params_reach_the_block_and_a_replay_gets_them_again(self):
        key = support.unique("redact")
        sent = {"to": "jane@example.com", "body": "hello"}
        with client().guard("email.send", sent, key) as permit:
            self.assertEqual(permit.params, {"to": "[REDACTED:email]", "body": "hello"})
            self.assertTrue(permit.modified)
            self.assertEqual(permit.redacted_paths, ["params.to"])
        self.assertEqual(sent["to"], "jane@example.com")
        again = client().permit("email.send", sent, key)
        self.assertEqual(again.params["to"], "[REDACTED:email]")

    def test_an_approval_of_redacted_params_runs_on_what_the_human_saw(self):
        key = support.unique("review")
        with self.assertRaises(ActionPending) as cm:
            client().permit("email.review", {"to": "ceo@example.com", "body": "Q3"}, key)
        self.assertEqual(cm.exception.approval["params"]["to"], "[REDACTED:email]")
        hp.decide(cm.exception.approval_id, "approve", "alice")
        with client().guard("email.review", {"to": "ceo@example.com", "body": "Q3"}, key) as permit:
            self.assertEqual(permit.params, {"to": "[REDACTED:email]", "body": "Q3"})
            self.assertTrue(permit.modified)

    def test_params_json_cannot_carry_are_refused_and_nothing_is_parked(self):
        key = support.unique("nan")
        with self.assertRaises(InvalidRequest):
            client(fail_open=True).permit("payment.send", {"amount": float("nan")}, key)
        self.assertIsNone(hp.approval_by_key(key))

    def test_a_guard_without_an_idempotency_key_is_refused(self):
        with self.assertRaises(HoldpointError) as cm:
            client().permit("payment.send", {"amount": 1})
        self.assertEqual(cm.exception.code, "idempotency_key_missing")

    def test_wait_for_decision_and_cancel(self):
        c = client()
        key = support.unique("cancel")
        with self.assertRaises(ActionPending):
            c.permit("deploy.web", {}, key)
        with self.assertRaises(ActionPending):
            c.wait_for_decision(key, timeout=0.5)
        self.assertEqual(c.cancel(key, "not today")["status"], "cancelled")
        with self.assertRaises(HoldpointError) as cm:
            c.permit("deploy.web", {}, key)
        self.assertEqual(cm.exception.code, "cancelled")
        self.assertEqual(c.wait_for_decision(key)["status"], "cancelled")


class Decorator(unittest.TestCase):
    def test_a_guarded_function_runs_with_its_arguments_when_allowed_and_its_return_completes_it(self):
        c = client()
        calls = []

        @holdpoint_guard(c, action="payment.send", idempotency_key=lambda to, amount, memo="": support.unique(f"dec-{to}"))
        def pay(to, amount, memo=""):
            calls.append((to, amount, memo))
            return {"paid": amount}

        self.assertEqual(pay("acct_7", 20, memo="march"), {"paid": 20})
        self.assertEqual(calls, [("acct_7", 20, "march")])
        self.assertEqual(pay.__name__, "pay")
        with self.assertRaises(ActionPending):
            pay("acct_42", 5000)
        self.assertEqual(len(calls), 1)

    def test_a_guarded_function_gets_the_redacted_values(self):
        seen = []

        @holdpoint_guard(client(), action="email.send", idempotency_key=lambda to, body: support.unique("dec-mail"))
        def send(to, body):
            seen.append(to)
            return "sent"

        self.assertEqual(send("jane@example.com", "hi"), "sent")
        self.assertEqual(seen, ["[REDACTED:email]"])

    def test_custom_params_without_from_params_refuse_to_run_on_the_originals(self):
        seen = []

        @holdpoint_guard(client(), action="email.send", idempotency_key=lambda to: support.unique("dec-custom"), params=lambda to: {"recipient": to})
        def send(to):
            seen.append(to)

        with self.assertRaises(HoldpointError) as cm:
            send("jane@example.com")
        self.assertEqual(cm.exception.code, "params_modified")
        self.assertEqual(seen, [])

    def test_without_action_the_functions_name_is_the_action(self):
        @holdpoint_guard(client(), idempotency_key=lambda n: support.unique("dec-name"))
        def rotate_api_keys(n):
            return n * 2

        class Ops:
            @holdpoint_guard(client(), idempotency_key=lambda self, n: support.unique("dec-method"))
            def purge_cache(self, n):
                return n

        self.assertEqual(rotate_api_keys(21), 42)
        self.assertEqual(Ops().purge_cache(7), 7)
        for name, params in (("rotate_api_keys", {"n": 21}), ("purge_cache", {"n": 7})):
            status, body = support.call(hp.base, "GET", f"/v1/decisions?action={name}&limit=10", hp.keys["approver"])
            self.assertEqual(status, 200)
            self.assertEqual([(d["action"], d["params"], d["report_status"]) for d in body["data"]], [(name, params, "completed")])

    def test_a_lambda_has_no_name_to_be_the_action(self):
        with self.assertRaises(HoldpointError) as cm:
            holdpoint_guard(client(), idempotency_key=lambda: "k")(lambda: None)
        self.assertEqual(cm.exception.code, "action_missing")
        with self.assertRaises(HoldpointError) as cm:
            holdpoint_guard(client(), action="", idempotency_key=lambda: "k")
        self.assertEqual(cm.exception.code, "action_missing")

    def test_a_guard_needs_a_key_function(self):
        with self.assertRaises(HoldpointError):
            holdpoint_guard(client(), action="x")


if __name__ == "__main__":
    unittest.main()
