"""examples/python/*, run for real as a user would (python3 FILE) against the
shared server; approvals are decided through the API while an example waits,
and the assertions are on what it prints, how it exits and what the server
recorded."""
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest

import support

hp: support.Server
EXAMPLES = os.path.join(support.ROOT, "examples", "python")
UUID = "[0-9a-f-]{36}"


def setUpModule():
    global hp
    hp = support.shared()


class Example:
    def __init__(self, file, env):
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(EXAMPLES, file)],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self):
        return "\n".join(self.lines)

    def line(self, pattern, timeout=20):
        rx = re.compile(pattern)
        return support.wait_for(lambda: next((m for m in map(rx.search, list(self.lines)) if m), None), timeout, f"{pattern!r} in:\n{self.output()}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.reader.join(10)
        self.proc.stdout.close()


def sign(secret, msg_id, body):
    ts = str(int(time.time()))
    key = base64.b64decode(secret[len("whsec_"):])
    sig = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": f"v1,{sig}", "Content-Type": "application/json"}


def post(url_base, headers, body):
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(url_base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request("POST", "/hook", body=body, headers=headers)
        return c.getresponse().status
    finally:
        c.close()


class PaymentAgent(unittest.TestCase):
    def test_pays_the_small_invoice_at_once_waits_on_the_big_one_and_pays_it_after_approval(self):
        ex = Example("payment_agent.py", {"HOLDPOINT_URL": hp.base, "HOLDPOINT_API_KEY": hp.keys["agent"], "WAIT_SECONDS": "30"})
        try:
            m = ex.line(rf"inv-1001: 5000 to acct_42 needs approval — approval ({UUID})")
            self.assertRegex(ex.output(), r"inv-1000: paid 20 to acct_7 \(allowed by policy\) — pay_\w+")
            hp.decide(m.group(1), "approve", "alice")
            self.assertEqual(ex.proc.wait(30), 0, ex.output())
            support.wait_for(lambda: "inv-1001: paid" in ex.output(), 5, "the last line")
            self.assertRegex(ex.output(), r"inv-1001: paid 5000 to acct_42 \(approved by alice\) — pay_\w+")
            a = hp.approval(m.group(1))
            self.assertEqual((a["status"], a["agent_id"]), ("completed", "billing-bot"))
            self.assertEqual({k: a["result"][k] for k in ("to", "amount")}, {"to": "acct_42", "amount": 5000})
        finally:
            ex.close()

    def test_says_who_rejected_it_and_does_not_pay(self):
        ex = Example("payment_agent.py", {"HOLDPOINT_URL": hp.base, "HOLDPOINT_API_KEY": hp.keys["agent"], "WAIT_SECONDS": "30"})
        try:
            m = ex.line(rf"inv-1001: 5000 to acct_42 needs approval — approval ({UUID})")
            hp.decide(m.group(1), "reject", "bob", "wrong account")
            self.assertEqual(ex.proc.wait(30), 0, ex.output())
            support.wait_for(lambda: "inv-1001: not paid" in ex.output(), 5, "the last line")
            self.assertIn("inv-1001: not paid — rejected by bob: wrong account", ex.output())
            self.assertNotIn("inv-1001: paid", ex.output())
        finally:
            ex.close()

    def test_without_a_key_it_says_what_to_set_and_exits_2(self):
        env = {k: v for k, v in os.environ.items() if k != "HOLDPOINT_API_KEY"}
        p = subprocess.run([sys.executable, os.path.join(EXAMPLES, "payment_agent.py")], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("HOLDPOINT_API_KEY", p.stderr)


class WebhookReceiver(unittest.TestCase):
    def test_verifies_real_deliveries_refuses_forgeries_and_marks_duplicates(self):
        port = support.free_port()
        ex = Example("webhook_receiver.py", {"WEBHOOK_SECRET": hp.webhook_secret, "PORT": str(port)})
        try:
            ex.line("listening on")
            hook = f"http://127.0.0.1:{port}"
            from holdpoint import ActionPending, HoldpointClient

            key = support.unique("hook")
            c = HoldpointClient(hp.keys["agent"], base_url=hp.base, agent_id="hook-bot")
            with self.assertRaises(ActionPending) as cm:
                c.permit("payment.send", {"amount": 4000}, key, callback_url=f"{hook}/hook")
            approval_id = cm.exception.approval_id
            ex.line(rf"^approval\.requested  approval={approval_id}  status=pending  by=-$")
            hp.decide(approval_id, "approve", "alice")
            ex.line(rf"^approval\.approved  approval={approval_id}  status=approved  by=alice$")

            forged = json.dumps({"type": "approval.approved", "data": {"id": approval_id}}).encode()
            self.assertEqual(post(hook, {"webhook-id": "evt_forged", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"}, forged), 400)
            ex.line("rejected a delivery: no webhook-signature matches the body")

            body = json.dumps({"type": "approval.cancelled", "id": "evt_dup", "data": {"id": "a-1", "status": "cancelled", "decided_by": None}}).encode()
            self.assertEqual(post(hook, sign(hp.webhook_secret, "evt_dup", body), body), 204)
            self.assertEqual(post(hook, sign(hp.webhook_secret, "evt_dup", body), body), 204)
            ex.line(r"^\(duplicate\) approval\.cancelled  approval=a-1")
            self.assertEqual(sum(1 for ln in ex.lines if "approval.cancelled" in ln), 2)
        finally:
            ex.close()


if __name__ == "__main__":
    unittest.main()
