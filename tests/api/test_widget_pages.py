"""The widget's loader and chat page, and the demo store, as the server hands them out: what a store's page and
a visitor's browser get, and what a hostile one does not."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import replace

import pytest

from api import create_app
from salesbot.access import identity, keys
from salesbot.bootstrap import bootstrap
from salesbot.catalog import customers, items
from tests.conftest import ORIGIN

CONFIG = re.compile(r'<script type="application/json" id="salesbot-config">(.*?)</script>', re.S)


def chat_config(page: str) -> dict:
    return json.loads(CONFIG.search(page).group(1))


def test_the_loader_is_gzipped_for_browsers_that_take_it_and_cached_for_minutes(client):
    zipped = client.get("/widget.js", headers={"Accept-Encoding": "gzip, br"})
    plain = client.get("/widget.js")
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(zipped.data) == plain.data
    assert plain.mimetype == "application/javascript"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert zipped.headers["Cache-Control"] == "public, max-age=300"
    assert len(zipped.data) <= 8 * 1024  # the page-speed budget a store pays on every page
    script = client.get("/widget/static/chat.js", headers={"Accept-Encoding": "gzip"})
    assert script.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(script.data) == client.get("/widget/static/chat.js").data
    assert client.get("/widget/static/strings.json").status_code == 404  # only the chat's own script and style


def test_the_chat_page_is_framed_only_by_listed_origins(client):
    refused = client.get("/widget/chat?key=pk_x&origin=https://evil.example")
    assert refused.status_code == 403
    assert "https://evil.example" in refused.json["detail"]
    served = client.get(f"/widget/chat?key=pk_x&origin={ORIGIN}&locale=de-AT")
    assert served.status_code == 200
    policy = served.headers["Content-Security-Policy"]
    assert policy.endswith(f"frame-ancestors 'self' {ORIGIN}")
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    config = chat_config(served.text)
    assert (config["origin"], config["locale"]) == (ORIGIN, "de")
    assert config["strings"]["send"] == "Senden"


def test_the_chat_page_keeps_hostile_query_values_inert(client):
    hostile = "</script><script>alert(1)</script>"
    served = client.get("/widget/chat", query_string={"key": hostile, "origin": ORIGIN, "color": "red;}body{x:y"})
    assert "<script>alert(1)" not in served.text
    config = chat_config(served.text)
    assert config["key"] == hostile  # kept as data, where it does no harm
    assert config["colour"] == "#1f6feb"  # not a colour: the default
    assert client.get("/widget/chat", query_string={"key": "k", "origin": ORIGIN, "locale": "xx"}).text.count(
        'lang="en"'
    )


def test_every_language_says_everything(client):
    english = chat_config(client.get(f"/widget/chat?key=k&origin={ORIGIN}").text)["strings"]
    for locale in ("de", "fr", "es"):
        said = chat_config(client.get(f"/widget/chat?key=k&origin={ORIGIN}&locale={locale}").text)["strings"]
        assert said.keys() == english.keys()
        assert said["send"] != english["send"]


def test_a_site_key_works_from_the_chat_page_s_own_origin_and_listed_ones_only(client, api_keys):
    site = {"Authorization": f"Bearer {api_keys['site']}"}
    own = client.post("/v1/conversations", json={"visitor_id": "v"}, headers=site | {"Origin": "http://localhost"})
    listed = client.post("/v1/conversations", json={"visitor_id": "v"}, headers=site | {"Origin": ORIGIN})
    other = client.post(
        "/v1/conversations", json={"visitor_id": "v"}, headers=site | {"Origin": "https://evil.example"}
    )
    assert (own.status_code, listed.status_code, other.status_code) == (201, 201, 403)
    # Behind a TLS proxy the request reaches the app as http://internal-host, but the chat's origin is the public one.
    public = site | {"Origin": "http://127.0.0.1:8000"}
    published = client.post("/v1/conversations", json={"visitor_id": "v"}, headers=public, base_url="http://10.0.0.7")
    assert published.status_code == 201


def test_the_demo_store_is_there_only_when_the_operator_gives_it_a_key(client):
    assert client.get("/demo").status_code == 404


@pytest.fixture
def demo(settings):
    services = bootstrap(settings)
    holder, secret = keys.create(uow=services.uow(), role="site", name="demo")
    items.put(uow=services.uow(), item_id="sku-1", title="Lumen <b>Laptop</b>", price="10", currency="EUR",
              category="laptops")  # fmt: skip
    customers.put(uow=services.uow(), customer_id="c-7")
    services.close()
    served = bootstrap(replace(settings, demo_site_key=secret))
    yield create_app(services=served).test_client(), secret, holder.identity_secret
    served.close()


def test_the_demo_store_carries_the_widget_and_signs_its_customer_in_as_a_store_server_would(demo):
    client, secret, identity_secret = demo
    page = client.get("/demo?customer=c-7")
    assert page.status_code == 200
    assert f'data-key="{secret}"' in page.text
    assert 'src="/widget.js"' in page.text
    assert identity.sign(identity_secret, "c-7") in page.text
    stranger = client.get("/demo?customer=c-unknown")  # the demo signs in only its own customers
    assert '"identity": null' in stranger.text
    assert "Lumen &lt;b&gt;Laptop&lt;/b&gt;" in page.text  # the catalog's text as text
    product = client.get("/demo/items/sku-1")
    assert product.status_code == 200
    assert '"item_ids": ["sku-1"]' in product.text
    assert client.get("/demo/items/nope").status_code == 404
    assert client.get("/demo/pictures/sku-1.svg").mimetype == "image/svg+xml"
