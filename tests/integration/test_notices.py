"""Live-update notices on every backend this machine has: polling always, PostgreSQL and Redis when configured."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from salesbot.config import Settings
from salesbot.database import make_engine
from salesbot.errors import InvalidInput
from salesbot.inbox.notices import Notices, PollingNotices, PostgresNotices, RedisNotices, for_settings
from tests.conftest import fresh_postgres_url

REDIS_URL = os.environ.get("SALESBOT_TEST_REDIS_URL")
POLL_SECONDS = 2.0  # longer than any wake-up a test expects, so a poll never passes for a notice
RELAYED = [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("redis", marks=pytest.mark.redis)]
BACKENDS = ["poll", *RELAYED]


def channel() -> str:
    return f"conversation:cv_{uuid.uuid4().hex[:12]}"  # unique: other test runs may share the Redis server


@pytest.fixture
def open_notices(request) -> Iterator[Callable[[], Notices]]:
    """Opens notices of the test's backend; several of them play several processes."""
    made: list[Notices] = []
    engines = []
    if request.param == "postgres":
        engines.append(make_engine(fresh_postgres_url()))
    if request.param == "redis" and not REDIS_URL:
        pytest.skip("Redis tests need SALESBOT_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15)")

    def opened() -> Notices:
        if request.param == "postgres":
            made.append(PostgresNotices(engines[0]))
        elif request.param == "redis":
            made.append(RedisNotices(REDIS_URL))
        else:
            made.append(PollingNotices(poll_seconds=POLL_SECONDS))
        if request.param != "poll":
            # The first wait starts listening, and wakes once subscribed: what was sent before is for a re-read.
            assert made[-1].wait({channel()}, 10), "the listener did not subscribe within 10 s"
        return made[-1]

    yield opened
    for notices in made:
        notices.close()
    for engine in engines:
        engine.dispose()


@pytest.fixture
def notices(open_notices) -> Notices:
    return open_notices()


class Waiter(threading.Thread):
    """A stream's thread: ready to hear from `channels` before it signals, then waits once."""

    def __init__(self, notices: Notices, channels: set[str], timeout: float, start_together: threading.Barrier) -> None:
        super().__init__(daemon=True)
        self.notices, self.channels, self.timeout, self.start_together = notices, channels, timeout, start_together
        self.woke: bool | None = None
        self.woke_at = 0.0

    def run(self) -> None:
        self.notices.wait(self.channels, 0)  # as a stream does before it reads the database
        self.start_together.wait()
        self.woke = self.notices.wait(self.channels, self.timeout)
        self.woke_at = time.monotonic()


def notify_waiters(notices: Notices, waiters: list[Waiter], channel: str, start_together: threading.Barrier) -> float:
    """Start the waiters, notify `channel` once they wait, and return when the notice was sent."""
    for waiter in waiters:
        waiter.start()
    start_together.wait()
    time.sleep(0.2)
    sent = time.monotonic()
    notices.notify(channel)
    for waiter in waiters:
        waiter.join(timeout=10)
    return sent


@pytest.mark.parametrize("open_notices", BACKENDS, indirect=True)
def test_a_notice_wakes_a_waiting_stream_at_once(notices):
    news = channel()
    start_together = threading.Barrier(2)
    waiter = Waiter(notices, {news}, timeout=5, start_together=start_together)
    sent = notify_waiters(notices, [waiter], news, start_together)
    assert waiter.woke is True
    assert waiter.woke_at - sent < 1.0


@pytest.mark.parametrize("open_notices", RELAYED, indirect=True)
def test_a_stream_sleeps_through_other_conversations_news(notices):
    mine, other = channel(), channel()
    notices.wait({mine, other}, 0)
    notices.notify(other)
    began = time.monotonic()
    assert notices.wait({mine}, 1.0) is False
    assert time.monotonic() - began >= 0.9
    assert notices.wait({other}, 0) is True, "the other channel's notice arrived and is kept for its next wait"


@pytest.mark.parametrize("open_notices", BACKENDS, indirect=True)
def test_a_notice_that_arrives_while_the_stream_reads_is_kept(notices):
    news = channel()
    notices.wait({news}, 0)  # the stream waited, woke, and is now reading the database or writing to its client
    notices.notify(news)
    time.sleep(0.3)  # long enough for the notice to come back from PostgreSQL or Redis
    began = time.monotonic()
    assert notices.wait({news}, 5) is True
    assert time.monotonic() - began < 0.2
    assert notices.wait({news}, 0) is False, "a notice wakes each thread once"


def test_polling_looks_again_every_poll_seconds_without_any_notice():
    notices = PollingNotices(poll_seconds=0.3)
    began = time.monotonic()
    assert notices.wait({channel()}, 10) is True
    assert 0.25 <= time.monotonic() - began < 1.0
    assert notices.wait({channel()}, 0.1) is False


@pytest.mark.parametrize("open_notices", RELAYED, indirect=True)
def test_a_notice_from_another_process_wakes_a_stream_here(open_notices):
    writer, reader = open_notices(), open_notices()
    news = channel()
    start_together = threading.Barrier(2)
    waiter = Waiter(reader, {news}, timeout=5, start_together=start_together)
    sent = notify_waiters(writer, [waiter], news, start_together)
    assert waiter.woke is True
    assert waiter.woke_at - sent < 1.0


@pytest.mark.parametrize("open_notices", BACKENDS, indirect=True)
def test_two_hundred_streams_all_wake(notices):
    news = channel()
    start_together = threading.Barrier(201)
    waiters = [Waiter(notices, {news, channel()}, timeout=8, start_together=start_together) for _ in range(200)]
    sent = notify_waiters(notices, waiters, news, start_together)
    assert [waiter.woke for waiter in waiters] == [True] * 200
    assert max(waiter.woke_at for waiter in waiters) - sent < 1.0


@pytest.mark.parametrize("open_notices", RELAYED, indirect=True)
def test_close_ends_the_listener_and_wakes_who_waits(notices):
    listeners = [thread for thread in threading.enumerate() if thread.name.startswith("salesbot-notices-")]
    assert any(thread.is_alive() for thread in listeners)
    start_together = threading.Barrier(2)
    waiter = Waiter(notices, {channel()}, timeout=30, start_together=start_together)
    waiter.start()
    start_together.wait()
    time.sleep(0.2)
    began = time.monotonic()
    notices.close()
    waiter.join(timeout=5)
    assert waiter.woke is True
    assert time.monotonic() - began < 3
    assert not notices.listening


@pytest.mark.postgres
def test_a_dropped_postgres_listener_wakes_streams_and_listens_again():
    url = fresh_postgres_url()
    engine = make_engine(url)
    notices = PostgresNotices(engine)
    try:
        assert notices.wait({channel()}, 10)
        listener = listener_backend(engine)
        start_together = threading.Barrier(2)
        waiter = Waiter(notices, {channel()}, timeout=30, start_together=start_together)
        waiter.start()
        start_together.wait()
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": listener})
        waiter.join(timeout=10)
        assert waiter.woke is True, "a stream must read again: notices sent while nobody listened are lost"
        deadline = time.monotonic() + 10
        while listener_backend(engine) in {None, listener} and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        news = channel()
        start_together = threading.Barrier(2)
        waiter = Waiter(notices, {news}, timeout=5, start_together=start_together)
        sent = notify_waiters(notices, [waiter], news, start_together)
        assert waiter.woke is True
        assert waiter.woke_at - sent < 1.0
    finally:
        notices.close()
        engine.dispose()


def listener_backend(engine) -> int | None:
    with engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'salesbot-notices' AND query LIKE 'LISTEN%'"
            )
        ).scalar()


def test_notify_never_raises_when_the_server_is_gone():
    notices = RedisNotices("redis://127.0.0.1:1/0")  # nothing listens on port 1
    notices.notify(channel())
    news = channel()
    notices.wait({news}, 0)
    notices.notify(news)
    assert notices.wait({news}, 0) is True, "streams in this process still hear it"
    notices.close()


@pytest.mark.parametrize(
    ("database_url", "redis_url", "live_updates", "chosen"),
    [
        ("sqlite://", None, "auto", PollingNotices),
        ("sqlite://", "redis://127.0.0.1:6379/0", "auto", RedisNotices),
        ("postgresql+psycopg://db/shop", "redis://127.0.0.1:6379/0", "auto", PostgresNotices),
        ("postgresql+psycopg://db/shop", "redis://127.0.0.1:6379/0", "redis", RedisNotices),
        ("postgresql+psycopg://db/shop", None, "poll", PollingNotices),
        ("sqlite://", "redis://127.0.0.1:6379/0", "poll", PollingNotices),
    ],
)
def test_live_updates_setting_picks_the_backend(database_url, redis_url, live_updates, chosen):
    settings = Settings(database_url=database_url, redis_url=redis_url, live_updates=live_updates)
    engine = make_engine(database_url)
    notices = for_settings(settings, engine)
    assert type(notices) is chosen
    notices.close()
    engine.dispose()


@pytest.mark.parametrize(("live_updates", "problem"), [("postgres", "PostgreSQL"), ("redis", "SALESBOT_REDIS_URL")])
def test_a_forced_backend_the_deployment_lacks_is_refused(live_updates, problem):
    engine = make_engine("sqlite://")
    with pytest.raises(InvalidInput, match=problem) as refused:
        for_settings(Settings(database_url="sqlite://", live_updates=live_updates), engine)
    assert "SALESBOT_LIVE_UPDATES" in refused.value.errors
    engine.dispose()
