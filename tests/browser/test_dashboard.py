"""A marketer signs in to /app/dashboard after a scripted day of conversations and sees the figures the API returns,
charts drawn by the vendored Chart.js, the conversations behind a figure, and the CSV; a rep cannot look."""

from __future__ import annotations

import json

import pytest

from api.dashboard import CHARTED
from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.catalog import items
from salesbot.config import Settings
from salesbot.inbox import reps

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect

WITHIN = 10_000


@pytest.fixture(scope="module")
def shop(live_server):
    services = bootstrap(Settings(database_url=live_server.env["SALESBOT_DATABASE_URL"], embeddings="off"))
    items.put(uow=services.uow(), item_id="lap-1", title="Arcbook Laptop", price="900", currency="EUR",
              category="laptops")  # fmt: skip
    yield services
    services.close()


@pytest.fixture(scope="module")
def day(live_server, shop) -> dict[str, str]:
    """Three visitors: one the bot serves and who rates it, one handed to a person, one who buys after talking."""
    server = keys.create(uow=shop.uow(), role="server", name="the shop")[1]

    def call(method: str, path: str, body: dict | None = None) -> dict:
        status, _headers, answer = live_server.request(
            method, path, key=server, body=None if body is None else json.dumps(body).encode()
        )
        assert status < 300, answer
        return answer

    def talk(visitor: str, *lines: str) -> str:
        cid = call("POST", "/v1/conversations", {"visitor_id": visitor})["conversation_id"]
        for line in lines:
            call("POST", f"/v1/conversations/{cid}/messages", {"text": line})
        return cid

    served = talk("v-1", "I need a laptop", "about 1000 EUR")
    call("POST", f"/v1/conversations/{served}/csat", {"score": 5})
    call("POST", f"/v1/conversations/{served}/close")
    human = talk("v-2", "I want to talk to a human")
    buyer = talk("v-3", "we need a laptop")
    call("POST", "/v1/events", {"events": [{"event_id": "b-1", "visitor_id": "v-3", "item_id": "lap-1",
                                             "type": "purchase"}]})  # fmt: skip
    return {"served": served, "human": human, "buyer": buyer, "server": server}


def sign_in(page, url: str, key: str):
    page.goto(f"{url}/app/inbox")
    page.fill("#key", key)
    page.click("#sign-in button[type=submit]")


def test_the_dashboard_shows_what_the_api_answers(live_server, shop, day, page):
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: "Content Security Policy" in m.text and problems.append(m.text))
    page.on("response", lambda r: r.status >= 400 and "favicon" not in r.url and problems.append(f"{r.status} {r.url}"))
    marketer = keys.create(uow=shop.uow(), role="marketer", name="marketing")[1]
    sign_in(page, live_server.url, marketer)
    expect(page).to_have_url(f"{live_server.url}/app/dashboard")
    expect(page.locator("h1")).to_have_text("salesbot dashboard")

    status, _headers, api = live_server.request("GET", "/v1/kpis", key=marketer)
    assert status == 200
    for figure in api["kpis"]:
        row = page.locator(f'tr[data-kpi="{figure["name"]}"]')
        shown = row.get_attribute("data-value")
        if figure["value"] is None:
            assert shown == ""
        else:
            assert float(shown) == pytest.approx(figure["value"]), figure["name"]
    started = page.locator('tr[data-kpi="conversations_started"] .value')
    expect(started).to_have_text("3")
    expect(page.locator('tr[data-kpi="handoff_rate"] .value')).to_have_text("33.3%")

    drawn = "() => [...document.querySelectorAll('canvas[data-chart]')].filter(c => c.chart && c.width > 0).length"
    page.wait_for_function(f"({drawn})() === {len(CHARTED)}", timeout=WITHIN)  # every chart drawn, by the library

    page.screenshot(path=str(live_server.folder / "dashboard.png"), full_page=True)
    csv_link = page.locator("a.export").get_attribute("href")
    csv = page.evaluate("async (href) => (await (await fetch(href)).text())", csv_link)
    assert len(csv.strip().splitlines()) == 1 + 3  # a header and one row per conversation

    page.locator('tr[data-kpi="handoff_rate"] .value a').click()
    expect(page.locator("#behind tbody tr")).to_have_count(1)
    expect(page.locator(f'#behind tr[data-conversation-id="{day["human"]}"]')).to_be_visible()

    page.goto(f"{live_server.url}/app/dashboard?by=channel")  # each slice links to its own conversations
    page.locator('tr[data-kpi="handoff_rate"] .slices a', has_text="web").click()
    expect(page.locator(f'#behind tr[data-conversation-id="{day["human"]}"]')).to_be_visible()
    expect(page.locator("#behind tbody tr")).to_have_count(1)
    assert problems == []


def test_a_rep_or_a_bad_filter_does_not_get_figures(live_server, shop, page):
    _rep, rep_key = reps.create(uow=shop.uow(), name="Ria", email="ria@shop.example")
    sign_in(page, live_server.url, rep_key)
    expect(page).to_have_url(f"{live_server.url}/app/inbox")
    page.goto(f"{live_server.url}/app/dashboard")
    expect(page.locator("#key")).to_be_visible()  # the sign-in form, not the figures
    assert page.locator("tr[data-kpi]").count() == 0

    marketer = keys.create(uow=shop.uow(), role="marketer", name="marketing 2")[1]
    page.context.clear_cookies()
    sign_in(page, live_server.url, marketer)
    answer = page.goto(f"{live_server.url}/app/dashboard?from=2026-11-20T00:00&to=2026-11-01T00:00")
    assert answer.status == 422
    expect(page.locator("#problem")).to_contain_text("from")
