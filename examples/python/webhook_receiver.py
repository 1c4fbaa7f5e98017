"""A webhook receiver on the standard library's http.server: verifies every
delivery with holdpoint.verify_webhook (Standard Webhooks: HMAC-SHA256,
several signatures during a secret rotation, 5-minute tolerance), answers 400
to anything forged, dedupes on webhook-id (retries reuse it) and prints what
arrived.

    WEBHOOK_SECRET=whsec_... python3 examples/python/webhook_receiver.py   (listens on :9000)

Point Holdpoint at it with a guard's callback_url (http://127.0.0.1:9000/hook)
or a tenant webhook endpoint; for a receiver on a private address the server
needs HOLDPOINT_WEBHOOK_ALLOW_PRIVATE=true.
"""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import holdpoint  # noqa: F401  (installed: pip install ./clients/python)
except ImportError:  # from a checkout, without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python", "src"))

from holdpoint import HoldpointError, verify_webhook  # noqa: E402

secret = os.environ.get("WEBHOOK_SECRET", "")
if not secret.startswith("whsec_"):
    print("set WEBHOOK_SECRET to the tenant webhook secret (whsec_...)", file=sys.stderr)
    sys.exit(2)
port = int(os.environ.get("PORT", "9000"))
seen = set()


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            # The raw bytes, exactly as received: verify before parsing anything.
            event = verify_webhook(self.headers, raw, secret)
        except HoldpointError as err:
            print(f"rejected a delivery: {err}", flush=True)
            self.send_response(400)
            self.end_headers()
            return
        delivery = self.headers["webhook-id"]
        dup = delivery in seen
        seen.add(delivery)
        data = event.get("data") or {}
        print(f"{'(duplicate) ' if dup else ''}{event.get('type')}  approval={data.get('id')}  status={data.get('status')}  by={data.get('decided_by') or '-'}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass  # one line per delivery, above, is enough


server = ThreadingHTTPServer(("127.0.0.1", port), Hook)
print(f"listening on http://127.0.0.1:{port}/hook", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
