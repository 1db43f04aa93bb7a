"""The running app's salesbot services, for views to hand to use cases."""

from __future__ import annotations

from flask import current_app

from salesbot.bootstrap import Salesbot
from salesbot.database import UnitOfWork


def salesbot() -> Salesbot:
    return current_app.extensions["salesbot"]


def uow() -> UnitOfWork:
    return salesbot().uow()
