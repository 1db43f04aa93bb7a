"""Each process trusts a key it has just read for `keys.REMEMBERED_FOR` seconds: a revocation made in another process
(the CLI, another worker) takes effect within that bound, one made in this process at once."""

import time

from sqlalchemy import update

from models import ApiKey
from models.base import utcnow
from salesbot.access import identity, keys


def _revoked_elsewhere(services, key_id: str) -> None:
    """What `salesbot keys revoke` in another process does to the row, without this process hearing of it."""
    with services.uow() as uow:
        uow.session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))
        uow.commit()


def test_a_key_revoked_in_another_process_stops_within_the_stated_bound(client, services):
    key, secret = keys.create(uow=services.uow(), role="server", name="erp")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/items", headers=headers).status_code == 200
    _revoked_elsewhere(services, key.id)
    time.sleep(keys.REMEMBERED_FOR + 0.05)
    response = client.get("/v1/items", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json["detail"]


def test_a_key_is_read_again_once_the_bound_has_passed_and_keeps_working(client, services):
    _key, secret = keys.create(uow=services.uow(), role="server", name="erp")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/items", headers=headers).status_code == 200
    time.sleep(keys.REMEMBERED_FOR + 0.05)
    assert client.get("/v1/items", headers=headers).status_code == 200


def test_a_new_identity_secret_refuses_the_old_hashes_at_once(client, services):
    key, secret = keys.create(uow=services.uow(), role="site", name="widget")
    path = "/v1/customers/c-1/recommendations"
    old = {"Authorization": f"Bearer {secret}", identity.HEADER: identity.sign(key.identity_secret, "c-1")}
    assert client.get(path, headers=old).status_code == 200
    fresh = keys.new_identity_secret(uow=services.uow(), key_id=key.id)
    assert client.get(path, headers=old).status_code == 403
    assert client.get(path, headers=old | {identity.HEADER: identity.sign(fresh, "c-1")}).status_code == 200


def test_unknown_keys_are_never_remembered(client, services):
    headers = {"Authorization": "Bearer sk_not-a-key"}
    assert client.get("/v1/items", headers=headers).status_code == 401
    assert client.get("/v1/items", headers=headers).status_code == 401
