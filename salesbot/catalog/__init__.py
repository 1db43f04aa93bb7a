"""Catalog: the store's items and customers (and, later, what customers did)."""
