"""Items the store sells: create or replace, read, list and delete."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from models import Item
from salesbot.catalog.pages import Page, decode_cursor, page_of
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
