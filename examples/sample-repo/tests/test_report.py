import unittest

from inventory import load_items, summary


class SummaryTest(unittest.TestCase):
    def test_totals_quantities(self):
        items = load_items([("A1", "bolt", 3), ("B2", "nut", "4")])
        self.assertTrue(summary(items).endswith("    7"))

    def test_default_status_is_active(self):
        (item,) = load_items([("A1", "bolt", 3)])
        self.assertEqual(item.status, "active")


if __name__ == "__main__":
    unittest.main()
