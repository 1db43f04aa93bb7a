"""The OpenAPI document is valid, lists every endpoint, and /docs renders it without a CDN."""

import re

from openapi_spec_validator import validate

PUBLIC_PATHS = {"/healthz", "/readyz"}


def test_the_openapi_document_is_valid(client):
    validate(client.get("/openapi.json").json)


def test_every_route_is_documented_with_its_security(app, client):
    spec = client.get("/openapi.json").json
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # `<int:seq>` is documented as `{seq}`
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1/") or rule.rule in PUBLIC_PATHS
    }
    assert routes <= set(spec["paths"])
    assert spec["security"] == [{"bearer": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert "Roles: admin, server" in spec["paths"]["/v1/items"]["get"]["description"]


def test_errors_are_documented_as_problems(client):
    spec = client.get("/openapi.json").json
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem["properties"])


def test_docs_page_loads_swagger_from_this_server(client):
    page = client.get("/docs").get_data(as_text=True)
    assert 'src="/docs/assets/swagger-ui-bundle.js"' in page
    with client.get("/docs/assets/swagger-ui-bundle.js") as script:
        assert script.status_code == 200
        assert len(script.data) > 100_000


def operations(spec):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", operation


def resolved(spec, response):
    return spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]] if "$ref" in response else response


def test_prices_are_documented_as_the_strings_they_are_sent_as(client):
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    prices = {
        name: schema["properties"]["price"] for name, schema in schemas.items() if "price" in schema["properties"]
    }
    assert {"ItemIn", "ItemOut", "SuggestionOut"} <= set(prices)
    for name, price in prices.items():
        assert price["type"] == "string", name
    assert schemas["SuggestionOut"]["properties"]["price"]["example"] == "19.99"


def test_every_error_is_documented_as_problem_json(client):
    spec = client.get("/openapi.json").json
    for label, operation in operations(spec):
        errors = {status: resolved(spec, r) for status, r in operation["responses"].items() if status[0] in "45"}
        assert errors, label
        for status, response in errors.items():
            assert set(response["content"]) == {"application/problem+json"}, (label, status)
            assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_each_operation_lists_the_errors_it_can_answer(client):
    spec = client.get("/openapi.json").json
    statuses = {label: set(operation["responses"]) for label, operation in operations(spec)}
    assert all("default" not in documented for documented in statuses.values())  # no catch-all hides a surprise
    assert {"401", "403", "429", "503"} <= statuses["GET /v1/items"]
    assert {"404", "422"} <= statuses["GET /v1/items/{item_id}"]
    assert {"400", "404", "413", "415", "422"} <= statuses["PUT /v1/items/{item_id}"]
    assert "409" in statuses["POST /v1/conversations/{conversation_id}/messages"]
    assert statuses["GET /healthz"].isdisjoint({"401", "403", "429"})


def test_documented_problems_are_what_the_app_answers(client):
    answer = client.get("/v1/items")
    assert answer.status_code == 401
    assert answer.content_type == "application/problem+json"
    assert set(answer.json) <= set(client.get("/openapi.json").json["components"]["schemas"]["Problem"]["properties"])
