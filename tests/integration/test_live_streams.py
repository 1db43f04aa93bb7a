"""Live streams over real HTTP, on SQLite (polling) and PostgreSQL (LISTEN/NOTIFY): a rep's reply written through
one app instance reaches the visitor's stream held by another, and a reconnect with Last-Event-ID resumes with
nothing lost and nothing twice."""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from api import create_app
from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.inbox import reps
from tests.integration.test_conversations import stock


class Served:
    """One app instance (its own services, as a separate process has) on a loopback port."""

    def __init__(self, database_url: str) -> None:
        self.services = bootstrap(Settings(database_url=database_url, conversation_rate_limit="1000/minute",
                                           embeddings="off"))  # fmt: skip
        self.server = make_server("127.0.0.1", 0, create_app(services=self.services), threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def call(self, method: str, path: str, key: str, body: dict | None = None) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read() or b"null")
        connection.close()
        return response.status, answer

    def close(self) -> None:
        self.server.shutdown()
        self.services.close()


def events(port: int, path: str, key: str, *, last_id: int | None = None) -> Iterator[dict]:
    """The stream's events as they come: {"id", "event", "data"}."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {key}"} | ({"Last-Event-ID": str(last_id)} if last_id is not None else {})
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")
    frame: dict = {}
    try:
        for raw in response:
            line = raw.decode().rstrip("\n")
            if not line:
                if "data" in frame:
                    yield {"id": int(frame["id"]), "event": frame["event"], "data": json.loads(frame["data"])}
                frame = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                frame[name] = value
    finally:
        connection.close()


@pytest.fixture
def two_apps(database_url):
    first = Served(database_url)
    stock(first.services)
    second = Served(database_url)
    yield first, second
    first.close()
    second.close()


def test_a_reply_through_one_instance_reaches_a_stream_on_another_and_resume_loses_nothing(two_apps):
    visitor_side, rep_side = two_apps
    server_key = keys.create(uow=visitor_side.services.uow(), role="server", name="store")[1]
    anna, rep_key = reps.create(uow=visitor_side.services.uow(), name="Anna", email="anna@shop.example")
    assert rep_side.call("POST", "/v1/inbox/presence", rep_key, {"status": "online"})[0] == 200
    _, started = visitor_side.call("POST", "/v1/conversations", server_key, {"visitor_id": "v-live"})
    cid = started["conversation_id"]
    visitor_side.call("POST", f"/v1/conversations/{cid}/messages", server_key, {"text": "I want to talk to a human"})
    assert rep_side.call("POST", f"/v1/conversations/{cid}/accept", rep_key)[0] == 200

    received: queue.Queue = queue.Queue()

    def listen() -> None:
        for event in events(visitor_side.port, f"/v1/conversations/{cid}/stream", server_key):
            received.put(event)

    threading.Thread(target=listen, daemon=True).start()
    backlog = [received.get(timeout=10) for _ in range(4)]  # greeting, visitor, hand-off reply, "Anna joined"
    assert [e["id"] for e in backlog] == [1, 2, 3, 4]
    assert backlog[-1]["data"]["author"] == "system"

    sent_at = time.monotonic()
    status, line = rep_side.call("POST", f"/v1/conversations/{cid}/replies", rep_key, {"text": "Hi, Anna here"})
    assert status == 201
    live = received.get(timeout=5)  # written through the other instance: PostgreSQL notifies, SQLite polls (1 s)
    assert time.monotonic() - sent_at < 3
    assert (live["id"], live["event"], live["data"]["author"], live["data"]["text"]) == (
        line["seq"], "message", "rep", "Hi, Anna here"
    )  # fmt: skip

    for n in range(3):  # more while the visitor is away
        rep_side.call("POST", f"/v1/conversations/{cid}/replies", rep_key, {"text": f"still here {n}"})
    resumed = events(visitor_side.port, f"/v1/conversations/{cid}/stream", server_key, last_id=live["id"])
    again = [next(resumed)["id"] for _ in range(3)]
    assert again == [live["id"] + 1, live["id"] + 2, live["id"] + 3]  # exactly the missed ones, none twice
    assert anna.id


def test_the_polling_fallback_and_the_inbox_stream(two_apps):
    visitor_side, rep_side = two_apps
    server_key = keys.create(uow=visitor_side.services.uow(), role="server", name="store")[1]
    _, rep_key = reps.create(uow=visitor_side.services.uow(), name="Ben", email="ben@shop.example")
    rep_side.call("POST", "/v1/inbox/presence", rep_key, {"status": "online"})
    inbox = events(rep_side.port, "/v1/inbox/stream", rep_key)
    assert next(inbox)["data"]["mine"] == []
    _, started = visitor_side.call("POST", "/v1/conversations", server_key, {"visitor_id": "v-poll"})
    cid = started["conversation_id"]
    visitor_side.call("POST", f"/v1/conversations/{cid}/messages", server_key, {"text": "agent please"})
    offered = next(inbox)["data"]
    assert [c["conversation_id"] for c in offered["mine"]] == [cid]  # the console hears of it without asking
    status, lines = visitor_side.call("GET", f"/v1/conversations/{cid}/messages?after=1", server_key)
    assert status == 200
    assert [line["seq"] for line in lines] == [2, 3]
