"""A payment agent that asks before it pays: a small invoice is allowed at
once, a big one waits for a human (with examples/policy.yaml: payments over
1000 need approval). Each payment runs in a ``with client.guard(...)`` block,
which reports it for you, so the audit trail shows what was actually paid.

    HOLDPOINT_API_KEY=<agent key> python3 examples/python/payment_agent.py

Env: HOLDPOINT_URL (default http://localhost:8080), HOLDPOINT_API_KEY (an
agent key), WAIT_SECONDS (how long to wait for a human, default 600).
"""
import os
import sys
import uuid

try:
    import holdpoint  # noqa: F401  (installed: pip install ./clients/python)
except ImportError:  # from a checkout, without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python", "src"))

from holdpoint import (  # noqa: E402
    ActionDenied,
    ActionPending,
    ActionRejected,
    ActionTimeout,
    HoldpointClient,
    HoldpointError,
)

base_url = os.environ.get("HOLDPOINT_URL", "http://localhost:8080")
api_key = os.environ.get("HOLDPOINT_API_KEY")
if not api_key:
    print("set HOLDPOINT_API_KEY to an agent key (holdpoint tenant create prints one)", file=sys.stderr)
    sys.exit(2)
wait_s = float(os.environ.get("WAIT_SECONDS", "600"))
client = HoldpointClient(api_key, base_url=base_url, agent_id="billing-bot")

# One id per run, so a second run asks again instead of replaying the first
# run's decisions (a real agent keys on the invoice id alone: retries of the
# same invoice must be the same request).
run = uuid.uuid4().hex[:8]
invoices = [
    {"id": "inv-1000", "to": "acct_7", "amount": 20},
    {"id": "inv-1001", "to": "acct_42", "amount": 5000},
]


def bank_transfer(to: str, amount: int) -> dict:
    """Stands in for the bank."""
    return {"payment_id": f"pay_{uuid.uuid4().hex[:8]}", "to": to, "amount": amount}


def transfer(invoice: dict, permit) -> None:
    """The guarded work. The permit's params are what the decision was made on: pay exactly those."""
    receipt = bank_transfer(permit.params["to"], permit.params["amount"])
    permit.result = receipt  # leaving the block completes the permit with this; an exception fails it
    how = f"approved by {permit.approver}" if permit.approver else "allowed by policy"
    print(f"{invoice['id']}: paid {invoice['amount']} to {invoice['to']} ({how}) — {receipt['payment_id']}", flush=True)


def pay(invoice: dict) -> None:
    key = f"{invoice['id']}-{run}"
    params = {"to": invoice["to"], "amount": invoice["amount"]}
    try:
        try:
            with client.guard("payment.send", params, key) as permit:
                transfer(invoice, permit)
        except ActionPending as err:
            # Parked: say where, then block on the same key until someone decides.
            print(f"{invoice['id']}: {invoice['amount']} to {invoice['to']} needs approval — approval {err.approval_id}, waiting up to {wait_s:g} s", flush=True)
            print(f"  approve it in Slack, or: curl -X POST {base_url}/v1/approvals/{err.approval_id}/decision -H \"Authorization: Bearer $APPROVER\" \\", flush=True)
            print("    -H 'Content-Type: application/json' -d '{\"decision\":\"approve\"}'", flush=True)
            with client.guard("payment.send", params, key, wait=wait_s) as permit:
                transfer(invoice, permit)
    except ActionRejected as err:
        print(f"{invoice['id']}: not paid — rejected by {err.rejected_by}{': ' + err.reason if err.reason else ''}")
    except ActionDenied as err:
        print(f"{invoice['id']}: not paid — denied: {'; '.join(r.get('message', '') for r in err.reasons)}")
    except ActionTimeout as err:
        print(f"{invoice['id']}: not paid — nobody decided by {err.expires_at}")
    except ActionPending as err:
        print(f"{invoice['id']}: still waiting for approval {err.approval_id}; run again later")


try:
    for invoice in invoices:
        pay(invoice)
except HoldpointError as err:
    print(f"payment agent failed: {err.code}: {err}", file=sys.stderr)
    sys.exit(1)
