"""Parity with the TypeScript SDK (issue 13): tags and cost_usd on check /
guard, reports that carry cost and duration (a ``with`` block measures the
duration itself), and replay mode — record a run's answers to a JSON Lines
file, answer a later run from it with no server, and never allow what the
recording did not hold."""
import asyncio
import json
import os
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import support
from test_fail_open import closed_port
from holdpoint import (
    ActionDenied,
    ActionPending,
    AsyncHoldpointClient,
    HoldpointClient,
    HoldpointError,
    InvalidRequest,
    Replay,
    ReplayDivergence,
    ReplayDivergenceError,
    holdpoint_guard,
    record_to,
    replay_from,
)

hp: support.Server


def setUpModule():
    global hp
    hp = support.shared()


def client(**kw) -> HoldpointClient:
    return HoldpointClient(hp.keys["agent"], base_url=hp.base, agent_id="py-parity", **kw)


def events(approval_id):
    status, body = support.call(hp.base, "GET", f"/v1/approvals/{approval_id}/events", hp.keys["approver"])
    assert status == 200, (status, body)
    return body["events"]


class Recorder:
    """A fake Holdpoint that allows everything and keeps every request body."""

    ANSWER = {"decision": "allow", "status": "allowed", "reasons": [], "decision_id": "d1", "policy_version": 1,
              "matched_rules": [], "redacted_paths": [], "approval": None}

    def __init__(self):
        rec = self
        self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rec.bodies.append(json.loads(raw) if raw else None)
                data = json.dumps(rec.ANSWER).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TagsAndCost(unittest.TestCase):
    def setUp(self):
        self.fake = Recorder()
        self.addCleanup(self.fake.close)
        self.c = HoldpointClient("hp_agent_test", base_url=self.fake.base, retries=0, fail_open=True)

    def test_tags_and_cost_are_sent_as_tags_and_cost_usd_by_check_and_guard(self):
        self.c.check("llm.call", tags=["team:search", "run/42"], cost_usd=0.02)
        with self.c.guard("llm.call", {"prompt": "hi"}, "k1", tags=("a.b_c-d",), cost_usd=0) as permit:
            permit.result = "ok"
        self.assertEqual(self.fake.bodies[0]["tags"], ["team:search", "run/42"])
        self.assertEqual(self.fake.bodies[0]["cost_usd"], 0.02)
        self.assertNotIn("context", self.fake.bodies[0])
        self.assertEqual(self.fake.bodies[1]["tags"], ["a.b_c-d"])
        self.assertEqual(self.fake.bodies[1]["cost_usd"], 0)

    def test_tags_or_a_cost_the_server_would_refuse_raise_invalid_request_before_anything_is_sent(self):
        bad_tags = [["has space"], [""], ["-x"], [".hidden"], ["x" * 65], ["ok", 7], [f"t{i}" for i in range(21)], "billing", ["line\n"]]
        for tags in bad_tags:
            with self.assertRaises(InvalidRequest, msg=repr(tags)) as cm:
                self.c.check("llm.call", tags=tags)
            self.assertEqual(cm.exception.code, "validation_failed")
        for cost in (-0.01, float("inf"), float("nan"), 2e9, "1", True):
            with self.assertRaises(InvalidRequest, msg=repr(cost)):
                self.c.guard("llm.call", {}, "k2", cost_usd=cost).__enter__()
        self.assertEqual(self.fake.bodies, [])

    def test_the_decorator_sends_cost_and_tags_with_every_call(self):
        @holdpoint_guard(self.c, action="llm.call", idempotency_key=lambda prompt: f"llm-{prompt}", cost_usd=0.05, tags=["llm"])
        def ask(prompt):
            return prompt.upper()

        self.assertEqual(ask("hi"), "HI")
        self.assertEqual((self.fake.bodies[0]["cost_usd"], self.fake.bodies[0]["tags"]), (0.05, ["llm"]))
        self.assertIn("duration_ms", self.fake.bodies[1])  # the report: how long the call ran

    def test_exactly_the_limits_pass(self):
        tags = [f"{i:02d}" + "x" * 62 for i in range(20)]
        self.c.check("llm.call", tags=tags)
        self.assertEqual(self.fake.bodies[0]["tags"], tags)


class Reports(unittest.TestCase):
    def test_a_with_block_reports_how_long_it_ran(self):
        with client().guard("email.send", {"to": "ops"}, support.unique("timed")) as permit:
            time.sleep(0.06)
        rec = hp.decision("email.send", permit.decision_id)
        self.assertEqual(rec["report_status"], "completed")
        self.assertGreaterEqual(rec["report_duration_ms"], 50)

    def test_a_claimed_permit_reports_cost_and_duration_onto_the_audit_trail(self):
        c = client()
        key = support.unique("claimed-cost")
        with self.assertRaises(ActionPending) as cm:
            c.permit("deploy.api", {"v": 1}, key)
        hp.decide(cm.exception.approval_id, "approve")
        permit = c.permit("deploy.api", {"v": 1}, key)
        permit.complete({"ok": True}, cost_usd=2.25, duration_ms=840)
        last = events(permit.approval_id)[-1]
        self.assertEqual(last["type"], "completed")
        self.assertEqual(last["data"], {"result": {"ok": True}, "cost_usd": 2.25, "duration_ms": 840})

    def test_tags_reach_the_decision_log(self):
        c = client()
        d = c.check("email.send", {"to": "ops-team"}, tags=["team:ops", "run/7"], cost_usd=0.01)
        self.assertEqual(hp.decision("email.send", d.decision_id)["tags"], ["team:ops", "run/7"])
        with c.guard("email.send", {"to": "ops-team"}, support.unique("tagged"), tags=["guarded"]) as permit:
            pass
        self.assertEqual(hp.decision("email.send", permit.decision_id)["tags"], ["guarded"])

    def test_a_bad_cost_or_duration_is_refused_before_sending_and_the_permit_can_still_report(self):
        permit = client().permit("email.send", {}, support.unique("badcost"))
        with self.assertRaises(InvalidRequest):
            permit.complete(None, duration_ms=-5)
        self.assertFalse(permit.reported)
        permit.complete(None, cost_usd=0.1, duration_ms=12.6)
        self.assertEqual(hp.decision("email.send", permit.decision_id)["report_duration_ms"], 13)


class ReplayMode(unittest.TestCase):
    def setUp(self):
        fd, self.path = tempfile.mkstemp(suffix=".jsonl")
        os.close(fd)
        os.unlink(self.path)
        self.addCleanup(lambda: os.path.exists(self.path) and os.unlink(self.path))

    def record_a_run(self, key):
        rec = client(replay=record_to(self.path))
        self.assertTrue(rec.check("email.send", {"to": "ops-team"}).allowed)
        self.assertTrue(rec.check("database.drop", {"table": "users"}).denied)
        with self.assertRaises(ActionDenied):
            rec.permit("database.drop", {"table": "users"}, key + "-drop")
        with self.assertRaises(ActionPending):
            rec.permit("deploy.web", {"v": 2}, key)

    def offline(self, **kw):
        # No key, and a base URL where nothing listens: any request would fail loudly.
        return HoldpointClient(base_url=closed_port(), agent_id="py-parity", replay=replay_from(self.path), **kw)

    def test_recording_writes_one_json_line_per_answer(self):
        self.record_a_run(support.unique("rec"))
        with open(self.path) as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual([(e["method"], e["action"], e["seq"]) for e in lines],
                         [("check", "email.send", 0), ("check", "database.drop", 0), ("guard", "database.drop", 0), ("guard", "deploy.web", 0)])
        self.assertTrue(all(e["params_hash"].startswith("sha256:") and e["agent_id"] == "py-parity" for e in lines))
        self.assertEqual(lines[3]["answer"]["refusal"]["type"], "pending")

    def test_replay_answers_as_recorded_with_no_server_a_deny_stays_a_deny_and_a_pending_stays_pending(self):
        key = support.unique("rep")
        self.record_a_run(key)
        c = self.offline()
        d = c.check("email.send", {"to": "ops-team"})
        self.assertTrue(d.allowed)
        c.report(d, "completed", duration_ms=3)  # nowhere to report to: nothing happens
        self.assertTrue(c.check("database.drop", {"table": "users"}).denied)
        with self.assertRaises(ActionDenied):
            c.permit("database.drop", {"table": "users"}, key + "-drop")
        # Waiting changes nothing: the recording holds a pending, not a decision.
        with self.assertRaises(ActionPending):
            c.permit("deploy.web", {"v": 2}, key, wait=True)
        with self.assertRaises(HoldpointError) as cm:
            c.get_approval_by_key(key)
        self.assertEqual(cm.exception.code, "replay_offline")

    def test_a_call_the_recording_does_not_hold_diverges_instead_of_allowing(self):
        key = support.unique("div")
        self.record_a_run(key)
        c = self.offline()
        with self.assertRaises(ReplayDivergence) as cm:
            c.check("database.drop", {"table": "orders"})  # recorded with other params: was a deny
        self.assertEqual(cm.exception.reason, "params_differ")
        with self.assertRaises(ReplayDivergenceError) as cm:
            c.permit("email.send", {}, "never-recorded")
        self.assertEqual(cm.exception.details["reason"], "no_recording")
        c.check("email.send", {"to": "ops-team"})
        with self.assertRaises(ReplayDivergence) as cm:
            c.check("email.send", {"to": "ops-team"})  # one more than was recorded
        self.assertEqual(cm.exception.details["seq"], 1)

    def test_an_approved_action_replays_as_the_claimed_permit_it_was(self):
        key = support.unique("claimed")
        rec = client(replay=record_to(self.path))
        with self.assertRaises(ActionPending):
            rec.permit("deploy.db", {"v": 3}, key)
        hp.decide(hp.wait_parked(key)["id"], "approve")
        with rec.guard("deploy.db", {"v": 3}, key) as permit:
            permit.result = "done"
        # The run replays as it went: first pending, then (the second call with that key) the claimed permit.
        off = self.offline()
        with self.assertRaises(ActionPending):
            off.permit("deploy.db", {"v": 3}, key)
        with off.guard("deploy.db", {"v": 3}, key) as replayed:
            self.assertEqual(replayed.approver, "alice")
            self.assertEqual(replayed.approval_id, permit.approval_id)
        self.assertTrue(replayed.reported)

    def test_an_answer_the_sdk_did_not_write_is_refused_never_read_as_an_allow(self):
        self.record_a_run(support.unique("forged"))
        with open(self.path) as f:
            lines = [json.loads(line) for line in f]
        lines[2]["answer"] = {"permit": {"kind": "approved-by-me", "params": {}}}
        with open(self.path, "w") as f:
            f.write("".join(json.dumps(e) + "\n" for e in lines))
        with self.assertRaises(HoldpointError) as cm:
            self.offline().permit("database.drop", {"table": "users"}, lines[2]["idempotency_key"])
        self.assertEqual(cm.exception.code, "replay_file_invalid")

    def test_the_async_client_replays_the_same_file(self):
        key = support.unique("async")
        self.record_a_run(key)

        async def run():
            async with AsyncHoldpointClient(base_url=closed_port(), agent_id="py-parity", replay={"mode": "replay", "path": self.path}) as c:
                self.assertTrue((await c.check("database.drop", {"table": "users"})).denied)
                with self.assertRaises(ActionPending):
                    await c.permit("deploy.web", {"v": 2}, key)

        asyncio.run(run())

    def test_a_bad_mode_or_a_missing_file_says_so(self):
        with self.assertRaises(HoldpointError) as cm:
            HoldpointClient("k", replay=Replay("rewind", self.path))
        self.assertEqual(cm.exception.code, "config_invalid")
        with self.assertRaises(HoldpointError) as cm:
            self.offline().check("email.send")
        self.assertEqual(cm.exception.code, "replay_file_missing")


if __name__ == "__main__":
    unittest.main()
