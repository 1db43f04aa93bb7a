"""The demo store at /demo: catalog pages with the chat widget on them, as a store would add it, so a newcomer sees
the whole product work after `make demo`. It answers 404 unless the operator gave it a site key."""

from __future__ import annotations

import hashlib
from html import escape

from flask import Response, abort, render_template, request, url_for

from api.access import own_origins
from api.console import Pages
from api.wiring import salesbot, uow
from salesbot.access import identity, keys
from salesbot.catalog import customers, items
from salesbot.catalog.demo import CATEGORIES
from salesbot.errors import NotFound, Unauthenticated

SHOWN = 24

blp = Pages(
    "demo",
    __name__,
    url_prefix="/demo",
    static_folder="static/demo",
    static_url_path="/static",
    description="A demo store with the chat widget on its pages (web pages, not API operations)",
)


@blp.after_request
def _secured(response: Response) -> Response:
    api = _widget_origin() or ""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {api}; style-src 'self'; img-src 'self' {api} https: data:; "
        f"frame-src 'self' {api}; connect-src 'self' {api}; frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _widget_origin() -> str | None:
    """Where the store's pages load the widget from: this server, or, when the page is reached on an origin the
    operator lists as a store's (CORS), the API's public address, as a store's own pages would."""
    settings = salesbot().settings
    if request.host_url.rstrip("/") not in settings.cors_origins:
        return None
    return own_origins(settings.public_url)[0]


@blp.route("", methods=["GET"])
def store():  # type: ignore[no-untyped-def]
    """A shelf of the catalog; `?category=` picks one, `?customer=` signs a demo customer in."""
    key = _site_key()
    category = request.args.get("category") or None
    shelf = items.get_page(uow=uow(), page_size=SHOWN, category=category, in_stock=True).rows
    page = {"category": category, "item_ids": [item.item_id for item in shelf[:10]]}
    return _page("demo/store.html", key, page, shelf=shelf, category=category)


@blp.route("/items/<item_id>", methods=["GET"])
def item(item_id: str):  # type: ignore[no-untyped-def]
    """One product's page: the widget knows which item and category the visitor is looking at."""
    key = _site_key()
    try:
        shown = items.get(uow=uow(), item_id=item_id)
    except NotFound:
        abort(404)
    page = {"category": shown.category, "item_ids": [shown.item_id]}
    return _page("demo/item.html", key, page, item=shown, category=shown.category)


@blp.route("/pictures/<item_id>.svg", methods=["GET"])
def picture(item_id: str) -> Response:
    """A placeholder picture per product: a colour from its id and its number."""
    hue = int(hashlib.sha256(item_id.encode()).hexdigest()[:4], 16) % 360
    label = escape(item_id[-5:])
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="220" viewBox="0 0 320 220">'
        f'<rect width="320" height="220" fill="hsl({hue},55%,82%)"/>'
        f'<circle cx="160" cy="100" r="54" fill="hsl({hue},45%,60%)"/>'
        f'<text x="160" y="196" font-family="sans-serif" font-size="22" text-anchor="middle" fill="#333">{label}</text>'
        "</svg>"
    )
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


def _page(template: str, key: str, page: dict, **values):  # type: ignore[no-untyped-def]
    customer = (request.args.get("customer") or "").strip()[:128] or None
    config = {"page": page, "identity": _identity(key, customer)}
    categories = [shelf.name for shelf in CATEGORIES]
    return render_template(
        template,
        key=key,
        config=config,
        customer=customer,
        categories=categories,
        locale=_locale(),
        widget=(_widget_origin() or "") + url_for("widget.loader"),
        **values,
    )


def _identity(key: str, customer: str | None) -> dict | None:
    """What the store's server computes for a signed-in customer: the HMAC of their id under the key's secret. Only
    for customers the catalog has (the demo's): this page signs anyone in without a password, so it must never
    carry a live store's key."""
    if customer is None or not customers.exists(uow=uow(), customer_id=customer):
        return None
    holder = keys.authenticate(uow=uow(), secret=key)
    if holder.identity_secret is None:
        return None
    return {"customer_id": customer, "hash": identity.sign(holder.identity_secret, customer)}


def _site_key() -> str:
    key = salesbot().settings.demo_site_key
    if not key:
        abort(404, "the demo store needs SALESBOT_DEMO_SITE_KEY (a site key); `make demo` sets one")
    try:
        keys.authenticate(uow=uow(), secret=key)
    except Unauthenticated:
        abort(404, "SALESBOT_DEMO_SITE_KEY is not a valid key; `make demo` makes one")
    return key


def _locale() -> str:
    asked = (request.args.get("locale") or "").lower()
    return asked if asked in {"en", "de", "fr", "es"} else "en"
