"""Reps as people: who they are, what they can take, the API key they sign in with, and whether they are there."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

import pycountry
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models import ApiKey, Rep
from salesbot.access import keys
from salesbot.access.roles import Role
from salesbot.database import UnitOfWork
from salesbot.errors import Conflict, InvalidInput, NotFound

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PRESENCES = ("online", "away")
LONGEST_LABEL = 100


def create(
    *,
    uow: UnitOfWork,
    name: str,
    email: str,
    teams: Iterable[str] = (),
    languages: Iterable[str] = (),
    categories: Iterable[str] = (),
    capacity: int = 3,
) -> tuple[Rep, str]:
    """A new rep and the secret of a new `rep` key that belongs to them; the secret cannot be shown again."""
    rep = Rep(
        id="rp_" + secrets.token_hex(6),
        name=_name(name),
        email=_email(email),
        teams=_labels("teams", teams),
        languages=_languages(languages),
        categories=_labels("categories", categories),
        capacity=_capacity(capacity),
        presence="away",
    )
    _refuse_used_email(uow, rep.email)
    key, secret = keys.create(uow=uow, role=Role.REP.value, name=rep.name[:120])
    try:
        _store(uow, rep, key.id)
    except IntegrityError:  # another rep took the address meanwhile: their key must not work for anyone
        keys.revoke(uow=uow, key_id=key.id)
        raise Conflict(f"email: {rep.email} is already used by another rep") from None
    return rep, secret


def get(*, uow: UnitOfWork, rep_id: str) -> Rep:
    with uow:
        rep = uow.session.get(Rep, rep_id)
    if rep is None:
        raise NotFound(f"no rep {rep_id!r}")
    return rep


def get_all(*, uow: UnitOfWork) -> list[Rep]:
    with uow:
        return list(uow.session.scalars(select(Rep).order_by(Rep.created_at, Rep.id)))


def for_key(*, uow: UnitOfWork, key_id: str) -> Rep | None:
    """The rep an API key belongs to; None for keys of nobody in particular."""
    with uow:
        return uow.session.scalar(select(Rep).join(ApiKey, ApiKey.rep_id == Rep.id).where(ApiKey.id == key_id))


def set_presence(*, uow: UnitOfWork, rep_id: str, status: str, now: datetime) -> Rep:
    if status not in PRESENCES:
        raise InvalidInput.for_field("status", f"must be `online` or `away`, not {status!r}")
    with uow:
        rep = uow.session.get(Rep, rep_id)
        if rep is None:
            raise NotFound(f"no rep {rep_id!r}")
        rep.presence, rep.seen_at = status, now
        uow.commit()
        return rep


def heard_from(*, uow: UnitOfWork, rep_id: str, now: datetime) -> None:
    """The rep's console is alive: their presence does not expire yet."""
    with uow:
        updated = uow.session.execute(update(Rep).where(Rep.id == rep_id).values(seen_at=now))
        uow.commit()
    if updated.rowcount == 0:
        raise NotFound(f"no rep {rep_id!r}")


def is_online(rep: Rep, *, now: datetime, presence_seconds: float) -> bool:
    """Online, and their console was heard from recently enough to believe it."""
    if rep.presence != "online" or rep.seen_at is None:
        return False
    return now - rep.seen_at <= timedelta(seconds=presence_seconds)


def _store(uow: UnitOfWork, rep: Rep, key_id: str) -> None:
    with uow:
        uow.session.add(rep)
        uow.session.flush()  # the rep first: the key may only point at a rep that exists
        uow.session.execute(update(ApiKey).where(ApiKey.id == key_id).values(rep_id=rep.id))
        uow.commit()


def _refuse_used_email(uow: UnitOfWork, email: str) -> None:
    with uow:
        used_by = uow.session.scalar(select(Rep.id).where(Rep.email == email))
    if used_by is not None:
        raise Conflict(f"email: {email} is already used by rep {used_by}")


def _name(name: str) -> str:
    if not name.strip() or len(name.strip()) > 200:
        raise InvalidInput.for_field("name", "must be 1 to 200 characters")
    return name.strip()


def _email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not EMAIL.match(email):
        raise InvalidInput.for_field("email", f"{email!r} is not an e-mail address")
    return email


def _labels(field: str, labels: Iterable[str]) -> list[str]:
    if isinstance(labels, str):
        raise InvalidInput.for_field(field, "must be a list of names, not one string")
    cleaned = [label.strip() for label in labels]
    if any(not label or len(label) > LONGEST_LABEL for label in cleaned):
        raise InvalidInput.for_field(field, f"each must be 1 to {LONGEST_LABEL} characters")
    return list(dict.fromkeys(cleaned))


def _languages(languages: Iterable[str]) -> list[str]:
    if isinstance(languages, str):
        raise InvalidInput.for_field("languages", "must be a list of codes, not one string")
    codes = [code.strip().lower() for code in languages]
    unknown = [code for code in codes if len(code) != 2 or pycountry.languages.get(alpha_2=code) is None]
    if unknown:
        raise InvalidInput.for_field("languages", f"{', '.join(map(repr, unknown))}: not ISO 639-1 codes like en, de")
    return list(dict.fromkeys(codes))


def _capacity(capacity: int) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= 100:
        raise InvalidInput.for_field("capacity", "must be a whole number from 1 to 100")
    return capacity
