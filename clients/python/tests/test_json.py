"""Params JSON cannot carry faithfully are refused before anything is sent,
with the path to the problem (the TypeScript SDK's jsonSnapshot)."""
import math
import unittest
from datetime import datetime, timezone

import support  # noqa: F401  (puts the package on sys.path)
from holdpoint import InvalidRequest
from holdpoint._json import snapshot


class SnapshotTest(unittest.TestCase):
    def refused(self, value, code="not_serialisable"):
        with self.assertRaises(InvalidRequest) as cm:
            snapshot(value, "params")
        self.assertEqual(cm.exception.code, code)
        return cm.exception

    def test_plain_json_comes_back_equal_and_copied(self):
        v = {"a": [1, 2.5, "x", None, True, {"b": []}]}
        out = snapshot(v)
        self.assertEqual(out, v)
        self.assertIsNot(out["a"], v["a"])

    def test_nan_and_infinities_are_invalid_numbers_with_their_path(self):
        for bad in (math.nan, math.inf, -math.inf):
            err = self.refused({"amount": bad}, "invalid_number")
            self.assertEqual(err.details["path"], "params.amount")

    def test_an_int_a_double_cannot_hold_exactly_is_refused(self):
        self.assertEqual(snapshot({"n": 2**53 - 1}), {"n": 2**53 - 1})
        err = self.refused({"n": [0, 2**53 + 1]}, "invalid_number")
        self.assertEqual(err.details["path"], "params.n.1")

    def test_things_json_has_no_form_for_are_refused(self):
        for bad in ({1, 2}, b"bytes", object(), Exception("x"), complex(1, 2)):
            self.refused({"x": bad})

    def test_a_non_string_key_is_refused_rather_than_renamed(self):
        err = self.refused({"to": {1: "a"}})
        self.assertEqual(err.details["path"], "params.to.1")

    def test_a_cycle_is_refused(self):
        a = {"x": []}
        a["x"].append(a)
        err = self.refused(a)
        self.assertIn("cycle", err.message)

    def test_the_same_object_twice_is_not_a_cycle(self):
        shared = {"k": 1}
        self.assertEqual(snapshot({"a": shared, "b": shared}), {"a": {"k": 1}, "b": {"k": 1}})

    def test_tuples_become_lists_and_datetimes_iso_strings(self):
        when = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
        self.assertEqual(snapshot({"t": (1, 2), "at": when}), {"t": [1, 2], "at": "2026-11-30T08:00:00+00:00"})

    def test_deep_nesting_is_refused(self):
        v: dict = {}
        cur = v
        for _ in range(300):
            cur["n"] = {}
            cur = cur["n"]
        self.refused(v)


if __name__ == "__main__":
    unittest.main()
