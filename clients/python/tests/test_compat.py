"""The seed's own quickstart code (tests/seed/, copied verbatim from the
HaltState SDK pages but for the import line) runs against a real Holdpoint
through `holdpoint.compat.haltstate`; HOLDPOINT_URL gives the address and the
seed's placeholder key is swapped for a real agent key."""
import os
import re
import subprocess
import sys
import unittest

import support

hp: support.Server
SEED = os.path.join(support.HERE, "seed")
PLACEHOLDER_KEYS = ("janus_xyz", "janus_xxx", "hs_your_api_key")
ALLOW_ALL = {"defaults": {"decision": "allow", "min_timeout_seconds": 1}}


def setUpModule():
    global hp
    hp = support.shared()


def run_seed(name: str, *args: str):
    with open(os.path.join(SEED, name), encoding="utf-8") as f:
        source = f.read()
    for placeholder in PLACEHOLDER_KEYS:
        source = source.replace(f'"{placeholder}"', f'"{hp.keys["agent"]}"')
    env = {**os.environ, "PYTHONPATH": support.SRC, "HOLDPOINT_URL": hp.base}
    env.pop("HOLDPOINT_API_KEY", None)
    p = subprocess.run([sys.executable, "-", *args], input=source, env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


class SeedQuickstart(unittest.TestCase):
    def allow_everything(self):
        hp.set_policy(ALLOW_ALL)
        self.addCleanup(hp.set_policy, support.POLICY)

    def test_the_fixtures_are_the_seed_with_only_the_import_changed(self):
        for name in ("quickstart_sync.py", "guard_async.py", "decorators.py", "async_check.py", "quickstart_guard.py"):
            with open(os.path.join(SEED, name), encoding="utf-8") as f:
                text = f.read()
            self.assertNotIn("from haltstate import", text)
            self.assertRegex(text, r"(?m)^from holdpoint\.compat\.haltstate import ")

    def test_the_seeds_exception_names_import_from_the_compat_module(self):
        from holdpoint import AuthError, ConnectionError, HoldpointError
        from holdpoint.compat.haltstate import (  # the seed's "Exceptions" block, import swapped
            HaltStateError,           # Base error
            HaltStateAuthError,       # Invalid API key
            HaltStateConnectionError, # Network/timeout
            ActionPending,            # Awaiting approval (guard pattern)
            ActionRejected,           # Human rejected (guard pattern)
            ActionTimeout,            # Approval expired (guard pattern)
        )
        self.assertIs(HaltStateError, HoldpointError)
        self.assertIs(HaltStateAuthError, AuthError)
        self.assertIs(HaltStateConnectionError, ConnectionError)
        for cls in (ActionPending, ActionRejected, ActionTimeout):
            self.assertTrue(issubclass(cls, HaltStateError))

    def test_sync_quickstart_asks_for_approval_on_a_big_payment(self):
        code, out, err = run_seed("quickstart_sync.py")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.strip(), "Approval required: Payments over 1000 need a human")

    def test_sync_quickstart_pays_and_reports_when_the_policy_allows(self):
        self.allow_everything()
        code, out, err = run_seed("quickstart_sync.py")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.strip(), "process_payment called")
        status, body = support.call(hp.base, "GET", "/v1/decisions?action=payment.process&agent_id=payment-bot-01&limit=1", hp.keys["approver"])
        self.assertEqual(status, 200)
        self.assertEqual((body["data"][0]["report_status"], body["data"][0]["report_result"]), ("completed", {"transaction_id": "tx_123"}))

    def test_guard_pattern_parks_then_runs_once_approved(self):
        invoice = support.unique("INV")
        code, out, err = run_seed("guard_async.py", invoice, "5000")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines(), ["Awaiting human approval...", "{'status': 'pending'}"])
        hp.decide(hp.approval_by_key(f"payment-{invoice}")["id"], "approve", "alice")
        code, out, err = run_seed("guard_async.py", invoice, "5000")
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "execute_payment(5000.0)")
        self.assertRegex(lines[1], r"^Approved by alice at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
        self.assertEqual(lines[2], "{'paid': 5000.0}")
        a = hp.approval_by_key(f"payment-{invoice}")
        self.assertEqual((a["status"], a["agent_id"]), ("completed", "payment-bot"))

    def test_guard_pattern_says_who_rejected_and_re_raises(self):
        invoice = support.unique("INV")
        self.assertEqual(run_seed("guard_async.py", invoice, "7500")[0], 0)
        hp.decide(hp.approval_by_key(f"payment-{invoice}")["id"], "reject", "bob", "over budget")
        code, out, err = run_seed("guard_async.py", invoice, "7500")
        self.assertEqual(code, 1)
        self.assertEqual(out.strip(), "Rejected by bob: over budget")
        self.assertIn("ActionRejected", err)

    def test_decorator_sends_with_the_address_redacted(self):
        code, out, err = run_seed("decorators.py")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines(), ["mailer.send to=[REDACTED:email] subject=Invoice 1001", "{'message_id': 'msg_1'}"])

    def test_async_check_is_denied_by_policy_and_reports_when_allowed(self):
        code, out, err = run_seed("async_check.py")
        self.assertEqual((code, out.strip()), (0, "main() returned"), err)
        status, body = support.call(hp.base, "GET", "/v1/decisions?action=database.drop&agent_id=default&limit=1", hp.keys["approver"])
        self.assertEqual((body["data"][0]["decision"], body["data"][0]["report_status"]), ("deny", None))
        self.allow_everything()
        self.assertEqual(run_seed("async_check.py")[0], 0)
        status, body = support.call(hp.base, "GET", "/v1/decisions?action=database.drop&agent_id=default&limit=1", hp.keys["approver"])
        self.assertEqual((body["data"][0]["decision"], body["data"][0]["report_status"]), ("allow", "completed"))

    def test_the_janus_names_are_the_haltstate_client_and_decorator(self):
        from holdpoint.compat.haltstate import AsyncHaltStateClient, HaltStateClient, haltstate_guard
        from holdpoint.compat.janus import AsyncJanusClient, JanusClient, janus_guard  # the seed's "Still works!" line, import swapped

        self.assertIs(JanusClient, HaltStateClient)
        self.assertIs(AsyncJanusClient, AsyncHaltStateClient)
        self.assertIs(janus_guard, haltstate_guard)

    def test_janus_era_code_runs_the_seed_decorator_example(self):
        # The seed's decorator example as janus-sdk code: `from janus import JanusClient, janus_guard`.
        with open(os.path.join(SEED, "decorators.py"), encoding="utf-8") as f:
            source = f.read()
        source = source.replace("from holdpoint.compat.haltstate import HaltStateClient, haltstate_guard", "from holdpoint.compat.janus import JanusClient, janus_guard")
        source = source.replace("HaltStateClient(", "JanusClient(").replace("@haltstate_guard(", "@janus_guard(")
        self.assertNotIn("haltstate", source.lower())
        source = source.replace('"janus_xxx"', f'"{hp.keys["agent"]}"')
        env = {**os.environ, "PYTHONPATH": support.SRC, "HOLDPOINT_URL": hp.base}
        env.pop("HOLDPOINT_API_KEY", None)
        p = subprocess.run([sys.executable, "-"], input=source, env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines(), ["mailer.send to=[REDACTED:email] subject=Invoice 1001", "{'message_id': 'msg_1'}"])
        status, body = support.call(hp.base, "GET", "/v1/decisions?action=email.send&agent_id=email-bot&limit=1", hp.keys["approver"])
        self.assertEqual((status, body["data"][0]["report_status"]), (200, "completed"))

    def test_the_quickstart_guard_parks_then_deletes_once_approved(self):
        code, out, err = run_seed("quickstart_guard.py")
        self.assertEqual(code, 0, err)
        m = re.fullmatch(r"Awaiting approval: ([0-9a-f-]{36})", out.strip())
        self.assertTrue(m, out)
        hp.decide(m.group(1), "approve", "alice")
        code, out, err = run_seed("quickstart_guard.py")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines(), ["delete_user(123)", "Approved by: alice"])
        self.assertEqual(hp.approval(m.group(1))["status"], "completed")


if __name__ == "__main__":
    unittest.main()
