"""The shelf: what the catalog says now (titles, categories, prices, stock) about each item a model knows, in
the model's item order, re-read as the catalog changes, and the business filters that pick from it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from models import Item
from salesbot.database import UnitOfWork

MASKS_KEPT = 256
WHOLE_SHELF_EVERY = 600.0  # seconds
LATE_COMMITS = timedelta(seconds=30)
SHELF_COLUMNS = (Item.item_id, Item.title, Item.category, Item.price, Item.currency, Item.in_stock)
SHELF_NAMES = ["item_id", "title", "category", "price", "currency", "in_stock"]


@dataclass(frozen=True)
class Filters:
    category: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    in_stock: bool = True
    exclude: frozenset[str] = frozenset()
    include_purchased: bool = False
    diversify: int | None = None  # at most this many items per category


@dataclass
class Shelf:
    """What the catalog says now about each item the model knows, in the model's item order."""

    titles: np.ndarray
    categories: np.ndarray
    prices: np.ndarray
    currencies: np.ndarray
    in_stock: np.ndarray
    masks: dict[tuple, np.ndarray] = field(default_factory=dict, repr=False)  # per filter set, built once

    count: int = 0  # catalog rows when read
    as_of: datetime | None = None  # the newest change read
    read_whole_at: float = field(default_factory=time.monotonic)

    @classmethod
    def read(cls, uow: UnitOfWork, item_ids: np.ndarray) -> Shelf:
        with uow:
            count, newest = uow.session.execute(select(func.count(Item.item_id), func.max(Item.updated_at))).one()
            rows = uow.session.execute(select(*SHELF_COLUMNS)).all()
        frame = pd.DataFrame(rows, columns=SHELF_NAMES).set_index("item_id").reindex(pd.Index(item_ids))
        return cls(
            titles=frame.title.fillna("").to_numpy(dtype=object),
            categories=frame.category.to_numpy(dtype=object),
            prices=pd.to_numeric(frame.price, errors="coerce").astype("float64").to_numpy(),
            currencies=frame.currency.fillna("").to_numpy(dtype=object),
            in_stock=frame.in_stock.fillna(False).astype(bool).to_numpy(),  # gone from the catalog: never shown
            count=count,
            as_of=newest,
        )

    def refreshed(self, uow: Callable[[], UnitOfWork], item_ids: np.ndarray, positions: dict[str, int]) -> Shelf:
        """The shelf as the catalog is now, reading only the items changed since; all of it after a deletion."""
        with uow() as work:
            count, newest = work.session.execute(select(func.count(Item.item_id), func.max(Item.updated_at))).one()
            # A deletion and an addition leave the count as it was: the whole catalog is re-read now and then too.
            edits_only = (
                count == self.count
                and self.as_of is not None
                and time.monotonic() - self.read_whole_at < WHOLE_SHELF_EVERY
            )
            if edits_only and newest != self.as_of:
                since = self.as_of - LATE_COMMITS  # rows stamped earlier but committed after the last read
                changed = work.session.execute(select(*SHELF_COLUMNS).where(Item.updated_at >= since)).all()
        if not edits_only:
            return Shelf.read(uow(), item_ids)
        if newest == self.as_of:
            return self
        arrays = {name: getattr(self, name).copy() for name in ("titles", "categories", "prices", "currencies",
                                                                  "in_stock")}  # fmt: skip
        for item_id, title, category, price, currency, in_stock in changed:
            if (at := positions.get(item_id)) is not None:
                arrays["titles"][at], arrays["categories"][at], arrays["currencies"][at] = title, category, currency
                arrays["prices"][at], arrays["in_stock"][at] = float(price), bool(in_stock)
        return Shelf(**arrays, count=count, as_of=newest, read_whole_at=self.read_whole_at)

    def allowed(self, filters: Filters) -> np.ndarray:
        """Items that pass the catalog filters (read-only; shared by the requests that use the same filters)."""
        key = (filters.category, filters.min_price, filters.max_price, filters.in_stock)
        mask = self.masks.get(key)
        if mask is None:  # requests on other threads may clear the cache meanwhile: keep our own reference
            mask = self._allowed(filters)
            mask.flags.writeable = False
            self._keep(key, mask)
        return mask

    def eligible(self, filters: Filters) -> np.ndarray:
        """Positions of the items that pass the catalog filters."""
        key = ("positions", filters.category, filters.min_price, filters.max_price, filters.in_stock)
        positions = self.masks.get(key)
        if positions is None:
            positions = np.flatnonzero(self.allowed(filters))
            self._keep(key, positions)
        return positions

    def _keep(self, key: tuple, value: np.ndarray) -> None:
        if len(self.masks) >= MASKS_KEPT:
            self.masks.clear()
        self.masks[key] = value

    def _allowed(self, filters: Filters) -> np.ndarray:
        mask = ~pd.isna(self.prices)
        if filters.in_stock:
            mask &= self.in_stock
        if filters.category is not None:
            mask &= self.categories == filters.category
        if filters.min_price is not None:
            mask &= self.prices >= filters.min_price
        if filters.max_price is not None:
            mask &= self.prices <= filters.max_price
        return mask
