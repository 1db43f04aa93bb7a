"""A rep signs in to the console at /app/inbox, sees a hand-off arrive without reloading, accepts it and talks with
the visitor, who hears the rep on their own stream; stored text shows as text, and the cookie alone changes nothing."""

from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable

import pytest

from api.console import WRONG_KEY
from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.inbox import reps

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright").expect

WITHIN = 10_000  # ms: live updates arrive within a second or two; this is the most a slow machine may take
HOSTILE = "<img src=x onerror=alert(1)>"
FORGE_A_REPLY = """async (conversationId) => (await fetch(`/v1/conversations/${conversationId}/replies`, {
  method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
  body: JSON.stringify({text: "forged"}),
})).status"""
CALL_THE_INBOX = "async () => (await fetch('/v1/inbox', {credentials: 'same-origin'})).status"


@pytest.fixture(scope="module")
def streams_let_the_server_stop():
    """Open streams hold gunicorn's graceful stop for up to 30 s (its default), longer than the shared fixture waits."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GUNICORN_CMD_ARGS", "--graceful-timeout 5")
        yield


@pytest.fixture(scope="module")
def live_server(streams_let_the_server_stop, live_server):
    return live_server


@pytest.fixture(scope="module")
def shop(live_server):
    services = bootstrap(Settings(database_url=live_server.env["SALESBOT_DATABASE_URL"], embeddings="off"))
    yield services
    services.close()


@pytest.fixture(scope="module")
def server_key(shop) -> str:
    return keys.create(uow=shop.uow(), role="server", name="the shop's server")[1]


def sign_in(page, url: str, key: str):
    """Fill the sign-in form as a rep would; the answer to the form's POST."""
    page.goto(f"{url}/app/inbox")
    page.fill("#key", key)
    with page.expect_response(lambda response: response.url.endswith("/app/sign-in")) as answer:
        page.click("#sign-in button[type=submit]")
    return answer.value


def as_shop(live_server, server_key: str, method: str, path: str, body: dict | None = None) -> dict:
    """The shop's server speaking for its visitor, through the HTTP API."""
    status, _headers, answer = live_server.request(
        method, path, key=server_key, body=None if body is None else json.dumps(body).encode()
    )
    assert status < 300, answer
    return answer


class VisitorStream:
    """The visitor's side: a raw reader of the conversation's Server-Sent Events, in a thread."""

    def __init__(self, url: str, conversation_id: str, key: str) -> None:
        where = urllib.parse.urlsplit(url)
        self.connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
        self.connection.connect()
        self.socket = self.connection.sock
        self.path, self.key = f"/v1/conversations/{conversation_id}/stream", key
        self.events: queue.Queue = queue.Queue()
        self.closing = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            self.connection.request("GET", self.path, headers={"Authorization": f"Bearer {self.key}"})
            response = self.connection.getresponse()
            assert response.status == 200, response.status
            kind, data = "message", []
            while raw := response.readline():
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    kind = line[len("event:") :].strip()
                elif line.startswith("data:"):
                    data.append(line[len("data:") :].removeprefix(" "))
                elif not line and data:
                    self.events.put((kind, json.loads("\n".join(data))))
                    kind, data = "message", []
        except Exception as problem:  # handed to the test, which raises it
            if not self.closing:
                self.events.put(problem)

    def wait_for(self, wanted: Callable[[dict], bool], seconds: float = WITHIN / 1000) -> dict:
        """The first `message` event whose data is `wanted`."""
        deadline = time.monotonic() + seconds
        while True:
            item = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(item, Exception):
                raise item
            kind, data = item
            if kind == "message" and wanted(data):
                return data

    def close(self) -> None:
        self.closing = True
        self.socket.shutdown(socket.SHUT_RDWR)  # the reader's next read ends; then the connection is ours to close
        self.thread.join(timeout=5)
        self.connection.close()


def test_a_rep_takes_a_hand_off_and_talks_with_the_visitor_live(live_server, shop, server_key, page):
    anna, anna_key = reps.create(uow=shop.uow(), name="Anna", email="anna@shop.example")
    alerts, broken = [], []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: broken.append(str(error)))
    page.on("console", lambda message: "Content Security Policy" in message.text and broken.append(message.text))
    assert sign_in(page, live_server.url, anna_key).status == 303
    expect(page.locator("#me")).to_have_text("Anna")
    expect(page.locator("#presence")).to_be_checked(timeout=WITHIN)  # opening the console puts Anna online

    cid = as_shop(live_server, server_key, "POST", "/v1/conversations", {"visitor_id": "browser"})["conversation_id"]
    asking = {"text": "I want to talk to a human"}
    asked = as_shop(live_server, server_key, "POST", f"/v1/conversations/{cid}/messages", asking)
    assert asked["conversation_status"] == "awaiting_human"
    offered = page.locator(f'#mine li[data-conversation-id="{cid}"]')
    expect(offered).to_contain_text("offered to you", timeout=WITHIN)  # no reload: the inbox's own stream

    visitor = VisitorStream(live_server.url, cid, server_key)
    try:
        offered.locator("button").click()
        expect(page.locator("#packet")).to_contain_text("the visitor asked for a person")
        expect(page.locator("#packet")).to_contain_text("Last said: I want to talk to a human")
        expect(page.locator("#transcript")).to_contain_text("I want to talk to a human")
        page.click("#accept")
        expect(page.locator("#reply-text")).to_be_enabled(timeout=WITHIN)
        expect(offered).to_contain_text("live with you")

        assert page.evaluate(FORGE_A_REPLY, cid) == 403  # the session cookie without the page's CSRF token

        typed = "Hi, I'm Anna. 20 laptops, sure: which model?"
        page.fill("#reply-text", typed)
        page.click("#send")
        heard = visitor.wait_for(lambda line: line["author"] == "rep")
        assert heard["text"] == typed  # the first rep line the visitor hears; the forged one never came
        assert heard["rep"]["name"] == "Anna"
        expect(page.locator("#reply-text")).to_have_value("")

        as_shop(live_server, server_key, "POST", f"/v1/conversations/{cid}/messages", {"text": HOSTILE})
        said = page.locator("#transcript li[data-author=visitor]").last
        expect(said.locator(".text")).to_have_text(HOSTILE, timeout=WITHIN)  # live, and as the visitor typed it
        assert page.locator("#transcript img, #packet img, #mine img").count() == 0
        expect(page.locator("#packet")).to_contain_text(f"Last said: {HOSTILE}", timeout=WITHIN)
        page.screenshot(path=str(live_server.folder / "console.png"))
    finally:
        visitor.close()
    assert alerts == []  # the hostile text ran nothing
    assert broken == []

    page.click(".sign-out button")
    expect(page.locator("#key")).to_be_visible()
    assert page.evaluate(CALL_THE_INBOX) == 401
    assert reps.get(uow=shop.uow(), rep_id=anna.id).presence == "away"  # nobody is offered work after signing out


def test_a_wrong_key_is_refused_with_a_clear_message_and_nothing_else(live_server, server_key, page):
    for wrong in ("sk_this-is-not-a-key", server_key):  # a real key that is not a rep's is refused the same way
        answer = sign_in(page, live_server.url, wrong)
        assert answer.status == 401
        expect(page.locator("#problem")).to_have_text(WRONG_KEY)
        expect(page.locator("#key")).to_have_value("")
    assert answer.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert page.evaluate(CALL_THE_INBOX) == 401


def test_when_the_live_stream_fails_the_console_checks_every_few_seconds(live_server, shop, server_key, page):
    _ben, ben_key = reps.create(uow=shop.uow(), name="Ben", email="ben@shop.example")
    page.route("**/stream*", lambda route: route.abort())  # a proxy that will not pass Server-Sent Events
    sign_in(page, live_server.url, ben_key)
    expect(page.locator("#presence")).to_be_checked(timeout=WITHIN)
    expect(page.locator("#link")).to_have_text("checking every 5 s")

    cid = as_shop(live_server, server_key, "POST", "/v1/conversations", {"visitor_id": "behind-a-proxy"})[
        "conversation_id"
    ]
    as_shop(live_server, server_key, "POST", f"/v1/conversations/{cid}/messages", {"text": "a human please"})
    expect(page.locator(f'#mine li[data-conversation-id="{cid}"]')).to_contain_text("offered to you", timeout=WITHIN)
