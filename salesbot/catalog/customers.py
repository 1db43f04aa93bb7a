"""Customers of the store: create or replace, read and delete."""

from __future__ import annotations

from typing import Any

from models import Customer
from salesbot.catalog.rules import check_id
from salesbot.database import UnitOfWork
from salesbot.errors import NotFound


def put(*, uow: UnitOfWork, customer_id: str, **values: Any) -> Customer:
    """Create the customer or replace every field of it (PUT semantics: omitted fields reset)."""
    check_id("customer_id", customer_id)
    values = {"segment": None, "country": None, "email": None, "attributes": {}} | values
    if values["country"]:
        values["country"] = values["country"].upper()
    if values["email"]:
        values["email"] = values["email"].lower()
    with uow:
        customer = uow.session.get(Customer, customer_id) or Customer(customer_id=customer_id)
        for name, value in values.items():
            setattr(customer, name, value)
        uow.session.add(customer)
        uow.commit()
        return customer


def get(*, uow: UnitOfWork, customer_id: str) -> Customer:
    with uow:
        customer = uow.session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"no customer {customer_id!r}")
        return customer


def delete(*, uow: UnitOfWork, customer_id: str) -> None:
    with uow:
        customer = uow.session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"no customer {customer_id!r}")
        uow.session.delete(customer)
        uow.commit()
