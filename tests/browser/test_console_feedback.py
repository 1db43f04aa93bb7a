"""In the rep console, a rep who took a conversation over rates the bot's lines (thumbs up or down, a reason) and
writes the reply the bot should have given; what they wrote shows as text, and the shop's API reads the same."""

from __future__ import annotations

import pytest

from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.inbox import reps
from tests.browser.test_console import HOSTILE, WITHIN, as_shop, sign_in

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect


@pytest.fixture(scope="module")
def shop(live_server):
    services = bootstrap(Settings(database_url=live_server.env["SALESBOT_DATABASE_URL"], embeddings="off"))
    yield services
    services.close()


def test_a_rep_rates_a_bot_line_and_writes_the_reply_it_should_have_given(live_server, shop, page):
    _cara, cara_key = reps.create(uow=shop.uow(), name="Cara", email="cara@shop.example")
    marketer_key = keys.create(uow=shop.uow(), role="marketer", name="marketing")[1]
    server_key = keys.create(uow=shop.uow(), role="server", name="the shop's server")[1]
    alerts, broken = [], []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: broken.append(str(error)))
    sign_in(page, live_server.url, cara_key)
    expect(page.locator("#presence")).to_be_checked(timeout=WITHIN)

    cid = as_shop(live_server, server_key, "POST", "/v1/conversations", {"visitor_id": "rated"})["conversation_id"]
    for text in ("we need a laptop", "I want to talk to a human"):
        as_shop(live_server, server_key, "POST", f"/v1/conversations/{cid}/messages", {"text": text})
    page.locator(f'#mine li[data-conversation-id="{cid}"] button').click(timeout=WITHIN)
    laptops = page.locator('#transcript li[data-seq="3"]')
    expect(laptops.locator(".text")).to_contain_text("noted")
    expect(laptops.get_by_role("button", name="Bad reply")).to_be_visible()  # offered to Cara: she may rate
    expect(laptops.get_by_role("button", name="Write the right reply")).to_be_hidden()  # not taken over yet
    page.click("#accept")
    expect(page.locator("#reply-text")).to_be_enabled(timeout=WITHIN)

    laptops.get_by_role("button", name="Bad reply").click()
    expect(laptops.get_by_role("button", name="Bad reply")).to_have_attribute("aria-pressed", "true")
    laptops.get_by_label("What was wrong").select_option("wrong_product")
    expect(laptops.locator(".tally")).to_have_text("0 up · 1 down · wrong product: 1")

    should = f"Which screen size do you need? {HOSTILE}"
    laptops.get_by_role("button", name="Write the right reply").click()
    laptops.get_by_label("The reply the bot should have given").fill(should)
    laptops.get_by_role("button", name="Save correction").click()
    expect(laptops.locator(".corrections li")).to_have_text(f"Should have said: {should}")
    assert page.locator("#transcript img").count() == 0  # the stored text shows as text

    greeting = page.locator('#transcript li[data-seq="1"]')
    greeting.get_by_role("button", name="Good reply").click()
    expect(greeting.locator(".tally")).to_have_text("1 up · 0 down")
    greeting.get_by_role("button", name="Good reply").click()  # pressed again: taken back
    expect(greeting.locator(".tally")).to_have_text("0 up · 0 down")
    expect(greeting.get_by_role("button", name="Good reply")).to_have_attribute("aria-pressed", "false")

    status, _headers, rated = live_server.request("GET", f"/v1/conversations/{cid}/ratings", key=marketer_key)
    assert status == 200
    assert [(row["seq"], row["rating"], row["reason"], row["correction"]) for row in rated] == [
        (3, "down", "wrong_product", should)
    ]
    page.reload()  # what the console shows comes from the server, not from the page's memory
    page.locator(f'#mine li[data-conversation-id="{cid}"] button').click(timeout=WITHIN)
    expect(laptops.locator(".corrections li")).to_have_text(f"Should have said: {should}", timeout=WITHIN)
    expect(laptops.get_by_role("button", name="Bad reply")).to_have_attribute("aria-pressed", "true")
    assert alerts == []
    assert broken == []
