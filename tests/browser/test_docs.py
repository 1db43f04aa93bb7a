"""A new user opens /docs and sees every endpoint, rendered offline from the bundled Swagger UI."""

import pytest

pytestmark = pytest.mark.browser


def test_docs_list_the_endpoints(live_server, page):
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda response: response.status >= 400 and failed.append(response.url))
    page.goto(f"{live_server.url}/docs", wait_until="networkidle")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert {"/v1/items", "/v1/items/{item_id}", "/v1/customers/{customer_id}", "/healthz"} <= {
        p.replace("\u200b", "") for p in paths
    }
    assert failed == [], "the docs page tried to load something it could not reach"
    page.screenshot(path=str(live_server.folder / "docs.png"))
