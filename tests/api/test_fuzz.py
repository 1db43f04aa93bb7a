"""Schemathesis sends every operation in /openapi.json generated requests, valid and invalid, to the real app:
no answer may be a 5xx, and each must have a documented status, content type and body.

Bounded for CI: 75 examples per operation, about 2 to 2.5 minutes on 2 cores. A failure prints the seed and a
request that reproduces it; run again, or longer, with e.g.
`SALESBOT_FUZZ_SEED=<seed> SALESBOT_FUZZ_EXAMPLES=500 pytest tests/api/test_fuzz.py`.
"""

from __future__ import annotations

import os
import re
from typing import Any

import hypothesis
import hypothesis.strategies as st
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import create_app
from salesbot.access import identity, keys
from salesbot.access.roles import Role
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.recommender import pipeline
from tests.conftest import ORIGIN

EXAMPLES = int(os.environ.get("SALESBOT_FUZZ_EXAMPLES", "75"))
SEED = int(os.environ.get("SALESBOT_FUZZ_SEED", "20261127"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
IDS = ("item_id", "customer_id", "conversation_id", "faq_id", "endpoint_id", "delivery_id", "model_id")

ITEM = {"title": "Trail shoe", "price": "89.90", "currency": "EUR", "category": "shoes"}
CUSTOMER = {"segment": "vip", "country": "DE", "email": "ana@example.com"}
EVENT = {"customer_id": "cust-1", "item_id": "sku-1", "type": "view", "occurred_at": "2026-01-02T03:04:05Z"}
HOOK_URL = "http://127.0.0.1:9/hooks"  # loopback, which the test settings allow
FAQ = {"question": "Do you ship abroad?", "answer": "Yes, to the whole EU.", "tags": ["shipping"]}


def the_document() -> dict[str, Any]:
    """/openapi.json as the app serves it; serving the document needs no tables, so an in-memory database does.
    Built while pytest collects, so nothing may start loading in the background: the embedding model's import on a
    thread while pytest compiles test modules trips a CPython 3.11 compiler bug (AST recursion depth mismatch)."""
    services = bootstrap(Settings(database_url="sqlite://", embeddings="off"))
    try:
        return create_app(services=services).test_client().get("/openapi.json").json
    finally:
        services.close()


fuzzed = schemathesis.openapi.from_dict(
    the_document(),
    config=SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            # The test sends a real key, made in its own database, rather than a generated one.
            "generation": {"mode": "all", "max-examples": EXAMPLES, "with-security-parameters": False},
            "phases": {"stateful": {"enabled": False}},
            # Values a random string seldom is, offered some of the time, so that writes also succeed and
            # their answers get checked too.
            "dictionaries": {"currencies": {"values": ["EUR", "USD"]}, "hooks": {"values": [HOOK_URL]}},
            "parameters": {
                "body.currency": {"dictionary": "currencies", "probability": 0.5},
                "body.items[*].currency": {"dictionary": "currencies", "probability": 0.5},
                "body.url": {"dictionary": "hooks", "probability": 0.5},
            },
        }
    ),
).exclude(path_regex=r"/stream$")  # live streams last minutes; tests/integration/test_live_streams.py reads them


@pytest.fixture
def settings(sqlite_database_url) -> Settings:
    # Thousands of requests with one key and one conversation; rate limits have their own tests.
    return Settings(
        database_url=sqlite_database_url,
        cors_origins=(ORIGIN,),
        webhook_allow_networks=("127.0.0.0/8",),
        rate_limit="1000000/minute",
        site_rate_limit="1000000/minute",
        conversation_rate_limit="1000000/minute",
    )


@pytest.fixture
def known_ids(app, services, api_keys) -> dict[str, str]:
    """One of each thing an operation can read, by the name of the path parameter that names it."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_keys[Role.ADMIN]}"

    def answer(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = client.open(url, method=method, json=body)
        assert response.status_code < 300, (method, url, response.status_code, response.get_data(as_text=True))
        return response.json or {}

    answer("PUT", "/v1/items/sku-1", ITEM)
    answer("PUT", "/v1/items/sku-2", ITEM)
    answer("PUT", "/v1/customers/cust-1", CUSTOMER)
    answer("POST", "/v1/events", {"events": [EVENT]})
    conversation = answer("POST", "/v1/conversations", {"customer_id": "cust-1", "page": {"item_ids": ["sku-1"]}})
    faq = answer("POST", "/v1/faqs", FAQ)
    endpoint = answer("POST", "/v1/webhook-endpoints", {"url": HOOK_URL})
    delivery = answer("POST", f"/v1/webhook-endpoints/{endpoint['id']}/test")
    # A queued version row, without the background training that POST /v1/models would start.
    model = pipeline.start(uow=services.uow, plan=pipeline.Plan(), queued=True)
    return {
        "item_id": "sku-1",
        "customer_id": "cust-1",
        "conversation_id": conversation["conversation_id"],
        "faq_id": faq["id"],
        "endpoint_id": endpoint["id"],
        "delivery_id": delivery["id"],
        "model_id": model.id,
    }


def known(name: str) -> str:
    """A stand-in for the id of the thing `known_ids` made, which exists only once the test's database does."""
    return f"known-{name}"  # unreserved characters only, so it reaches the test unquoted


@fuzzed.hook
def flatmap_path_parameters(context, path_parameters: dict[str, Any] | None):
    """Half the time a generated id is swapped for one that exists, so that reads and writes find something."""
    names = [name for name in IDS if name in (path_parameters or {})]
    if not names:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **{name: known(name) for name in names}}])


def a_site_key_may_call(context: Any) -> bool:
    return re.search(r"Roles: .*\bsite\b", context.operation.definition.raw.get("description", "")) is not None


site_operations = fuzzed.include(a_site_key_may_call)


@pytest.fixture
def as_site(services, app, known_ids) -> tuple[dict[str, str], dict[str, str]]:
    """A site key's headers, with the hash of the known customer and the token of its own conversation, and the
    known ids with that conversation in place of the one the admin started."""
    key, secret = keys.create(uow=services.uow(), role="site", name="fuzz site")
    headers = {"Authorization": f"Bearer {secret}", "X-Customer-Hash": identity.sign(key.identity_secret, "cust-1")}
    started = app.test_client().post("/v1/conversations", json={"visitor_id": "visitor-1"}, headers=headers)
    assert started.status_code == 201, started.get_data(as_text=True)
    headers["X-Conversation-Token"] = started.json["conversation_token"]
    return headers, {**known_ids, "conversation_id": started.json["conversation_id"]}


def call_as(case: Any, app: Any, ids: dict[str, str], headers: dict[str, str]) -> None:
    case.operation.app = app  # this test's app, on its own database (the document was read from another)
    for name, value in (case.path_parameters or {}).items():
        if value == known(name):
            case.path_parameters[name] = ids[name]
    case.call_and_validate(headers=headers, checks=CHECKS)


@pytest.fixture(autouse=True)
def _say_the_seed() -> None:
    """Shown with any failure, to run the same examples again."""
    print(f"schemathesis seed {SEED}, {EXAMPLES} examples per operation (SALESBOT_FUZZ_SEED, SALESBOT_FUZZ_EXAMPLES)")


@fuzzed.parametrize()
# One app and database per operation, shared by its examples on purpose: what one request wrote, the next may read.
@hypothesis.settings(suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
def test_every_operation_answers_as_documented(case, app, api_keys, known_ids):
    call_as(case, app, known_ids, {"Authorization": f"Bearer {api_keys[Role.ADMIN]}"})


@site_operations.parametrize()
@hypothesis.settings(suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
def test_what_a_site_key_may_call_answers_as_documented(case, app, as_site):
    headers, ids = as_site
    call_as(case, app, ids, headers)
