"""Two processes retrying one idempotency key: both wait, a human approves
once, and the block runs in exactly one of them (the permit claims before the
block runs); the other gets ActionClaimed."""
import os
import subprocess
import sys
import tempfile
import time
import unittest

import support

hp: support.Server


def setUpModule():
    global hp
    hp = support.shared()


class Race(unittest.TestCase):
    def test_two_processes_waiting_on_one_key_run_the_block_once(self):
        key = support.unique("race")
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, "ran.log")
            env = {**os.environ, "HOLDPOINT_URL": hp.base, "HOLDPOINT_API_KEY": hp.keys["agent"], "RACE_KEY": key, "RACE_LOG": log}
            racer = os.path.join(support.HERE, "racer.py")
            procs = [subprocess.Popen([sys.executable, racer], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
            try:
                # Both have started asking before anyone decides, so both are waiting on the key.
                self.assertEqual([p.stdout.readline().strip() for p in procs], ["ASKING", "ASKING"])
                a = hp.wait_parked(key)
                time.sleep(1.0)
                self.assertTrue(all(p.poll() is None for p in procs), "both racers must still be waiting")
                hp.decide(a["id"], "approve", "alice")
                outs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
            self.assertEqual([p.returncode for p in procs], [0, 0], outs)
            self.assertEqual(outs[1], "RAN")
            self.assertRegex(outs[0], r"^CLAIMED (executing|completed)$")
            with open(log) as f:
                self.assertEqual(len(f.read().split()), 1)
        done = hp.approval(a["id"])
        self.assertEqual(done["status"], "completed")
        self.assertIn("ran_in", done["result"])


if __name__ == "__main__":
    unittest.main()
