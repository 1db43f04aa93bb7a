"""The chat widget on the demo store, in headless Chromium: a visitor opens it, becomes a qualified lead, sees product
and offer cards, adds a product to the store's cart from the chat, reloads and resumes, hears a rep live and rates
the chat; a hostile product title stays text and a forged identity is refused. The store's page and the API are on
different origins (localhost and 127.0.0.1), as on a real store."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from models import Conversation, Event
from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.catalog import customers, items
from salesbot.config import Settings
from salesbot.inbox import reps
from salesbot.offers import offers
from salesbot.widget import triggers
from tests.conftest import LiveServer, free_port, serving

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect

WITHIN = 10_000  # ms
HOSTILE = "<img src=x onerror=alert(1)> Laptop"
LAPTOPS = [
    ("lap-1", "Arcbook Pro Laptop 14", "899.00"),
    ("lap-2", "Voltra Air Laptop 13", "749.00"),
    ("lap-3", HOSTILE, "499.00"),
]

TRIGGERS = [
    {"name": "laptop shoppers", "kind": "viewed_category", "category": "laptops", "max_shows": 1,
     "message": "Choosing a laptop? I can help you compare."},
    {"name": "big carts", "kind": "cart_value", "amount": 400.0, "max_shows": 1,
     "message": "Nice cart! Ask me about delivery."},
]  # fmt: skip


@dataclass
class Store:
    api: LiveServer
    page_url: str  # the demo store as a visitor reaches it: another origin than the API's
    server_key: str
    site_key: str
    identity_secret: str
    rep_key: str


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    port = free_port()
    api, made = f"http://127.0.0.1:{port}", {}

    def prepare(env: dict[str, str]) -> dict[str, str]:
        services = bootstrap(Settings(database_url=env["SALESBOT_DATABASE_URL"], embeddings="off"))
        try:
            for item_id, title, price in LAPTOPS:
                pages = {"url": f"{api}/demo/items/{item_id}", "image_url": f"{api}/demo/pictures/{item_id}.svg"}
                items.put(uow=services.uow(), item_id=item_id, title=title, price=price, currency="EUR",
                          category="laptops", attributes=pages)  # fmt: skip
            items.put(uow=services.uow(), item_id="mug-1", title="Coffee Mug", price="9.00", currency="EUR",
                      category="kitchen")  # fmt: skip
            customers.put(uow=services.uow(), customer_id="cust-1")
            offers.create(uow=services.uow(), changed_by=None, name="Welcome deal", kind="percent", value=10.0,
                          code="WELCOME10", terms="On your first order.")  # fmt: skip
            site, made["site_key"] = keys.create(uow=services.uow(), role="site", name="demo widget")
            made["identity_secret"] = site.identity_secret
            made["server_key"] = keys.create(uow=services.uow(), role="server", name="the shop")[1]
            made["rep_key"] = reps.create(uow=services.uow(), name="Anna", email="anna@shop.example")[1]
            for trigger in TRIGGERS:
                triggers.create(uow=services.uow(), **trigger)
        finally:
            services.close()
        return {
            "SALESBOT_DEMO_SITE_KEY": made["site_key"],
            "SALESBOT_CORS_ORIGINS": f"http://localhost:{port}",  # the store's pages; the API is at 127.0.0.1
            "SALESBOT_PUBLIC_URL": api,
        }

    with serving(tmp_path_factory.mktemp("widget"), port=port, prepare=prepare) as server:
        yield Store(api=server, page_url=f"http://localhost:{port}/demo", **made)


@pytest.fixture
def watched(page):
    """The page, with what would show a broken widget collected (its screenshot is kept when the test fails)."""
    problems: list[str] = []
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("pageerror", lambda error: problems.append(f"page error: {error} {error.stack}"))
    page.on("console", lambda m: m.type == "error" and "Content Security Policy" in m.text and problems.append(m.text))
    page.problems = problems
    return page


def chat(page):
    return page.frame_locator("#salesbot-widget iframe")


def open_widget(page, url: str):
    """The store's page with the chat opened and its greeting shown; the conversations it starts are collected."""
    page.add_init_script("window.__conversations = []")
    page.goto(url)
    page.evaluate("salesbot('on', 'conversation', d => window.__conversations.push(d.conversation_id))")
    page.locator("#salesbot-widget .launch").click()
    frame = chat(page)
    expect(frame.locator(".line.bot").first).to_be_visible(timeout=WITHIN)
    return frame


def started_conversation(page) -> str:
    return page.evaluate("window.__conversations[0]")


def say(frame, text: str, *, bot_lines_before: int) -> None:
    frame.locator("textarea").first.fill(text)
    frame.locator("textarea").first.press("Enter")
    expect(frame.locator(".line.bot")).to_have_count(bot_lines_before + 1, timeout=WITHIN)


def as_shop(store: Store, method: str, path: str, body: dict | None = None, key: str | None = None) -> dict:
    status, _headers, answer = store.api.request(
        method, path, key=key or store.server_key, body=None if body is None else json.dumps(body).encode()
    )
    assert status < 300, answer
    return answer


def test_a_visitor_becomes_a_qualified_lead_and_adds_a_product_from_the_chat(store, watched):
    page = watched
    frame = open_widget(page, store.page_url)
    expect(page.locator("#salesbot-widget .launch")).to_have_attribute("aria-expanded", "true")
    expect(frame.locator("textarea")).to_be_focused()

    say(frame, "I need a laptop for my work", bot_lines_before=frame.locator(".line.bot").count())
    say(frame, "my budget is 1000 EUR", bot_lines_before=frame.locator(".line.bot").count())
    cards = frame.locator(".card")
    expect(cards.first).to_be_visible()
    titles = cards.locator(".title").all_inner_texts()
    assert titles
    assert set(titles) <= {t for _i, t, _p in LAPTOPS}  # what fits what they said: laptops
    assert "Coffee Mug" not in titles
    expect(frame.locator(".offer")).to_contain_text("WELCOME10")
    expect(frame.locator(".offer")).to_contain_text("10% off")

    first = cards.first
    added = first.locator(".title").inner_text()
    first.locator(".add").click()
    expect(page.locator("#toast")).to_contain_text(f"Added {added} to your cart from the chat")
    expect(page.locator("#cart-count")).to_have_text("1")

    for answer in ("within 2 weeks", "I'm the office manager", "anna.b@example.com"):
        say(frame, answer, bot_lines_before=frame.locator(".line.bot").count())
    cid = started_conversation(page)
    transcript = as_shop(store, "GET", f"/v1/conversations/{cid}")
    assert transcript["lead"]["status"] == "qualified", transcript["lead"]
    item_id = next(i for i, t, _p in LAPTOPS if t == added)
    assert as_shop(store, "GET", f"/v1/items/{item_id}")["counts"]["click"] == 1
    click = stored(store, select(Event).where(Event.item_id == item_id, Event.type == "click"))[0]
    assert click.recommendation_id  # the recommender learns which of its picks was taken
    assert page.problems == []


def stored(store: Store, query):  # type: ignore[no-untyped-def]
    """Rows as the database holds them."""
    engine = create_engine(store.api.env["SALESBOT_DATABASE_URL"])
    try:
        with Session(engine) as session:
            return list(session.scalars(query))
    finally:
        engine.dispose()


def test_the_conversation_survives_a_reload_and_a_new_one_can_start(store, watched):
    page = watched
    frame = open_widget(page, store.page_url)
    say(frame, "I need a laptop", bot_lines_before=frame.locator(".line.bot").count())
    lines_before = frame.locator(".line").count()
    page.reload()
    page.locator("#salesbot-widget .launch").click()
    frame = chat(page)
    expect(frame.locator(".line")).to_have_count(lines_before, timeout=WITHIN)
    expect(frame.locator(".line.visitor")).to_contain_text(["I need a laptop"])

    frame.locator("[data-action=new]").click()
    expect(frame.locator(".line.visitor")).to_have_count(0, timeout=WITHIN)
    expect(frame.locator(".line.bot")).to_have_count(1, timeout=WITHIN)


def test_a_rep_reply_arrives_live_and_the_visitor_rates_the_chat(store, watched):
    page = watched
    as_shop(store, "POST", "/v1/inbox/presence", {"status": "online"}, key=store.rep_key)
    frame = open_widget(page, store.page_url)
    say_to_human = frame.locator("textarea")
    say_to_human.fill("I want to talk to a human")
    say_to_human.press("Enter")
    expect(frame.locator(".notice")).to_contain_text("line", timeout=WITHIN)  # queued, with its position

    waiting = as_shop(store, "GET", "/v1/inbox", key=store.rep_key)
    conversation_id = (waiting["mine"] + waiting["queue"])[0]["conversation_id"]
    as_shop(store, "POST", f"/v1/conversations/{conversation_id}/accept", key=store.rep_key)
    expect(frame.locator(".system")).to_contain_text(["Anna joined the conversation."], timeout=WITHIN)
    as_shop(
        store, "POST", f"/v1/conversations/{conversation_id}/replies", {"text": "Hi, Anna here!"}, key=store.rep_key
    )
    rep_line = frame.locator(".line.rep")
    expect(rep_line).to_contain_text("Hi, Anna here!", timeout=WITHIN)  # no reload: the stream
    expect(rep_line.locator(".who")).to_have_text("Anna")

    as_shop(store, "POST", f"/v1/conversations/{conversation_id}/resolve", key=store.rep_key)
    csat = frame.locator(".csat")
    expect(csat).to_be_visible(timeout=WITHIN)
    expect(frame.locator("form.compose")).to_be_hidden()
    csat.locator(".star").nth(3).click()
    csat.locator(".comment").fill("Quick and friendly")
    csat.locator(".send").click()
    expect(csat).to_contain_text("Thank you for your feedback.")
    assert as_shop(store, "GET", f"/v1/conversations/{conversation_id}")["csat"] == 4
    assert page.problems == []


def test_a_hostile_product_title_renders_as_text(store, watched):
    page = watched
    frame = open_widget(page, store.page_url)
    say(frame, "I need a laptop", bot_lines_before=frame.locator(".line.bot").count())
    say(frame, "my budget is 600 EUR", bot_lines_before=frame.locator(".line.bot").count())
    expect(frame.locator(".card .title")).to_contain_text([HOSTILE], timeout=WITHIN)
    assert frame.locator(".card .title img, .line img").count() == 0
    assert page.problems == []  # no alert ran


def test_a_forged_identity_hash_is_refused_and_the_visitor_stays_anonymous(store, watched):
    page = watched
    page.add_init_script("window.__refused = []")
    page.goto(store.page_url)
    page.evaluate("""() => {
        salesbot('on', 'identity_refused', d => window.__refused.push(d.customer_id));
        salesbot('identify', {customer_id: 'c-victim', hash: '0'.repeat(64)});
    }""")
    page.locator("#salesbot-widget .launch").click()
    frame = chat(page)
    expect(frame.locator(".line.bot").first).to_be_visible(timeout=WITHIN)
    assert page.evaluate("window.__refused") == ["c-victim"]
    assert stored(store, select(Conversation).where(Conversation.customer_id == "c-victim")) == []
    logged = (store.api.folder / "gunicorn.log").read_text()
    assert "acting for customer 'c-victim': the identity hash is not theirs" in logged  # refused, and logged


def test_the_chat_is_framed_only_by_allowed_origins(store):
    for stranger in ("https://evil.example", "http://localhost:1"):
        refused, _headers, _body = store.api.request("GET", f"/widget/chat?key=x&origin={stranger}")
        assert refused == 403
    allowed = store.page_url.removesuffix("/demo")
    with urllib.request.urlopen(f"{store.api.url}/widget/chat?key=x&origin={allowed}", timeout=10) as answer:
        policy = answer.headers["Content-Security-Policy"]
    assert policy.endswith(f"frame-ancestors 'self' {allowed}")  # browsers refuse to frame it anywhere else


def test_a_marketer_s_trigger_nudges_once_and_opens_the_chat(store, watched):
    page = watched
    page.goto(f"{store.page_url}?category=laptops")
    nudge = page.locator("#salesbot-widget .nudge .say")
    expect(nudge).to_have_text("Choosing a laptop? I can help you compare.", timeout=WITHIN)
    nudge.click()
    expect(chat(page).locator(".line.bot").first).to_be_visible(timeout=WITHIN)

    page.reload()  # shown once per visitor: not again
    expect(page.locator("#salesbot-widget .launch")).to_be_visible()
    page.wait_for_timeout(1500)
    expect(nudge).to_be_hidden()

    page.goto(store.page_url)  # the cart's value fires the other one
    expect(nudge).to_be_hidden()
    page.locator("main button.add").first.click()  # lap-1, 899 EUR: over the trigger's 400
    expect(nudge).to_have_text("Nice cart! Ask me about delivery.", timeout=WITHIN)
    assert page.problems == []


def test_when_the_api_is_unreachable_the_visitor_is_told_and_can_retry(store, watched):
    page = watched
    page.route("**/v1/conversations**", lambda route: route.abort())
    page.goto(store.page_url)
    page.locator("#salesbot-widget .launch").click()
    frame = chat(page)
    expect(frame.locator(".notice")).to_contain_text("We can't reach the chat right now.", timeout=WITHIN)
    page.unroute("**/v1/conversations**")
    frame.locator(".notice .retry").click()
    expect(frame.locator(".line.bot").first).to_be_visible(timeout=WITHIN)
    expect(frame.locator(".notice")).to_be_hidden()


def test_without_the_stream_a_rep_reply_still_arrives_by_polling(store, watched):
    page = watched
    page.route("**/stream", lambda route: route.abort())  # a proxy that will not pass Server-Sent Events
    as_shop(store, "POST", "/v1/inbox/presence", {"status": "online"}, key=store.rep_key)
    frame = open_widget(page, store.page_url)
    say(frame, "Can I speak to a person please", bot_lines_before=1)
    waiting = as_shop(store, "GET", "/v1/inbox", key=store.rep_key)
    conversation_id = (waiting["mine"] + waiting["queue"])[0]["conversation_id"]
    as_shop(store, "POST", f"/v1/conversations/{conversation_id}/accept", key=store.rep_key)
    rep_says = {"text": "Anna here, by polling"}
    as_shop(store, "POST", f"/v1/conversations/{conversation_id}/replies", rep_says, key=store.rep_key)
    expect(frame.locator(".line.rep")).to_contain_text("Anna here, by polling", timeout=WITHIN)
    as_shop(store, "POST", f"/v1/conversations/{conversation_id}/resolve", key=store.rep_key)


def test_keyboard_language_and_small_screens(store, browser):
    context = browser.new_context(viewport={"width": 375, "height": 700}, locale="de-DE")
    page = context.new_page()
    try:
        page.goto(f"{store.page_url}?locale=de")
        launch = page.locator("#salesbot-widget .launch")
        expect(launch).to_have_attribute("aria-label", "Chat öffnen")
        launch.focus()
        page.keyboard.press("Enter")
        frame = chat(page)
        expect(frame.locator("textarea")).to_have_attribute("placeholder", "Ihre Nachricht", timeout=WITHIN)
        expect(frame.locator("textarea")).to_be_focused(timeout=WITHIN)
        box = page.locator("#salesbot-widget .panel").bounding_box()
        assert box is not None
        assert (box["width"], box["height"]) == (375, 700)  # the whole screen on a phone
        page.keyboard.press("Escape")
        expect(page.locator("#salesbot-widget .panel")).to_be_hidden()
        expect(launch).to_be_focused()
        expect(launch).to_have_attribute("aria-expanded", "false")
    finally:
        context.close()


def test_a_signed_in_customer_s_conversation_is_not_resumed_by_whoever_uses_the_computer_next(store, watched):
    page = watched
    frame = open_widget(page, f"{store.page_url}?customer=cust-1")
    say(frame, "I need a laptop, this is private", bot_lines_before=1)
    frame = open_widget(page, store.page_url)  # signed out: the next person at this computer
    expect(frame.locator(".line.visitor")).to_have_count(0)
    frame = open_widget(page, f"{store.page_url}?customer=cust-1")  # the customer again: theirs is back
    expect(frame.locator(".line.visitor")).to_contain_text(["I need a laptop, this is private"], timeout=WITHIN)
    started = stored(store, select(Conversation).where(Conversation.customer_id == "cust-1"))
    assert len(started) == 1


def test_a_conversation_closed_elsewhere_asks_for_a_rating_at_once(store, watched):
    page = watched
    frame = open_widget(page, store.page_url)
    conversation_id = started_conversation(page)
    as_shop(store, "POST", f"/v1/conversations/{conversation_id}/close")  # the store's server ends it
    expect(frame.locator(".csat")).to_be_visible(timeout=WITHIN)
    expect(frame.locator(".system.ended")).to_have_count(1)


def test_the_stream_is_read_whatever_line_endings_a_proxy_gives_it(store, watched):
    page = watched
    line = {"seq": 2, "author": "rep", "text": "Hello through a CRLF proxy", "rep": {"name": "Anna"}, "items": [],
            "offer": None, "quick_replies": [], "event": None, "at": None}  # fmt: skip
    body = f"retry: 1000\r\n: heartbeat\r\n\r\nid: 2\r\nevent: message\r\ndata: {json.dumps(line)}\r\n\r\n"
    page.route("**/stream", lambda route: route.fulfill(status=200, body=body,
                                                        headers={"Content-Type": "text/event-stream"}))  # fmt: skip
    frame = open_widget(page, store.page_url)
    expect(frame.locator(".line.rep")).to_contain_text("Hello through a CRLF proxy", timeout=WITHIN)
    expect(frame.locator(".line.rep")).to_have_count(1)  # and only once, though the stream is read again
