"""Inventory items and how they are loaded."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One line of the inventory."""

    sku: str
    name: str
    quantity: int
    status: str = "active"


def load_items(rows):
    """Builds items from (sku, name, quantity[, status]) tuples."""
    items = []
    for row in rows:
        sku, name, quantity, *rest = row
        status = rest[0] if rest else "active"
        items.append(Item(sku=sku, name=name, quantity=int(quantity), status=status))
    return items
