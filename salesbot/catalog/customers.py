"""Customers of the store: create or replace (one or many), read and delete."""

from __future__ import annotations

import re
from typing import Any

from models import Customer
from salesbot.catalog import rules
from salesbot.catalog.rows import (
    RowProblem,
    Upserts,
    attributes,
    identifier,
    optional_text,
)
from salesbot.catalog.rules import check_id
from salesbot.database import UnitOfWork
from salesbot.errors import NotFound

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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


def exists(*, uow: UnitOfWork, customer_id: str) -> bool:
    with uow:
        return uow.session.get(Customer, customer_id) is not None


def delete(*, uow: UnitOfWork, customer_id: str) -> None:
    with uow:
        customer = uow.session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"no customer {customer_id!r}")
        uow.session.delete(customer)
        uow.commit()


def clean_row(row: dict[str, Any]) -> dict[str, Any]:
    """One customer's checked values from a loosely typed row; `RowProblem` says what is wrong."""
    country = optional_text(row, "country", longest=100)
    if country is not None and (code := rules.country_code(country)) is None:
        raise RowProblem(f"country {country!r} is not a country (use an ISO 3166 code or an English name)")
    email = optional_text(row, "email", longest=320)
    if email is not None and not EMAIL.match(email):
        raise RowProblem(f"email {email!r} is not an e-mail address")
    return {
        "customer_id": identifier(row, "customer_id"),
        "segment": optional_text(row, "segment", longest=100),
        "country": country and code,
        "email": email and email.lower(),
        "attributes": attributes(row),
    }


rows = Upserts(table=Customer.__table__, key="customer_id", clean_row=clean_row)
