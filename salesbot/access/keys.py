"""API keys: created with a role, shown once, stored hashed, revoked but never deleted."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from models import ApiKey
from models.base import utcnow
from salesbot.access import identity
from salesbot.access.roles import Role, parse_role
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput, NotFound, Unauthenticated

LAST_USED_RESOLUTION = timedelta(minutes=1)
# How long a process trusts a key it has just read: the bound on how late a revocation made elsewhere takes effect.
REMEMBERED_FOR = 1.0  # seconds
REMEMBERED_AT_MOST = 10_000  # keys; past it the memory starts over (a store has a handful)


@dataclass(frozen=True)
class KeyHolder:
    """Who is calling: enough to authorise and to log, never the secret."""

    key_id: str
    name: str
    role: Role
    # A site key's secret for checking customers' identity hashes; never logged, never answered.
    identity_secret: str | None = field(default=None, repr=False, compare=False)


def hash_secret(secret: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: nobody can guess their way to a preimage.
    return hashlib.sha256(secret.encode()).hexdigest()


def create(*, uow: UnitOfWork, role: str, name: str) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is never stored and cannot be shown again.

    A site key also gets an identity secret (`key.identity_secret`) for the store's server to sign customer ids.
    """
    chosen = parse_role(role)
    if not name.strip() or len(name) > 120:
        raise InvalidInput.for_field("name", "must be 1 to 120 characters")
    secret = chosen.key_prefix + secrets.token_urlsafe(32)
    key = ApiKey(
        id="key_" + secrets.token_hex(8),
        name=name.strip(),
        role=chosen.value,
        prefix=secret[:10],
        secret_hash=hash_secret(secret),
        identity_secret=identity.new_secret() if chosen is Role.SITE else None,
        created_at=utcnow(),
    )
    with uow:
        uow.session.add(key)
        uow.commit()
    return key, secret


def get_all(*, uow: UnitOfWork, include_revoked: bool = True) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    with uow:
        return list(uow.session.scalars(query))


def revoke(*, uow: UnitOfWork, key_id: str) -> ApiKey:
    with uow:
        key = uow.session.get(ApiKey, key_id)
        if key is None:
            raise NotFound(f"no API key {key_id!r}")
        key.revoked_at = key.revoked_at or utcnow()
        uow.commit()
    _forget(key_id)
    return key


def new_identity_secret(*, uow: UnitOfWork, key_id: str) -> str:
    """A new identity secret for a site key: the old one, and every customer hash made with it, stop working."""
    with uow:
        key = uow.session.get(ApiKey, key_id, with_for_update=True)
        if key is None:
            raise NotFound(f"no API key {key_id!r}")
        if key.role != Role.SITE:
            raise InvalidInput.for_field("key_id", f"{key_id} is a {key.role} key; only site keys have one")
        key.identity_secret = identity.new_secret()
        uow.commit()
        secret = key.identity_secret
    _forget(key_id)
    return secret


def authenticate(*, uow: UnitOfWork, secret: str, now: datetime | None = None, remember_for: float = 0.0) -> KeyHolder:
    """The holder of `secret`, or `Unauthenticated` for an unknown or revoked key.

    Asked of the database unless this process read the same valid key less than `remember_for` seconds ago (the API
    passes `REMEMBERED_FOR`), so a revoked key stops at once in the process that revoked it and within
    `remember_for` seconds in every other; unknown and revoked keys are asked every time.
    """
    digest = hash_secret(secret)
    if remember_for > 0 and (known := _remembered.get(digest)) and time.monotonic() - known[0] < remember_for:
        return known[1]
    found = _read(uow, digest, now or utcnow())
    if remember_for > 0:
        if len(_remembered) >= REMEMBERED_AT_MOST:
            _remembered.clear()
        _remembered[digest] = (time.monotonic(), found)
    return found


# secret hash -> (when read, holder): valid keys this process read lately. Plain dict operations are atomic in
# CPython, so request threads share it without a lock; the worst race re-reads a key.
_remembered: dict[str, tuple[float, KeyHolder]] = {}


def _read(uow: UnitOfWork, digest: str, now: datetime) -> KeyHolder:
    """A single-row read of six columns, without building an ORM object; `last_used_at` is kept to the minute."""
    columns = (ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.revoked_at, ApiKey.last_used_at, ApiKey.identity_secret)
    with uow:
        key = uow.session.execute(select(*columns).where(ApiKey.secret_hash == digest)).first()
        if key is None:
            raise Unauthenticated("unknown API key")
        if key.revoked_at is not None:
            raise Unauthenticated("this API key was revoked")
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            uow.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
            uow.commit()
        return KeyHolder(key_id=key.id, name=key.name, role=Role(key.role), identity_secret=key.identity_secret)


def _forget(key_id: str) -> None:
    """Stop trusting a key this process remembers: it was revoked or its identity secret changed."""
    for digest, (_at, known) in list(_remembered.items()):
        if known.key_id == key_id:
            _remembered.pop(digest, None)


def holder(*, uow: UnitOfWork, key_id: str) -> KeyHolder | None:
    """The holder of a key a console session signed in with; None once the key is revoked or gone."""
    columns = (ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.revoked_at, ApiKey.identity_secret)
    with uow:
        key = uow.session.execute(select(*columns).where(ApiKey.id == key_id)).first()
    if key is None or key.revoked_at is not None:
        return None
    return KeyHolder(key_id=key.id, name=key.name, role=Role(key.role), identity_secret=key.identity_secret)
