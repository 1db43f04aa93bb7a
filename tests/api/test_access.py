"""Every route refuses missing, unknown and revoked keys (401) and the wrong roles (403); a public site key gets
past a customer's or a conversation's route only with the proof it must send."""

import pytest

from salesbot.access import identity, keys
from salesbot.access.roles import Role
from tests.conftest import ORIGIN

ITEM = {"title": "Tablet", "price": "199.00", "currency": "EUR"}
CUSTOMER = {"segment": "b2b", "country": "DE"}
EVENT = {"visitor_id": "v-1", "item_id": "sku-1", "type": "view"}
EVERYONE = frozenset(Role)
FAQ = {"question": "Do you ship abroad?", "answer": "Yes, to the EU."}
SCHEMA = {"fields": [{"name": "need", "type": "need", "question": "What do you need?", "required": True}]}
CHAT = {Role.SITE, Role.SERVER, Role.ADMIN}
MARKETING = {Role.MARKETER, Role.ADMIN}
TRIGGER = {"name": "Linger", "kind": "time_on_page", "seconds": 30, "message": "Can I help you choose?"}

# (method, path, body, roles that may) for every /v1 route; admins may everything.
ROUTES = [
    ("GET", "/v1/items", None, {Role.SERVER, Role.ADMIN}),
    ("POST", "/v1/items/batch", {"items": [ITEM | {"item_id": "sku-2"}]}, {Role.SERVER, Role.ADMIN}),
    ("PUT", "/v1/items/sku-1", ITEM, {Role.SERVER, Role.ADMIN}),
    ("GET", "/v1/items/sku-1", None, {Role.SERVER, Role.ADMIN}),
    ("DELETE", "/v1/items/sku-1", None, {Role.SERVER, Role.ADMIN}),
    ("PUT", "/v1/customers/c-1", CUSTOMER, {Role.SERVER, Role.ADMIN}),
    ("GET", "/v1/customers/c-1", None, {Role.SERVER, Role.ADMIN}),
    ("DELETE", "/v1/customers/c-1", None, {Role.SERVER, Role.ADMIN}),
    ("POST", "/v1/customers/batch", {"customers": [{"customer_id": "c-2"}]}, {Role.SERVER, Role.ADMIN}),
    ("GET", "/v1/customers/c-1/events", None, {Role.SERVER, Role.ADMIN}),
    ("POST", "/v1/events", {"events": [EVENT]}, {Role.SITE, Role.SERVER, Role.ADMIN}),
    ("GET", "/v1/customers/c-1/recommendations", None, {Role.SITE, Role.SERVER, Role.ADMIN}),
    ("POST", "/v1/recommendations/session", {"item_ids": ["sku-1"]}, {Role.SITE, Role.SERVER, Role.ADMIN}),
    ("GET", "/v1/items/sku-1/similar", None, {Role.SITE, Role.SERVER, Role.ADMIN}),
    ("GET", "/v1/items/popular", None, {Role.SITE, Role.SERVER, Role.ADMIN}),
    ("GET", "/v1/models", None, {Role.ADMIN}),
    ("POST", "/v1/models", {"epochs": 1}, {Role.ADMIN}),
    ("GET", "/v1/models/mv_unknown", None, {Role.ADMIN}),
    ("POST", "/v1/models/mv_unknown/activate", None, {Role.ADMIN}),
    ("POST", "/v1/conversations", {"visitor_id": "v-1"}, CHAT),
    ("GET", "/v1/conversations/cv_unknown", None, CHAT | {Role.REP}),
    ("POST", "/v1/conversations/cv_unknown/messages", {"text": "hi"}, CHAT),
    ("POST", "/v1/conversations/cv_unknown/csat", {"score": 5}, CHAT),
    ("POST", "/v1/conversations/cv_unknown/close", None, CHAT | {Role.REP}),
    ("GET", "/v1/qualification-schema", None, MARKETING | {Role.REP}),
    ("PUT", "/v1/qualification-schema", SCHEMA, MARKETING),
    ("GET", "/v1/faqs", None, MARKETING),
    ("POST", "/v1/faqs", FAQ, MARKETING),
    ("GET", "/v1/faqs/faq_unknown", None, MARKETING),
    ("PUT", "/v1/faqs/faq_unknown", FAQ, MARKETING),
    ("DELETE", "/v1/faqs/faq_unknown", None, MARKETING),
    ("GET", "/v1/webhook-endpoints", None, {Role.ADMIN}),
    ("POST", "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/hook"}, {Role.ADMIN}),
    ("GET", "/v1/webhook-endpoints/ep_unknown", None, {Role.ADMIN}),
    ("PATCH", "/v1/webhook-endpoints/ep_unknown", {"enabled": False}, {Role.ADMIN}),
    ("DELETE", "/v1/webhook-endpoints/ep_unknown", None, {Role.ADMIN}),
    ("POST", "/v1/webhook-endpoints/ep_unknown/rotate-secret", None, {Role.ADMIN}),
    ("POST", "/v1/webhook-endpoints/ep_unknown/test", None, {Role.ADMIN}),
    ("POST", "/v1/webhook-endpoints/ep_unknown/replay", {"since": "2026-01-01T00:00:00Z"}, {Role.ADMIN}),
    ("GET", "/v1/deliveries", None, {Role.ADMIN}),
    ("POST", "/v1/deliveries/dlv_unknown/retry", None, {Role.ADMIN}),
    ("GET", "/v1/offers", None, {Role.MARKETER, Role.ADMIN}),
    ("POST", "/v1/offers", {"name": "Deal", "kind": "percent", "value": 10}, {Role.MARKETER, Role.ADMIN}),
    ("GET", "/v1/offers/off_unknown", None, {Role.MARKETER, Role.ADMIN}),
    ("PATCH", "/v1/offers/off_unknown", {"value": 5}, {Role.MARKETER, Role.ADMIN}),
    ("DELETE", "/v1/offers/off_unknown", None, {Role.MARKETER, Role.ADMIN}),
    ("GET", "/v1/offers/off_unknown/changes", None, {Role.MARKETER, Role.ADMIN}),
    ("POST", "/v1/offers/off_unknown/redemptions", {"redemption_id": "o-1", "customer_id": "c-1"},
     {Role.SERVER, Role.ADMIN}),
    ("GET", "/v1/experiments", None, {Role.MARKETER, Role.ADMIN}),
    ("POST", "/v1/experiments", {"name": "x", "arms": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]},
     {Role.MARKETER, Role.ADMIN}),
    ("GET", "/v1/experiments/exp_unknown", None, {Role.MARKETER, Role.ADMIN}),
    ("PATCH", "/v1/experiments/exp_unknown", {"name": "y"}, {Role.MARKETER, Role.ADMIN}),
    ("POST", "/v1/experiments/exp_unknown/start", None, {Role.MARKETER, Role.ADMIN}),
    ("POST", "/v1/experiments/exp_unknown/stop", {}, {Role.MARKETER, Role.ADMIN}),
    ("GET", "/v1/experiments/exp_unknown/results", None, {Role.MARKETER, Role.ADMIN}),
    ("GET", "/v1/experiments/exp_unknown/assignments/v-1", None, {Role.MARKETER, Role.SERVER, Role.ADMIN}),
    # A rep's own actions: an admin key belongs to no rep, so these refuse it (403) with the reason.
    ("GET", "/v1/inbox", None, {Role.REP}),
    ("POST", "/v1/inbox/presence", {"status": "online"}, {Role.REP}),
    ("GET", "/v1/inbox/stream", None, {Role.REP}),
    ("POST", "/v1/conversations/cv_unknown/accept", None, {Role.REP}),
    ("POST", "/v1/conversations/cv_unknown/replies", {"text": "hi"}, {Role.REP}),
    ("POST", "/v1/conversations/cv_unknown/transfer", {"team": "b2b"}, {Role.REP, Role.ADMIN}),
    ("POST", "/v1/conversations/cv_unknown/release", None, {Role.REP, Role.ADMIN}),
    ("POST", "/v1/conversations/cv_unknown/resolve", None, {Role.REP, Role.ADMIN}),
    ("GET", "/v1/conversations/cv_unknown/messages", None, {Role.SITE, Role.SERVER, Role.REP, Role.ADMIN}),
    ("GET", "/v1/conversations/cv_unknown/stream", None, {Role.SITE, Role.SERVER, Role.REP, Role.ADMIN}),
    ("GET", "/v1/leads", None, {Role.REP, Role.MARKETER, Role.ADMIN}),
    ("GET", "/v1/leads/ld_unknown", None, {Role.REP, Role.MARKETER, Role.ADMIN}),
    ("PATCH", "/v1/leads/ld_unknown", {"notes": "x"}, {Role.REP, Role.ADMIN}),
    ("GET", "/v1/kpis", None, MARKETING),
    ("GET", "/v1/kpis/conversations?kpi=handoff_rate", None, MARKETING),
    ("GET", "/v1/kpis/conversations.csv", None, MARKETING),
    ("GET", "/v1/faqs/gaps", None, MARKETING),
    ("GET", "/v1/jobs", None, {Role.ADMIN}),
    ("GET", "/v1/widget/triggers", None, MARKETING),
    ("POST", "/v1/widget/triggers", TRIGGER, MARKETING),
    ("GET", "/v1/widget/triggers/trg_unknown", None, MARKETING),
    ("PATCH", "/v1/widget/triggers/trg_unknown", {"seconds": 45}, MARKETING),
    ("DELETE", "/v1/widget/triggers/trg_unknown", None, MARKETING),
    ("GET", "/v1/widget/settings", None, {Role.SITE, Role.SERVER, Role.ADMIN}),
    ("POST", "/v1/conversations/cv_unknown/messages/1/rating", {"rating": "up"}, {Role.REP, Role.MARKETER, Role.ADMIN}),
    ("DELETE", "/v1/conversations/cv_unknown/messages/1/rating", None, {Role.REP, Role.MARKETER, Role.ADMIN}),
    ("GET", "/v1/conversations/cv_unknown/ratings", None, {Role.REP, Role.MARKETER, Role.ADMIN}),
]  # fmt: skip
PUBLIC = ["/healthz", "/readyz", "/openapi.json", "/docs"]
HASH, TOKEN = "X-Customer-Hash", "X-Conversation-Token"
# Routes in ROUTES where a site key must also prove whom it acts for: the header it must send (403 without it).
SITE_MUST_SEND = {
    ("GET", "/v1/customers/c-1/recommendations"): HASH,
    ("GET", "/v1/conversations/cv_unknown"): TOKEN,
    ("POST", "/v1/conversations/cv_unknown/messages"): TOKEN,
    ("POST", "/v1/conversations/cv_unknown/csat"): TOKEN,
    ("POST", "/v1/conversations/cv_unknown/close"): TOKEN,
    ("GET", "/v1/conversations/cv_unknown/messages"): TOKEN,
    ("GET", "/v1/conversations/cv_unknown/stream"): TOKEN,
}
# The same with the proof: {cid} is a conversation the site key started; the answer a site key gets with the right
# proof, and with a wrong one (a wrong hash is refused; a wrong token finds no conversation, as an unknown id).
SITE_WITH_PROOF = [
    ("GET", "/v1/customers/c-1/recommendations", None, HASH, 200, 403),
    ("POST", "/v1/conversations", {"customer_id": "c-1"}, HASH, 201, 403),
    ("GET", "/v1/conversations/{cid}", None, TOKEN, 200, 404),
    ("POST", "/v1/conversations/{cid}/messages", {"text": "we need tablets"}, TOKEN, 200, 404),
    ("POST", "/v1/conversations/{cid}/csat", {"score": 5}, TOKEN, 200, 404),
    ("POST", "/v1/conversations/{cid}/close", None, TOKEN, 200, 404),
]


def call(client, method, path, body, headers=None):
    return client.open(path, method=method, json=body, headers=headers or {})


def test_the_table_covers_every_v1_route(app):
    served = {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    adapter = app.url_map.bind("localhost")
    tabled = {(method, adapter.match(path.partition("?")[0], method)[0]) for method, path, _body, _roles in ROUTES}
    assert served == tabled, "add the new route to ROUTES with the roles that may call it"


@pytest.mark.parametrize(("method", "path", "body", "_roles"), ROUTES)
def test_no_key_gets_401_with_a_bearer_challenge(client, method, path, body, _roles):
    response = call(client, method, path, body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(("method", "path", "body", "_roles"), ROUTES)
@pytest.mark.parametrize("header", ["Bearer sk_not-a-real-key", "Basic dXNlcjpwYXNz", "Bearer ", "sk_raw-key"])
def test_unknown_or_malformed_keys_get_401(client, method, path, body, _roles, header):
    assert call(client, method, path, body, {"Authorization": header}).status_code == 401


@pytest.mark.parametrize(("method", "path", "body", "roles"), ROUTES)
@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_exactly_its_routes(client, as_role, method, path, body, roles, role):
    if (method in {"GET", "DELETE"} and "sku-1" in path) or path == "/v1/events":
        call(client, "PUT", "/v1/items/sku-1", ITEM, as_role(Role.ADMIN))
    if method in {"GET", "DELETE"} and "c-1" in path:
        call(client, "PUT", "/v1/customers/c-1", CUSTOMER, as_role(Role.ADMIN))
    response = call(client, method, path, body, as_role(role))
    must_send = SITE_MUST_SEND.get((method, path)) if role is Role.SITE else None
    if must_send:
        assert response.status_code == 403, response.json
        assert must_send in response.json["detail"]
    elif role in roles:
        assert response.status_code in ({404} if "_unknown" in path else {200, 201, 202, 204}), response.json
    else:
        assert response.status_code == 403
        assert role.value in response.json["detail"]


@pytest.mark.parametrize(("method", "path", "body", "header", "right", "wrong"), SITE_WITH_PROOF)
def test_a_site_key_with_the_right_proof_gets_through_and_a_wrong_one_does_not(
    client, services, method, path, body, header, right, wrong
):
    key, secret = keys.create(uow=services.uow(), role="site", name="widget")
    site = {"Authorization": f"Bearer {secret}"}
    started = client.post("/v1/conversations", json={"visitor_id": "v-1"}, headers=site).json
    path = path.format(cid=started["conversation_id"])
    proofs = {HASH: identity.sign(key.identity_secret, "c-1"), TOKEN: started["conversation_token"]}
    other = {HASH: identity.sign(identity.new_secret(), "c-1"), TOKEN: "not-" + started["conversation_token"]}
    assert call(client, method, path, body, site | {header: other[header]}).status_code == wrong
    assert call(client, method, path, body, site | {header: proofs[header]}).status_code == right


def test_a_revoked_key_stops_working_at_once(client, services):
    key, secret = keys.create(uow=services.uow(), role="server", name="erp")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/items", headers=headers).status_code == 200
    keys.revoke(uow=services.uow(), key_id=key.id)
    response = client.get("/v1/items", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json["detail"]


@pytest.mark.parametrize("path", PUBLIC)
def test_health_and_docs_need_no_key(client, path):
    assert client.get(path).status_code == 200


def test_browsers_from_allowed_origins_get_cors_headers(client):
    preflight = client.options(
        "/v1/items",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    proofs = client.options(
        "/v1/conversations/cv_1/messages",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, x-conversation-token, x-customer-hash",
        },
    )
    allowed = proofs.headers["Access-Control-Allow-Headers"].lower()
    assert "x-conversation-token" in allowed
    assert "x-customer-hash" in allowed
    stranger = client.options(
        "/v1/items", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_site_keys_work_only_from_allowed_origins(client, services):
    _key, secret = keys.create(uow=services.uow(), role="site", name="web")
    body = {"events": [EVENT]}
    allowed = client.post("/v1/events", json=body, headers={"Authorization": f"Bearer {secret}", "Origin": ORIGIN})
    assert allowed.status_code == 202
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    elsewhere = client.post(
        "/v1/events", json=body, headers={"Authorization": f"Bearer {secret}", "Origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403
    assert "origin https://evil.example" in elsewhere.json["detail"]
