"""client.usage() (sync and async) against a real `holdpoint start`: what
guarded calls cost shows up for their session and their run — spent once
reported, held while not — as AgentSentinel's CostTracker session / run
totals, kept by the server."""
import asyncio
import unittest
from datetime import datetime, timezone

import support
from holdpoint import AsyncHoldpointClient, HoldpointClient, InvalidRequest

hp: support.Server


def setUpModule():
    global hp
    hp = support.shared()


def spend(c: HoldpointClient, agent: str, session: str, run: str) -> None:
    """Five calls in one run. In `session`: $0.50 and $0.25 reported, $1 let through and not reported. In another session: one costing nothing, one $2 reported."""
    ctx = {"session_id": session, "run_id": run}
    with c.guard("usage.chat", {"n": 1}, support.unique("u"), agent_id=agent, context=ctx, cost_usd=0.5):
        pass
    d = c.check("usage.chat", {"n": 2}, agent_id=agent, context=ctx, cost_usd=1)
    c.report(d, "completed", cost_usd=0.25)
    c.permit("usage.chat", {"n": 3}, support.unique("u"), agent_id=agent, context=ctx, cost_usd=1)
    with c.guard("usage.chat", {"n": 4}, support.unique("u"), agent_id=agent, context={"session_id": session + "-b", "run_id": run}):
        pass  # declares no cost: spends nothing
    c.report(c.check("usage.chat", {"n": 5}, agent_id=agent, context={"session_id": session + "-b", "run_id": run}, cost_usd=2), "completed")


class Usage(unittest.TestCase):
    def test_spend_from_guarded_calls_shows_up_for_their_session_and_run(self):
        c = HoldpointClient(hp.keys["agent"], base_url=hp.base)
        agent, session, run = support.unique("usage-bot"), support.unique("S"), support.unique("R")
        spend(c, agent, session, run)
        u = c.usage(agent_id=agent, session_id=session, run_id=run)
        self.assertEqual(u["agent_id"], agent)
        s = u["session"]
        self.assertEqual((s["session_id"], s["calls"], s["allowed"], s["denied"]), (session, 3, 3, 0))
        self.assertEqual((s["spent_usd"], s["held_usd"]), (0.75, 1))
        r = u["run"]
        self.assertEqual((r["run_id"], r["calls"], r["spent_usd"], r["held_usd"]), (run, 5, 2.75, 1))
        self.assertEqual([(a["action"], a["calls"]) for a in u["actions"]["by_action"]], [("usage.chat", 5)])
        # Another agent's session of the same name is not this one's.
        self.assertEqual(c.usage(agent_id=support.unique("nobody"), session_id=session)["session"]["calls"], 0)

    def test_a_naive_datetime_or_an_empty_id_is_refused_before_anything_is_sent(self):
        c = HoldpointClient(hp.keys["agent"], base_url="http://127.0.0.1:9")  # nothing listens there
        with self.assertRaises(InvalidRequest) as cm:
            c.usage(since=datetime(2026, 1, 1))
        self.assertEqual(cm.exception.details["path"], "since")
        with self.assertRaises(InvalidRequest):
            c.usage(run_id="")

    def test_the_server_refuses_a_period_past_366_days(self):
        c = HoldpointClient(hp.keys["agent"], base_url=hp.base)
        with self.assertRaises(InvalidRequest) as cm:
            c.usage(since=datetime(2020, 1, 1, tzinfo=timezone.utc), until="2022-01-01T00:00:00Z")
        self.assertEqual(cm.exception.code, "validation_failed")


class AsyncUsage(unittest.IsolatedAsyncioTestCase):
    async def test_the_async_client_answers_the_same_totals(self):
        agent, session, run = support.unique("usage-abot"), support.unique("S"), support.unique("R")
        await asyncio.to_thread(spend, HoldpointClient(hp.keys["agent"], base_url=hp.base), agent, session, run)
        async with AsyncHoldpointClient(hp.keys["agent"], base_url=hp.base) as c:
            u = await c.usage(agent_id=agent, session_id=session, run_id=run)
            period = await c.usage(since=datetime(2020, 1, 1, tzinfo=timezone.utc), until=datetime(2020, 1, 2, tzinfo=timezone.utc))
        self.assertEqual((u["session"]["spent_usd"], u["session"]["held_usd"]), (0.75, 1))
        self.assertEqual((u["run"]["calls"], u["run"]["spent_usd"]), (5, 2.75))
        self.assertEqual((period["actions"]["since"], period["actions"]["calls"]), ("2020-01-01T00:00:00.000Z", 0))


if __name__ == "__main__":
    unittest.main()
