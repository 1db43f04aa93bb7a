"""Public site keys (OWASP API1, API3, API6): a key in every visitor's browser acts for a customer only with the
customer's identity hash, reaches a conversation only with its token, and one runaway conversation cannot spend
the budget every other caller of the key shares."""

from __future__ import annotations

import os
import re

import pytest
import redis
from sqlalchemy import text, update

from api import create_app
from models import ApiKey, Conversation
from salesbot.access import identity, keys
from salesbot.bootstrap import bootstrap
from salesbot.cli import main
from salesbot.config import Settings
from salesbot.recommender import pipeline, versions
from tests.conftest import keyed_client
from tests.integration import test_conversations, test_recommender

HASH, TOKEN = "X-Customer-Hash", "X-Conversation-Token"
VISITOR_ROUTES = [
    ("GET", "/v1/conversations/{cid}", None),
    ("POST", "/v1/conversations/{cid}/messages", {"text": "we need tablets"}),
    ("POST", "/v1/conversations/{cid}/csat", {"score": 4}),
    ("POST", "/v1/conversations/{cid}/close", None),
]


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url, conversation_rate_limit="100/minute"))
    test_conversations.stock(services)
    yield services
    services.close()


@pytest.fixture
def site(shop):
    """A client with a fresh site key, and that key (whose identity secret the store's server holds)."""
    key, secret = keys.create(uow=shop.uow(), role="site", name="widget")
    client = create_app(services=shop).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client, key


def started(client, **body):
    answer = client.post("/v1/conversations", json={"visitor_id": "v-1"} | body)
    assert answer.status_code == 201, answer.json
    return answer.json["conversation_id"], answer.json["conversation_token"]


def call(client, method, path, body=None, headers=None):
    return client.open(path, method=method, json=body, headers=headers or {})


# -- acting for a customer ------------------------------------------------------------------------------------------


def test_a_site_key_gets_a_customers_recommendations_only_with_their_hash(site, shop):
    client, key = site
    path = "/v1/customers/c-1/recommendations"
    bare = client.get(path)
    assert bare.status_code == 403
    assert HASH in bare.json["detail"]
    assert "/v1/recommendations/session" in bare.json["detail"]  # where an anonymous visitor's items come from
    forged = client.get(path, headers={HASH: identity.sign(identity.new_secret(), "c-1")})
    assert forged.status_code == 403
    assert "c-1" in forged.json["detail"]
    someone_elses = client.get(path, headers={HASH: identity.sign(key.identity_secret, "c-2")})
    assert someone_elses.status_code == 403
    assert client.get(path, headers={HASH: "ünïcödé"}).status_code == 403
    assert client.get(path, headers={HASH: identity.sign(key.identity_secret, "c-1")}).status_code == 200
    upper_case = identity.sign(key.identity_secret, "c-1").upper()
    assert client.get(path, headers={HASH: upper_case}).status_code == 200
    assert keyed_client(shop, "server").get(path).status_code == 200  # the store's own back end needs no hash


def test_another_site_keys_hash_does_not_open_this_one(site, shop):
    client, _key = site
    other, _ = keys.create(uow=shop.uow(), role="site", name="other shop")
    answer = client.get(
        "/v1/customers/c-1/recommendations", headers={HASH: identity.sign(other.identity_secret, "c-1")}
    )
    assert answer.status_code == 403


def test_a_site_key_starts_a_customers_conversation_only_with_their_hash(site, shop):
    client, key = site
    refused = client.post("/v1/conversations", json={"customer_id": "c-1"})
    assert refused.status_code == 403
    assert HASH in refused.json["detail"]
    signed = client.post(
        "/v1/conversations", json={"customer_id": "c-1"}, headers={HASH: identity.sign(key.identity_secret, "c-1")}
    )
    assert signed.status_code == 201
    transcript = keyed_client(shop, "server").get(f"/v1/conversations/{signed.json['conversation_id']}").json
    assert transcript["customer_id"] == "c-1"


def test_a_new_identity_secret_retires_the_old_hashes(site, shop):
    client, key = site
    old = identity.sign(key.identity_secret, "c-1")
    fresh = keys.new_identity_secret(uow=shop.uow(), key_id=key.id)
    path = "/v1/customers/c-1/recommendations"
    assert client.get(path, headers={HASH: old}).status_code == 403
    assert client.get(path, headers={HASH: identity.sign(fresh, "c-1")}).status_code == 200


def test_a_site_key_from_before_identity_secrets_is_told_how_to_get_one(site, shop):
    client, key = site
    with shop.uow() as uow:
        uow.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(identity_secret=None))
        uow.commit()
    answer = client.get("/v1/customers/c-1/recommendations", headers={HASH: "00" * 32})
    assert answer.status_code == 403
    assert "salesbot keys identity-secret" in answer.json["detail"]


def test_the_operator_gets_the_identity_secret_once_with_a_site_key(runner):
    created = runner.invoke(main, ["keys", "create", "--role", "site", "--name", "shop front"])
    assert created.exit_code == 0, created.output
    key, secret = created.stdout.split()
    assert key.startswith("pk_")
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert "X-Customer-Hash" in created.stderr
    server = runner.invoke(main, ["keys", "create", "--role", "server"])
    assert len(server.stdout.split()) == 1  # only site keys have an identity secret
    key_id = runner.invoke(main, ["keys", "list"]).output.split("\n")[2].split()[0]
    rotated = runner.invoke(main, ["keys", "identity-secret", key_id])
    assert rotated.exit_code == 0
    assert re.fullmatch(r"[0-9a-f]{64}", rotated.stdout.strip())
    assert rotated.stdout.strip() != secret
    server_id = runner.invoke(main, ["keys", "list"]).output.split("\n")[3].split()[0]
    assert runner.invoke(main, ["keys", "identity-secret", server_id]).exit_code != 0


@pytest.fixture
def taste_shop(sqlite_database_url):
    services = bootstrap(Settings(database_url=sqlite_database_url, model_check_seconds=0))
    test_recommender.stock(services)
    version = pipeline.train(uow=services.uow, plan=test_recommender.SMALL, weights=services.settings.event_weights)
    versions.activate(uow=services.uow(), version_id=version.id)
    yield services
    services.close()


def test_reasons_a_site_key_sees_never_tell_another_persons_history(taste_shop):
    key, secret = keys.create(uow=taste_shop.uow(), role="site", name="widget")
    client = create_app(services=taste_shop).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    viewed = ["t-1", "t-2"]
    session = client.post("/v1/recommendations/session", json={"item_ids": viewed, "n": 5}).json
    titles = {"Tea thing 1", "Tea thing 2"}
    assert session["strategy"] == "session"
    assert all(re.fullmatch(r"goes with (.+)", i["reason"])[1] in titles for i in session["items"])
    anonymous = [
        *session["items"],
        *client.get("/v1/items/t-1/similar?n=5").json["items"],
        *client.get("/v1/items/popular?n=5").json["items"],
    ]
    assert not [i["reason"] for i in anonymous if re.search(r"\byou\b|recently|bought|viewed", i["reason"])]
    # With the customer's own hash, their own history may be told: it is theirs.
    personal = client.get(
        "/v1/customers/a-1/recommendations", headers={HASH: identity.sign(key.identity_secret, "a-1")}
    )
    assert personal.json["strategy"] == "personal"
    assert any("you" in i["reason"] for i in personal.json["items"])
    assert client.get("/v1/customers/a-1/recommendations").status_code == 403


# -- reaching a conversation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), VISITOR_ROUTES)
def test_a_site_key_reaches_a_conversation_only_with_its_token(site, method, path, body):
    client, _key = site
    cid, token = started(client)
    other_cid, other_token = started(client, visitor_id="v-2")
    path = path.format(cid=cid)
    missing = call(client, method, path, body)
    assert missing.status_code == 403
    assert TOKEN in missing.json["detail"]
    for wrong in (other_token, token[:-1], "x" * 43, "ü"):
        answer = call(client, method, path, body, {TOKEN: wrong})
        assert answer.status_code == 404, wrong  # the same answer as for a conversation that does not exist
        assert "token" in answer.json["detail"]
    unknown = call(client, method, path.replace(cid, "cv_unknown"), body, {TOKEN: token})
    assert unknown.status_code == 404
    assert call(client, method, path, body, {TOKEN: token}).status_code == 200
    assert call(client, "GET", f"/v1/conversations/{other_cid}", None, {TOKEN: other_token}).status_code == 200


def test_the_token_is_shown_once_and_stored_hashed(site, shop):
    client, _key = site
    cid, token = started(client)
    assert len(token) >= 22  # at least 128 random bits
    transcript = client.get(f"/v1/conversations/{cid}", headers={TOKEN: token}).json
    assert token not in str(transcript)
    turn = client.post(f"/v1/conversations/{cid}/messages", json={"text": "hi"}, headers={TOKEN: token}).json
    assert "conversation_token" not in turn
    with shop.engine.connect() as connection:
        stored = connection.execute(text("SELECT * FROM conversations")).all()
    assert token not in repr(stored)


@pytest.mark.parametrize("role", ["server", "rep", "admin"])
def test_the_stores_own_keys_need_no_token(site, shop, role):
    client, _key = site
    cid, _token = started(client)
    store = keyed_client(shop, role)
    assert store.get(f"/v1/conversations/{cid}").status_code == 200
    assert store.post(f"/v1/conversations/{cid}/close").status_code == 200


def test_conversations_from_before_tokens_are_the_stores_alone(site, shop):
    client, _key = site
    cid, token = started(client)
    with shop.uow() as uow:
        uow.session.execute(update(Conversation).where(Conversation.id == cid).values(token_hash=None))
        uow.commit()
    assert client.get(f"/v1/conversations/{cid}", headers={TOKEN: token}).status_code == 404
    assert keyed_client(shop, "server").get(f"/v1/conversations/{cid}").status_code == 200


def test_a_token_is_checked_before_the_message_is_read_or_counted(site):
    client, _key = site
    cid, _token = started(client)
    nonsense = client.post(f"/v1/conversations/{cid}/messages", json={"text": 42})
    assert nonsense.status_code == 403  # not 422: without the token nothing about the conversation is answered


# -- rate limits ----------------------------------------------------------------------------------------------------


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def counters(request):
    """Where rate-limit counters live: in the process, or in Redis shared by every process."""
    if request.param == "memory":
        return None
    url = os.environ.get("SALESBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis answering at {url} (set SALESBOT_TEST_REDIS_URL)")
    return url


@pytest.mark.parametrize("role", ["server", "site"])
def test_one_runaway_conversation_cannot_lock_out_the_keys_other_conversations(sqlite_database_url, counters, role):
    limits = {"conversation_rate_limit": "2/minute", "rate_limit": "5/minute", "site_rate_limit": "5/minute"}
    services = bootstrap(Settings(database_url=sqlite_database_url, redis_url=counters, **limits))
    test_conversations.stock(services)
    client = keyed_client(services, role)
    conversations = [started(client, visitor_id=f"v-{n}") for n in range(3)]

    def say(conversation):
        cid, token = conversation
        return client.post(
            f"/v1/conversations/{cid}/messages", json={"text": "we need tablets"}, headers={TOKEN: token}
        )

    runaway = [say(conversations[0]) for _ in range(20)]
    assert [answer.status_code for answer in runaway] == [200, 200] + [429] * 18
    assert "conversation" in runaway[-1].json["detail"]
    assert int(runaway[-1].headers["Retry-After"]) >= 1
    assert runaway[1].headers["X-RateLimit-Remaining"] == "3"
    calm = say(conversations[1])
    assert calm.status_code == 200  # 20 refused messages did not spend the key's budget
    assert calm.headers["X-RateLimit-Remaining"] == "2"
    assert [say(conversations[1]).status_code, say(conversations[2]).status_code] == [200, 200]
    spent = say(conversations[2])
    assert spent.status_code == 429  # the key's own budget still holds
    assert "key" in spent.json["detail"]
    services.close()


def test_requests_refused_for_a_wrong_token_still_spend_the_keys_budget(sqlite_database_url):
    services = bootstrap(Settings(database_url=sqlite_database_url, site_rate_limit="3/minute"))
    test_conversations.stock(services)
    client = keyed_client(services, "site")
    cid, token = started(client)
    path = f"/v1/conversations/{cid}/messages"
    guesses = [client.post(path, json={"text": "hi"}, headers={TOKEN: f"guess-{n}"}) for n in range(3)]
    assert [answer.status_code for answer in guesses] == [404, 404, 404]
    assert client.post(path, json={"text": "hi"}).status_code == 403  # no token: refused, and counted too
    assert client.post(path, json={"text": "hi"}, headers={TOKEN: token}).status_code == 429  # guessing is not free
    services.close()
