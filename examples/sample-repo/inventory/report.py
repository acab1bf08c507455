"""Text reports over a list of items."""


def summary(items):
    """One line per item, then the total quantity."""
    lines = [f"{item.sku:<8} {item.name:<20} {item.quantity:>5}" for item in items]
    total = sum(item.quantity for item in items)
    lines.append(f"{'total':<29} {total:>5}")
    return "\n".join(lines)
