"""On the dashboard a marketer sees the scheduled jobs with their last run and outcome (a failed run's error only for
admins) and follows the link to the questions the bot could not answer, grouped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.upkeep import runs
from tests.browser.test_dashboard import sign_in

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect

BROKEN = "EmbeddingsUnavailable: the model would not load"


@pytest.fixture(scope="module")
def shop(live_server):
    services = bootstrap(Settings(database_url=live_server.env["SALESBOT_DATABASE_URL"], embeddings="off"))
    yield services
    services.close()


@pytest.fixture(scope="module")
def upkept(live_server, shop) -> None:
    """A pruning run by `salesbot jobs run`, a failed re-embedding, and three questions the bot could not answer."""
    live_server.salesbot("jobs", "run", "prune-models")
    failing = runs.claim(new_uow=shop.uow, job="reembed", lease=timedelta(minutes=1), now=datetime.now(UTC),
                         every=None)  # fmt: skip
    runs.finish(uow=shop.uow(), run=failing, outcome="failed", now=datetime.now(UTC), error=BROKEN)
    server = keys.create(uow=shop.uow(), role="server", name="the shop")[1]
    for visitor, text in (("v-1", "Do you ship to Canada?"), ("v-2", "do you ship to canada"),
                          ("v-3", "Can you gift wrap it?")):  # fmt: skip
        status, _h, started = live_server.request("POST", "/v1/conversations", key=server,
                                                  body=json.dumps({"visitor_id": visitor}).encode())  # fmt: skip
        assert status == 201
        path = f"/v1/conversations/{started['conversation_id']}/messages"
        assert live_server.request("POST", path, key=server, body=json.dumps({"text": text}).encode())[0] == 200


def test_a_marketer_sees_the_jobs_and_the_unanswered_questions(live_server, shop, upkept, page):
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", lambda r: r.status >= 400 and "favicon" not in r.url and problems.append(f"{r.status} {r.url}"))
    marketer = keys.create(uow=shop.uow(), role="marketer", name="marketing")[1]
    sign_in(page, live_server.url, marketer)
    expect(page).to_have_url(f"{live_server.url}/app/dashboard")

    jobs = page.locator("#jobs")
    expect(jobs.locator("tbody tr")).to_have_count(5)
    pruning = jobs.locator('tr[data-job="prune-models"]')
    expect(pruning.locator(".outcome")).to_have_text("ok")
    expect(pruning.locator(".summary")).to_contain_text("nothing to prune")
    expect(jobs.locator('tr[data-job="retrain"] td').first).to_have_text("off")
    failed = jobs.locator('tr[data-job="reembed"]')
    expect(failed.locator(".outcome")).to_have_text("failed")
    expect(failed.locator(".summary")).to_have_text("the error is shown to admins")

    page.click("#gaps-link")
    expect(page.locator("#gaps tbody tr")).to_have_count(2)
    asked = [int(row.get_attribute("data-count")) for row in page.locator("#gaps tbody tr").all()]
    assert asked == [2, 1]
    expect(page.locator("#gaps tbody tr").first).to_contain_text("ship to canada", ignore_case=True)
    page.screenshot(path=str(live_server.folder / "faq-gaps.png"), full_page=True)
    assert problems == []


def test_an_admin_sees_why_a_job_failed(live_server, shop, upkept, page):
    admin = keys.create(uow=shop.uow(), role="admin", name="operator")[1]
    sign_in(page, live_server.url, admin)
    page.goto(f"{live_server.url}/app/dashboard")
    expect(page.locator('#jobs tr[data-job="reembed"] .summary')).to_have_text(BROKEN)
