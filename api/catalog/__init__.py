"""Catalog endpoints: items, customers and events."""

from api.catalog.customers import blp as customers
from api.catalog.events import blp as events
from api.catalog.items import blp as items

__all__ = ["customers", "events", "items"]
