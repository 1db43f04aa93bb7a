"""Wake-ups for live streams: "channel X has something new" crosses processes; the data never does.

A stream reads the database, then waits here until a channel it follows may have something new, then reads again.
A spurious wake-up costs one read; a lost one would leave a screen stale, so every doubt (a backend just connected
or reconnected, a write that could not be announced) wakes waiters rather than not.

Which thread waited matters: `wait` returns True at once when a channel was notified after the same thread's previous
`wait` on it returned, so a notice that arrives while the thread reads the database or writes to its client is kept.
A thread follows one stream at a time (true of WSGI workers, threads and greenlets alike).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator
from typing import Any, Protocol

import psycopg
import redis
from sqlalchemy import Engine, text

from salesbot.config import Settings
from salesbot.errors import InvalidInput

log = logging.getLogger(__name__)

TOPIC = "salesbot_live"  # the one PostgreSQL channel (Redis: prefix) every process listens to; payload: our channel
TICK_SECONDS = 0.5
# Without a server to relay notices (SQLite), streams look at the database this often: another process's reply
# reaches a visitor within it (bench/live.py: at 1.0 s the p99 sat on the 1 s target).
POLL_SECONDS = 0.5  # how often a listener looks up from the wire to see whether it was closed
MAX_CHANNEL_BYTES = 7000  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
REMEMBERED_CHANNELS = 10_000  # channels whose last notice a process keeps before it forgets the idle ones
SEEN_PER_THREAD = 1_000  # channels a thread remembers; past it, only those it follows now


class Notices(Protocol):
    def notify(self, channel: str) -> None:
        """Tell every process that `channel` may have something new; cheap, and never raises (it logs)."""

    def wait(self, channels: Collection[str], timeout: float) -> bool:
        """Block until one of `channels` is notified (True) or `timeout` seconds pass (False).

        True at once when one was notified since this thread's previous wait on it returned; True too, without a
        notice, when the backend may have missed some (it connected or reconnected): read again either way.
        """

    def close(self) -> None:
        """Stop listening; threads waiting now are woken."""


def for_settings(settings: Settings, engine: Engine) -> Notices:
    """The notices `SALESBOT_LIVE_UPDATES` asks for; `auto` takes the best the deployment has."""
    mode = settings.live_updates
    on_postgres = engine.dialect.name == "postgresql"
    if mode == "postgres" and not on_postgres:
        raise InvalidInput.for_field("SALESBOT_LIVE_UPDATES", "`postgres` needs a PostgreSQL SALESBOT_DATABASE_URL")
    if mode == "redis" and not settings.redis_url:
        raise InvalidInput.for_field("SALESBOT_LIVE_UPDATES", "`redis` needs SALESBOT_REDIS_URL")
    if mode == "postgres" or (mode == "auto" and on_postgres):
        return PostgresNotices(engine)
    if settings.redis_url and mode in {"redis", "auto"}:
        return RedisNotices(settings.redis_url)
    return PollingNotices(poll_seconds=POLL_SECONDS)


class Bell:
    """One process's wake-ups: which channel rang when, and which waiting threads to wake."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rings = 0
        self._last_ring: dict[str, int] = {}  # channel -> number of the ring that last rang it
        self._floor = 0  # the number channels not in _last_ring count as last rung with
        self._waiting: dict[str, set[threading.Event]] = {}
        self._seen = threading.local()  # per thread: channel -> ring number when its last wait returned

    def ring(self, channel: str) -> None:
        with self._lock:
            self._rings += 1
            self._last_ring[channel] = self._rings
            for waiter in self._waiting.get(channel, ()):
                waiter.set()
            if len(self._last_ring) > REMEMBERED_CHANNELS:
                self._forget_idle()

    def ring_all(self) -> None:
        """Every channel may have something new (a backend connected, or lost its connection)."""
        with self._lock:
            self._rings += 1
            self._floor = self._rings
            self._last_ring.clear()
            for waiters in self._waiting.values():
                for waiter in waiters:
                    waiter.set()

    def wait(self, channels: Collection[str], timeout: float) -> bool:
        channels = (channels,) if isinstance(channels, str) else channels  # "inbox" is one channel, not five
        seen = self._seen_by_this_thread(channels)
        waiter = threading.Event()
        with self._lock:
            since = {channel: seen.get(channel, self._last(channel)) for channel in channels}
            rang = self._rang(since)
            if not rang:
                for channel in channels:
                    self._waiting.setdefault(channel, set()).add(waiter)
        if not rang and timeout > 0:
            waiter.wait(timeout)
        with self._lock:
            for channel in channels:
                self._stop_waiting(channel, waiter)
            for channel in channels:
                seen[channel] = self._last(channel)
            return rang or self._rang(since)

    def _last(self, channel: str) -> int:
        return self._last_ring.get(channel, self._floor)

    def _rang(self, since: dict[str, int]) -> bool:
        return any(self._last(channel) > ring for channel, ring in since.items())

    def _stop_waiting(self, channel: str, waiter: threading.Event) -> None:
        waiters = self._waiting.get(channel)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiting[channel]

    def _forget_idle(self) -> None:
        # Raising the floor makes a thread that last looked before a forgotten ring look again: spurious, never lost.
        idle = [channel for channel in self._last_ring if channel not in self._waiting]
        self._floor = max(self._floor, *(self._last_ring.pop(channel) for channel in idle), 0)

    def _seen_by_this_thread(self, channels: Collection[str]) -> dict[str, int]:
        seen: dict[str, int] | None = getattr(self._seen, "rings", None)
        if seen is None:
            seen = self._seen.rings = {}
        elif len(seen) > SEEN_PER_THREAD:  # streams this thread served before: their channels are no longer followed
            for channel in [channel for channel in seen if channel not in channels]:
                del seen[channel]
        return seen


class PollingNotices:
    """One process, or SQLite: local notices wake at once; every `poll_seconds` waiters look anyway."""

    def __init__(self, *, poll_seconds: float = 1.0) -> None:
        self.poll_seconds = poll_seconds
        self._bell = Bell()

    def notify(self, channel: str) -> None:
        self._bell.ring(channel)

    def wait(self, channels: Collection[str], timeout: float) -> bool:
        rang = self._bell.wait(channels, min(timeout, self.poll_seconds))
        return rang or timeout >= self.poll_seconds

    def close(self) -> None:
        self._bell.ring_all()


class _Relayed(ABC):
    """Notices a server relays between processes: one listener thread per process, started by the first `wait`."""

    kind = "relayed"

    def __init__(self) -> None:
        self._bell = Bell()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._listener: threading.Thread | None = None

    def wait(self, channels: Collection[str], timeout: float) -> bool:
        if self._listener is None:
            # Where this thread stands is taken before the listener can ring, so its first ring wakes this thread.
            rang = self._bell.wait(channels, 0)
            self._start_listening()
            if rang:
                return True
        return self._bell.wait(channels, timeout)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            listener = self._listener
        if listener is not None:
            listener.join(timeout=TICK_SECONDS * 4 + 5)
        self._bell.ring_all()

    @property
    def listening(self) -> bool:
        return self._listener is not None and self._listener.is_alive()

    def _start_listening(self) -> None:
        with self._lock:
            if self._listener is None and not self._closed.is_set():
                name = f"salesbot-notices-{self.kind}"
                self._listener = threading.Thread(target=self._listen, name=name, daemon=True)
                self._listener.start()

    def _listen(self) -> None:
        pause = 0.2
        while not self._closed.is_set():
            began = time.monotonic()
            try:
                for channel in self._relay():
                    self._bell.ring(channel)
            except Exception:  # a dropped connection, a restarting server: whatever it was, listen again
                log.warning("live updates (%s) lost their connection; reconnecting", self.kind, exc_info=True)
            # Notices sent while nobody listened are lost: every waiter reads again.
            self._bell.ring_all()
            pause = 0.2 if time.monotonic() - began > 30 else min(pause * 2, 5.0)
            self._closed.wait(pause)

    @abstractmethod
    def _relay(self) -> Iterator[str]:
        """Connect, subscribe, ring every bell once subscribed, then yield channels as they arrive until closed."""


class PostgresNotices(_Relayed):
    """PostgreSQL LISTEN/NOTIFY: one listening connection per process; our channel travels as the payload."""

    kind = "postgres"

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine

    def notify(self, channel: str) -> None:
        if not _fits(channel):
            self._bell.ring(channel)
            return
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT pg_notify(:topic, :channel)"), {"topic": TOPIC, "channel": channel})
                connection.commit()
        except Exception:  # a stream then hears of it at its next heartbeat; the write itself went through
            log.warning("could not announce news on %s to other processes", channel, exc_info=True)
            self._bell.ring(channel)

    def _relay(self) -> Iterator[str]:
        with self._connect() as connection:
            connection.execute(f"LISTEN {TOPIC}")
            self._bell.ring_all()
            while not self._closed.is_set():
                for heard in connection.notifies(timeout=TICK_SECONDS):
                    yield heard.payload

    def _connect(self) -> psycopg.Connection[Any]:
        _, params = self._engine.dialect.create_connect_args(self._engine.url)
        # Keepalives notice a server that vanished without closing the connection (a network partition).
        wire = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
        wire |= {"application_name": "salesbot-notices", "connect_timeout": 10}
        return psycopg.connect(**(wire | params), autocommit=True)


class RedisNotices(_Relayed):
    """Redis pub/sub: one subscription per process; our channel travels as the message."""

    kind = "redis"

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._client = _redis(url)
        self._topic = f"{TOPIC}:{self._client.connection_pool.connection_kwargs.get('db', 0)}"  # pub/sub spans dbs

    def notify(self, channel: str) -> None:
        try:
            self._client.publish(self._topic, channel)
        except Exception:  # a stream then hears of it at its next heartbeat; the write itself went through
            log.warning("could not announce news on %s to other processes", channel, exc_info=True)
            self._bell.ring(channel)

    def close(self) -> None:
        super().close()
        self._client.close()

    def _relay(self) -> Iterator[str]:
        client = _redis(self._url)
        with client, client.pubsub() as subscription:
            subscription.subscribe(self._topic)
            while not self._closed.is_set():
                message = subscription.get_message(timeout=TICK_SECONDS)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    self._bell.ring_all()
                elif message["type"] == "message":
                    yield message["data"].decode()


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_connect_timeout=5, socket_timeout=5, socket_keepalive=True, health_check_interval=30
    )


def _fits(channel: str) -> bool:
    if len(channel.encode()) <= MAX_CHANNEL_BYTES:
        return True
    log.error("channel name of %d bytes is too long to announce to other processes", len(channel.encode()))
    return False
