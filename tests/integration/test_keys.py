"""API keys: shown once, stored hashed, revocable; on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import text

from salesbot.access import keys
from salesbot.access.roles import Role
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.errors import InvalidInput, Unauthenticated


@pytest.fixture
def services(database_url):
    built = bootstrap(Settings(database_url=database_url))
    yield built
    built.close()


def test_a_new_key_authenticates_with_its_role(services):
    key, secret = keys.create(uow=services.uow(), role="marketer", name="campaigns")
    holder = keys.authenticate(uow=services.uow(), secret=secret)
    assert (holder.key_id, holder.role, holder.name) == (key.id, Role.MARKETER, "campaigns")


def test_site_keys_are_publishable_and_others_secret(services):
    assert keys.create(uow=services.uow(), role="site", name="web")[1].startswith("pk_")
    assert keys.create(uow=services.uow(), role="server", name="erp")[1].startswith("sk_")


def test_the_secret_is_not_stored(services):
    _key, secret = keys.create(uow=services.uow(), role="admin", name="ops")
    with services.engine.connect() as connection:
        stored = connection.execute(text("SELECT * FROM api_keys")).all()
    assert secret not in repr(stored)


def test_revoked_and_unknown_keys_are_refused(services):
    key, secret = keys.create(uow=services.uow(), role="server", name="erp")
    keys.revoke(uow=services.uow(), key_id=key.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        keys.authenticate(uow=services.uow(), secret=secret)
    with pytest.raises(Unauthenticated, match="unknown"):
        keys.authenticate(uow=services.uow(), secret=secret + "x")


def test_unknown_roles_are_refused_naming_the_choices(services):
    with pytest.raises(InvalidInput) as caught:
        keys.create(uow=services.uow(), role="boss", name="x")
    assert "site, server, rep, marketer, admin" in caught.value.errors["role"][0]
