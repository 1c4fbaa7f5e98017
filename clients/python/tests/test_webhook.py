"""verify_webhook against the vectors the TypeScript SDK is tested on
(test/vectors/webhooks.json, run by test/unit/webhook-vectors.test.ts)."""
import email.message
import json
import os
import unittest

import support
from holdpoint import HoldpointError, verify_webhook

with open(os.path.join(support.ROOT, "test", "vectors", "webhooks.json"), encoding="utf-8") as f:
    VECTORS = json.load(f)["vectors"]
SPEC = VECTORS[0]


class VectorsTest(unittest.TestCase):
    def test_every_shared_vector_is_accepted_or_refused_as_the_typescript_sdk_does(self):
        self.assertGreater(len(VECTORS), 10)
        for v in VECTORS:
            with self.subTest(v["name"]):
                if v["valid"]:
                    self.assertEqual(verify_webhook(v["headers"], v["body"], v["secret"], now=v["now"]), v["event"])
                else:
                    with self.assertRaises(HoldpointError) as cm:
                        verify_webhook(v["headers"], v["body"], v["secret"], now=v["now"])
                    self.assertEqual(cm.exception.code, "invalid_signature")

    def test_the_body_may_be_bytes_and_the_headers_an_http_message(self):
        msg = email.message.Message()
        for k, val in SPEC["headers"].items():
            msg[k] = val
        self.assertEqual(verify_webhook(msg, SPEC["body"].encode(), SPEC["secret"], now=SPEC["now"]), SPEC["event"])
        self.assertEqual(verify_webhook(list(SPEC["headers"].items()), bytearray(SPEC["body"].encode()), SPEC["secret"], now=SPEC["now"]), SPEC["event"])

    def test_the_real_clock_refuses_the_old_spec_vector_for_its_timestamp(self):
        with self.assertRaises(HoldpointError) as cm:
            verify_webhook(SPEC["headers"], SPEC["body"], SPEC["secret"])
        self.assertIn("timestamp", cm.exception.message)

    def test_a_secret_that_is_not_base64_says_so(self):
        with self.assertRaises(HoldpointError) as cm:
            verify_webhook(SPEC["headers"], SPEC["body"], "whsec_not base64!", now=SPEC["now"])
        self.assertIn("not base64", cm.exception.message)


if __name__ == "__main__":
    unittest.main()
