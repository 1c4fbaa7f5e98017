# 000_… "Async", verbatim but for the import line (see README.md).
from holdpoint.compat.haltstate import AsyncHaltStateClient

import asyncio  # driver


async def main():
    async with AsyncHaltStateClient(tenant_id="acme", api_key="janus_xxx") as client:
        res = await client.check("database.drop", params={"table": "users"})
        if res.allowed:
            await client.report(res, status="success", action="database.drop", agent_id="ops-bot")


asyncio.run(main())  # driver
print("main() returned")  # driver
