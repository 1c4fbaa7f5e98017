# 000_… "Guard Pattern (SDK 0.5.0+)", verbatim but for the import line (see README.md).
from holdpoint.compat.haltstate import AsyncHaltStateClient, ActionPending, ActionRejected

import asyncio  # driver
import sys  # driver


async def execute_payment(amount):  # stand-in
    print(f"execute_payment({amount})")  # stand-in
    return {"paid": amount}  # stand-in


async def process_high_value_payment(invoice_id: str, amount: float):
    client = AsyncHaltStateClient(tenant_id="acme", api_key="janus_xxx")

    try:
        async with client.guard(
            action="payment.process",
            agent_id="payment-bot",
            params={"invoice_id": invoice_id, "amount": amount},
            idempotency_key=f"payment-{invoice_id}",  # Retry-safe
            timeout_seconds=300
        ) as permit:
            # Only executes after human approval
            result = await execute_payment(amount)
            print(f"Approved by {permit.approver} at {permit.approved_at}")
            return result

    except ActionPending:
        print("Awaiting human approval...")
        return {"status": "pending"}

    except ActionRejected as e:
        print(f"Rejected by {e.rejected_by}: {e.reason}")
        raise


print(asyncio.run(process_high_value_payment(sys.argv[1], float(sys.argv[2]))))  # driver
