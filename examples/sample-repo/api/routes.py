"""HTTP routes (not served in the sample; here so specs can fence them off)."""

ROUTES = {
    "/items": "list_items",
    "/items/<sku>": "get_item",
}
