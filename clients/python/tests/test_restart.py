"""A guard's wait survives the server dying under it: the real `holdpoint
start` is SIGKILLed while a blocking and an async guard long-poll, restarted
on the same port, the approvals are decided, and the same guard calls run
their blocks."""
import asyncio
import logging
import threading
import time
import unittest

import support
from holdpoint import AsyncHoldpointClient, HoldpointClient

hp: support.Server


def setUpModule():
    global hp
    hp = support.shared()


class FailedPolls(logging.Handler):
    """Counts the SDK's own word that a long-poll failed and it kept waiting."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.by_key = {}

    def emit(self, record):
        msg = record.getMessage()
        if "long-poll for" in msg and "failed, waiting on" in msg:
            key = msg.split("long-poll for ", 1)[1].split(" failed", 1)[0]
            self.by_key[key] = self.by_key.get(key, 0) + 1


class Restart(unittest.TestCase):
    def test_sigkill_and_restart_mid_wait_then_approve_completes_both_waits(self):
        polls = FailedPolls()
        logger = logging.getLogger("holdpoint")
        logger.addHandler(polls)
        logger.setLevel(logging.INFO)
        self.addCleanup(logger.removeHandler, polls)

        sync_key, async_key = support.unique("crash-sync"), support.unique("crash-async")
        out = {}

        def sync_agent():
            c = HoldpointClient(hp.keys["agent"], base_url=hp.base, agent_id="crash-bot", retries=1)
            try:
                with c.guard("payment.send", {"amount": 5000}, sync_key, wait=90) as permit:
                    permit.result = {"payment_id": "pay_after_crash"}
                out["sync"] = permit
            except BaseException as err:  # noqa: BLE001
                out["sync"] = err

        def async_agent():
            async def run():
                c = AsyncHoldpointClient(hp.keys["agent"], base_url=hp.base, agent_id="crash-bot", retries=1)
                async with c.guard("payment.send", {"amount": 6000}, async_key, wait=90) as permit:
                    permit.result = {"payment_id": "pay_after_crash_async"}
                return permit

            try:
                out["async"] = asyncio.run(run())
            except BaseException as err:  # noqa: BLE001
                out["async"] = err

        threads = [threading.Thread(target=f, daemon=True) for f in (sync_agent, async_agent)]
        for t in threads:
            t.start()
        a_sync, a_async = hp.wait_parked(sync_key), hp.wait_parked(async_key)
        time.sleep(0.5)

        self.assertEqual(hp.kill(), -9)
        support.wait_for(lambda: polls.by_key.get(sync_key) and polls.by_key.get(async_key), 15, "both waits to feel the crash")
        time.sleep(1.0)
        self.assertTrue(all(t.is_alive() for t in threads), "the waits must outlive the server")
        hp.start()

        hp.decide(a_sync["id"], "approve", "alice", "after the crash")
        hp.decide(a_async["id"], "approve", "bob")
        for t in threads:
            t.join(60)
        self.assertEqual(out["sync"].approver, "alice", out)
        self.assertEqual(out["async"].approver, "bob", out)
        self.assertEqual(hp.approval(a_sync["id"])["result"], {"payment_id": "pay_after_crash"})
        self.assertEqual(hp.approval(a_async["id"])["status"], "completed")


if __name__ == "__main__":
    unittest.main()
