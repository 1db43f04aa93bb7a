"""Catalog endpoints: items and customers."""

from api.catalog.customers import blp as customers
from api.catalog.items import blp as items

__all__ = ["customers", "items"]
