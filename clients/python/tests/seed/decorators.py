# 000_… "Decorators", verbatim but for the import line (see README.md).
from holdpoint.compat.haltstate import HaltStateClient, haltstate_guard


class mailer:  # stand-in
    @staticmethod  # stand-in
    def send(to, subject, body):  # stand-in
        print(f"mailer.send to={to} subject={subject}")  # stand-in
        return {"message_id": "msg_1"}  # stand-in


client = HaltStateClient(tenant_id="acme", api_key="janus_xxx")

@haltstate_guard(client, action="email.send", agent_id="email-bot")
def send_email(to, subject, body):
    return mailer.send(to, subject, body)


print(send_email("jane@example.com", "Invoice 1001", "Attached."))  # driver
