# 002_… "3. Use the Guard Pattern" (Python), verbatim but for the import line (see README.md).
from holdpoint.compat.haltstate import HaltStateClient, ApprovalPending, ActionDenied
import sys


def delete_user(user_id):  # stand-in
    print(f"delete_user({user_id})")  # stand-in


client = HaltStateClient(
    tenant_id="your-tenant-id",
    api_key="hs_your_api_key"
)

try:
    with client.guard(
        action="database.delete",
        params={"table": "users", "id": 123},
        idempotency_key="delete-user-123"
    ) as permit:
        # This block ONLY executes if approved
        delete_user(123)
        print(f"Approved by: {permit.approver}")

except ApprovalPending as e:
    print(f"Awaiting approval: {e.approval_id}")
    sys.exit(0)

except ActionDenied as e:
    print(f"Action denied: {e}")
    sys.exit(1)
