"""The OpenAPI document is valid, lists every endpoint, and /docs renders it without a CDN."""

from openapi_spec_validator import validate

PUBLIC_PATHS = {"/healthz", "/readyz"}


def test_the_openapi_document_is_valid(client):
    validate(client.get("/openapi.json").json)


def test_every_route_is_documented_with_its_security(app, client):
    spec = client.get("/openapi.json").json
    routes = {
        rule.rule.replace("<", "{").replace(">", "}")
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
