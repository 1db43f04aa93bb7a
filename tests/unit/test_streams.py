"""Server-Sent Events: frames a browser's EventSource understands, and streams that resume without gaps."""

from __future__ import annotations

import json
import threading
import time

import pytest

from salesbot.inbox.notices import PollingNotices
from salesbot.inbox.streams import comment, event, follow, last_event_id

CHANNEL = "conversation:cv_test"


def parse(stream: str) -> list[dict[str, str]]:
    """Events as the SSE specification's parser dispatches them (comments dropped; data lines joined)."""
    events, fields = [], {}
    for line in stream.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if fields:
                events.append(fields)
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            fields[name] = fields[name] + "\n" + value if name == "data" and name in fields else value
    return events


class Conversation:
    """Stored messages with their seq, as the database keeps them; `say` stores one and notifies."""

    def __init__(self, notices: PollingNotices | None = None) -> None:
        self.notices = notices
        self.messages: list[tuple[int, str, dict]] = []
        self.reads = 0
        self._lock = threading.Lock()

    def say(self, text: str, *, notify: bool = True) -> None:
        with self._lock:
            self.messages.append((len(self.messages) + 1, "message", {"text": text}))
        if notify and self.notices:
            self.notices.notify(CHANNEL)

    def read_after(self, after: int) -> list[tuple[int, str, dict]]:
        with self._lock:
            self.reads += 1
            return [message for message in self.messages if message[0] > after]


def seqs(frames: list[str]) -> list[int]:
    return [int(parsed["id"]) for parsed in parse("".join(frames)) if "id" in parsed]


def test_a_frame_is_one_event_with_its_json_on_one_line():
    data = {"text": "line one\nline two\r\nthree\u2028four", "emoji": "🙂", "nested": {"n": 1}}
    frame = event(id=7, kind="message", data=data)
    assert frame.endswith("\n\n")
    assert frame.count("\n") == 4
    [parsed] = parse(frame)
    assert parsed["id"] == "7"
    assert parsed["event"] == "message"
    assert json.loads(parsed["data"]) == data


def test_a_frame_without_an_id_leaves_the_last_event_id_alone():
    [parsed] = parse(event(id=None, kind="typing", data={}))
    assert "id" not in parsed
    assert parsed == {"event": "typing", "data": "{}"}


@pytest.mark.parametrize(("field", "value"), [("id", "1\n2"), ("kind", "message\r\nevent: fake")])
def test_a_frame_refuses_ids_and_kinds_that_would_forge_lines(field, value):
    values = {"id": 1, "kind": "message"} | {field: value}
    with pytest.raises(ValueError, match=field):
        event(id=values["id"], kind=values["kind"], data={})


def test_comments_keep_the_connection_busy_and_dispatch_nothing():
    assert comment("keep-alive") == ": keep-alive\n\n"
    assert comment() == ":\n\n"
    assert comment("two\nlines") == ": two\n: lines\n\n"
    assert parse(comment("keep-alive") + comment("two\nlines")) == []


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [
        ("42", None, 42),
        (None, "7", 7),
        ("12", "99", 12),
        (" 5 ", None, 5),
        ("abc", "5", 5),
        (None, None, 0),
        ("", "", 0),
        ("-1", None, 0),
        ("1e3", None, 0),
        ("3.5", None, 0),
        ("٣", None, 0),
        ("99999999999999999999999", None, 0),
        ("0x10", "garbage", 0),
    ],
)
def test_last_event_id_is_a_non_negative_int_or_zero(header, query, expected):
    assert last_event_id(header, query) == expected


def test_follow_sends_what_is_stored_then_what_arrives_without_duplicates_or_gaps():
    notices = PollingNotices(poll_seconds=0.2)
    conversation = Conversation(notices)
    for number in range(5):
        conversation.say(f"before {number}")

    def talk() -> None:
        for number in range(40):
            # A third of the messages come from "another process": no local notice, only the poll finds them.
            conversation.say(f"during {number}", notify=number % 3 != 0)
            time.sleep(0.005)

    talker = threading.Thread(target=talk)
    frames = []
    stream = follow(
        read_after=conversation.read_after, channels={CHANNEL}, notices=notices, after=0, heartbeat=5, max_seconds=30
    )
    talker.start()
    for frame in stream:
        frames.append(frame)
        if seqs(frames)[-1:] == [45]:
            break
    talker.join()
    assert seqs(frames) == list(range(1, 46))
    texts = [json.loads(parsed["data"])["text"] for parsed in parse("".join(frames))]
    assert texts[:6] == ["before 0", "before 1", "before 2", "before 3", "before 4", "during 0"]


def test_a_reconnecting_client_resumes_after_the_last_event_it_received():
    notices = PollingNotices(poll_seconds=0.05)
    conversation = Conversation(notices)
    for number in range(30):
        conversation.say(f"message {number}")
    received: list[str] = []
    first = follow(read_after=conversation.read_after, channels={CHANNEL}, notices=notices, after=0, max_seconds=5)
    for frame in first:
        received.append(frame)
        if len(received) == 12:
            break  # the connection drops here
    first.close()
    for number in range(30, 40):
        conversation.say(f"message {number}")
    header = parse("".join(received))[-1]["id"]
    second = follow(
        read_after=conversation.read_after,
        channels={CHANNEL},
        notices=notices,
        after=last_event_id(header, None),
        max_seconds=0.3,
    )
    received.extend(second)
    assert seqs(received) == list(range(1, 41))


def test_a_notice_sent_while_the_client_receives_a_frame_is_not_missed():
    notices = PollingNotices(poll_seconds=60)  # only notices wake the stream
    conversation = Conversation(notices)
    conversation.say("hello")
    stream = follow(
        read_after=conversation.read_after, channels={CHANNEL}, notices=notices, after=0, heartbeat=60, max_seconds=10
    )
    began = time.monotonic()
    frames = []
    for frame in stream:
        frames.append(frame)
        if len(frames) == 20:
            break
        conversation.say(f"reply {len(frames)}")  # between the stream's read and its next wait
    assert seqs(frames) == list(range(1, 21))
    assert time.monotonic() - began < 2


def test_an_idle_stream_sends_heartbeats():
    notices = PollingNotices(poll_seconds=60)
    conversation = Conversation(notices)
    began = time.monotonic()
    frames = list(
        follow(
            read_after=conversation.read_after,
            channels={CHANNEL},
            notices=notices,
            after=0,
            heartbeat=0.2,
            max_seconds=1,
        )
    )
    assert 0.9 <= time.monotonic() - began < 1.5
    assert 4 <= frames.count(": keep-alive\n\n") <= 5
    assert parse("".join(frames)) == []


def test_heartbeats_keep_their_pace_when_polls_wake_the_stream_often():
    notices = PollingNotices(poll_seconds=0.02)
    conversation = Conversation(notices)
    frames = list(
        follow(
            read_after=conversation.read_after,
            channels={CHANNEL},
            notices=notices,
            after=0,
            heartbeat=0.25,
            max_seconds=1,
        )
    )
    assert 3 <= frames.count(": keep-alive\n\n") <= 4
    assert conversation.reads > 20


def test_stop_ends_the_stream_at_the_next_wake_up():
    notices = PollingNotices(poll_seconds=60)
    conversation = Conversation(notices)
    conversation.say("hello")
    stopping = threading.Event()
    stream = follow(
        read_after=conversation.read_after,
        channels={CHANNEL},
        notices=notices,
        after=0,
        heartbeat=60,
        stop=stopping.is_set,
    )
    assert seqs([next(stream)]) == [1]
    threading.Timer(0.2, lambda: (stopping.set(), notices.close())).start()
    began = time.monotonic()
    assert list(stream) == []
    assert time.monotonic() - began < 1
