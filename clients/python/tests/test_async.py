"""AsyncHoldpointClient against a real `holdpoint start`: the same flows as
the blocking client (allow, deny, pending, approve and reject while waiting,
timeout, one approval per key, redacted params, the decorator), plus
cancelling a wait."""
import asyncio
import time
import unittest

import support
from holdpoint import (
    ActionDenied,
    ActionPending,
    ActionRejected,
    ActionTimeout,
    AsyncHoldpointClient,
    HoldpointClient,
    InvalidRequest,
    holdpoint_guard,
)

hp: support.Server


def setUpModule():
    global hp
    hp = support.shared()


def client(**kw) -> AsyncHoldpointClient:
    return AsyncHoldpointClient(hp.keys["agent"], base_url=hp.base, agent_id="py-async", **kw)


async def parked(key: str):
    return await asyncio.to_thread(hp.wait_parked, key)


async def decide(*args):
    return await asyncio.to_thread(hp.decide, *args)


class AsyncFlows(unittest.IsolatedAsyncioTestCase):
    async def test_check_and_report(self):
        async with client() as c:
            ok = await c.check("payment.send", {"amount": 20})
            self.assertTrue(ok.allowed)
            self.assertTrue((await c.check("database.drop")).denied)
            ask = await c.check("payment.send", {"amount": 5000})
            self.assertEqual((ask.requires_approval, ask.reason), (True, "Payments over 1000 need a human"))
            await c.report(ok, "completed", result={"payment_id": "pay_a"})
        rec = await asyncio.to_thread(hp.decision, "payment.send", ok.decision_id)
        self.assertEqual((rec["report_status"], rec["report_result"]), ("completed", {"payment_id": "pay_a"}))

    async def test_allowed_runs_denied_and_pending_do_not_and_one_key_is_one_approval(self):
        c = client()
        async with c.guard("payment.send", {"amount": 20}, support.unique("a-allow")) as permit:
            permit.result = {"ok": 1}
        self.assertTrue(permit.reported)
        ran = []
        with self.assertRaises(ActionDenied):
            async with c.guard("database.drop", {}, support.unique("a-deny")):
                ran.append(1)
        key = support.unique("a-pending")
        ids = set()
        for _ in range(2):
            with self.assertRaises(ActionPending) as cm:
                async with c.guard("payment.send", {"amount": 5000}, key):
                    ran.append(1)
            ids.add(cm.exception.approval_id)
        self.assertEqual(ran, [])
        self.assertEqual(len(ids), 1)

    async def test_approve_while_waiting_runs_the_block_once_and_completes(self):
        key = support.unique("a-approve")
        ran = []

        async def agent():
            async with client().guard("payment.send", {"amount": 5000}, key, wait=60) as permit:
                ran.append(permit.params)
                permit.result = {"payment_id": "pay_async"}
            return permit

        task = asyncio.create_task(agent())
        a = await parked(key)
        await asyncio.sleep(0.3)
        self.assertEqual(ran, [])
        await decide(a["id"], "approve", "alice")
        permit = await asyncio.wait_for(task, 30)
        self.assertEqual((permit.approver, ran), ("alice", [{"amount": 5000}]))
        done = await asyncio.to_thread(hp.approval, a["id"])
        self.assertEqual((done["status"], done["result"]), ("completed", {"payment_id": "pay_async"}))

    async def test_reject_while_waiting_raises_action_rejected(self):
        key = support.unique("a-reject")
        task = asyncio.create_task(client().permit("payment.send", {"amount": 6000}, key, wait=60))
        a = await parked(key)
        await decide(a["id"], "reject", "bob", "duplicate invoice")
        with self.assertRaises(ActionRejected) as cm:
            await asyncio.wait_for(task, 30)
        self.assertEqual((cm.exception.rejected_by, cm.exception.reason), ("bob", "duplicate invoice"))

    async def test_no_decision_by_the_deadline_raises_action_timeout(self):
        with self.assertRaises(ActionTimeout):
            async with client().guard("quick.fix", {"n": 2}, support.unique("a-quick"), wait=True):
                self.fail("the block must not run")

    async def test_redacted_params_reach_the_block(self):
        async with client().guard("email.send", {"to": "jane@example.com"}, support.unique("a-redact")) as permit:
            self.assertEqual((permit.params, permit.modified), ({"to": "[REDACTED:email]"}, True))

    async def test_cancelling_a_wait_stops_it_at_once_and_leaves_the_approval_pending(self):
        key = support.unique("a-cancel")
        task = asyncio.create_task(client().permit("deploy.api", {}, key, wait=60))
        a = await parked(key)
        await asyncio.sleep(0.3)
        started = time.monotonic()
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        self.assertLess(time.monotonic() - started, 2)
        self.assertEqual((await asyncio.to_thread(hp.approval, a["id"]))["status"], "pending")

    async def test_invalid_params_raise_before_anything_is_sent(self):
        key = support.unique("a-nan")
        with self.assertRaises(InvalidRequest):
            await client(fail_open=True).permit("payment.send", {"amount": float("inf")}, key)
        self.assertIsNone(await asyncio.to_thread(hp.approval_by_key, key))

    async def test_the_decorator_guards_an_async_function(self):
        calls = []

        @holdpoint_guard(client(), action="email.send", idempotency_key=lambda to, subject: support.unique("a-dec"))
        async def send(to, subject):
            calls.append(to)
            return "sent"

        self.assertEqual(await send("jane@example.com", "hi"), "sent")
        self.assertEqual(calls, ["[REDACTED:email]"])
        with self.assertRaises(TypeError):
            holdpoint_guard(HoldpointClient(hp.keys["agent"], base_url=hp.base), action="x", idempotency_key=str)(send.__wrapped__)


if __name__ == "__main__":
    unittest.main()
