"""A tiny inventory library used by agenthost's example specs."""

from inventory.items import Item, load_items
from inventory.report import summary

__all__ = ["Item", "load_items", "summary"]
