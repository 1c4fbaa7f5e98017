# 000_… "Quickstart (sync)", verbatim but for the import line (see README.md).
from holdpoint.compat.haltstate import HaltStateClient


def process_payment(*args, **kwargs):  # stand-in
    print("process_payment called")  # stand-in


client = HaltStateClient(tenant_id="your_tenant_id", api_key="janus_xyz", fail_open=False)

decision = client.check(
    action="payment.process",
    params={"amount": 5000, "currency": "USD"},
    agent_id="payment-bot-01",
)

if decision.allowed:
    process_payment(...)
    client.report(decision, status="success", result={"transaction_id": "tx_123"}, action="payment.process", agent_id="payment-bot-01")
elif decision.requires_approval:
    print(f"Approval required: {decision.reason}")
else:
    print(f"Action denied: {decision.reason}")
