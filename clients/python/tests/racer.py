"""One of two processes racing for one permit (test_race.py): both wait on
the same idempotency key; once approved, only the one whose claim wins may run
the block. Prints RAN or CLAIMED; the block appends a line to RACE_LOG."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from holdpoint import ActionClaimed, HoldpointClient  # noqa: E402

client = HoldpointClient(os.environ["HOLDPOINT_API_KEY"], base_url=os.environ["HOLDPOINT_URL"], agent_id="racer")
print("ASKING", flush=True)
try:
    with client.guard("payment.send", {"amount": 9000, "to": "acct_race"}, os.environ["RACE_KEY"], wait=60) as permit:
        with open(os.environ["RACE_LOG"], "a") as log:
            log.write(f"{os.getpid()}\n")
        permit.result = {"ran_in": os.getpid()}
    print("RAN", flush=True)
except ActionClaimed as err:
    print(f"CLAIMED {err.approval_status}", flush=True)
