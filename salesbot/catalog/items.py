"""Items the store sells: create or replace (one or many), read, list and delete."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from models import Item
from salesbot.catalog import events, rules
from salesbot.catalog.pages import Page, decode_cursor, page_of
from salesbot.catalog.rows import (
    Upserts,
    attributes,
    boolean,
    checked,
    decimal,
    identifier,
    optional_text,
    required_text,
)
from salesbot.catalog.rules import check_id
from salesbot.database import UnitOfWork
from salesbot.errors import NotFound


def put(*, uow: UnitOfWork, item_id: str, **values: Any) -> Item:
    """Create the item or replace every field of it (PUT semantics: omitted fields reset)."""
    check_id("item_id", item_id)
    values = {"description": "", "category": None, "brand": None, "in_stock": True, "attributes": {}} | values
    values["price"] = Decimal(values["price"])
    values["currency"] = values["currency"].upper()
    with uow:
        item = uow.session.get(Item, item_id) or Item(item_id=item_id)
        for name, value in values.items():
            setattr(item, name, value)
        uow.session.add(item)
        uow.commit()
        return item


def get(*, uow: UnitOfWork, item_id: str) -> Item:
    with uow:
        item = uow.session.get(Item, item_id)
        if item is None:
            raise NotFound(f"no item {item_id!r}")
        return item


@dataclass(frozen=True)
class Described:
    """An item and how many events of each type it has had."""

    item: Item
    counts: dict[str, int]


def describe(*, uow: UnitOfWork, item_id: str, event_types: Iterable[str]) -> Described:
    item = get(uow=uow, item_id=item_id)
    counts = events.counts_for_item(uow=uow, item_id=item_id)
    return Described(item=item, counts={event_type: counts.get(event_type, 0) for event_type in event_types})


def get_page(
    *,
    uow: UnitOfWork,
    page_size: int,
    cursor: str | None = None,
    category: str | None = None,
    in_stock: bool | None = None,
) -> Page[Item]:
    """Items ordered by id, `page_size` at a time, optionally filtered."""
    query = select(Item).order_by(Item.item_id).limit(page_size + 1)
    if cursor:
        query = query.where(Item.item_id > decode_cursor(cursor))
    if category is not None:
        query = query.where(Item.category == category)
    if in_stock is not None:
        query = query.where(Item.in_stock.is_(in_stock))
    with uow:
        rows = list(uow.session.scalars(query))
    return page_of(rows, page_size, lambda item: item.item_id)


def delete(*, uow: UnitOfWork, item_id: str) -> None:
    with uow:
        item = uow.session.get(Item, item_id)
        if item is None:
            raise NotFound(f"no item {item_id!r}")
        uow.session.delete(item)
        uow.commit()


def clean_row(row: dict[str, Any]) -> dict[str, Any]:
    """One item's checked values from a loosely typed row; `RowProblem` says what is wrong."""
    currency = required_text(row, "currency", longest=16).upper()
    return {
        "item_id": identifier(row, "item_id"),
        "title": required_text(row, "title", longest=500),
        "description": optional_text(row, "description", longest=20_000) or "",
        "category": optional_text(row, "category", longest=200),
        "brand": optional_text(row, "brand", longest=200),
        "price": decimal(row, "price"),
        "currency": checked("currency", currency, rules.currency_problem),
        "in_stock": boolean(row, "in_stock", default=True),
        "attributes": attributes(row),
    }


rows = Upserts(table=Item.__table__, key="item_id", clean_row=clean_row)
