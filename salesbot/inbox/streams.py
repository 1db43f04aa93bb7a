"""Server-Sent Events for live conversations: frames, resuming after a reconnect, and the follow loop."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any

from salesbot.inbox.notices import Notices

LARGEST_ID = 2**63 - 1  # a sequence number fits a BIGINT
Item = tuple[int, str, dict[str, Any]]  # (seq, kind, data)


def event(*, id: str | int | None, kind: str, data: dict[str, Any]) -> str:
    """One SSE frame; the JSON stays on one line (it escapes newlines inside strings)."""
    _one_line("id", id)
    _one_line("kind", kind)
    head = "" if id is None else f"id: {id}\n"
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def comment(text: str = "") -> str:
    """A frame browsers ignore: keeps proxies and load balancers from closing an idle stream."""
    return "".join(f": {line}\n" if line else ":\n" for line in text.splitlines() or [""]) + "\n"


def last_event_id(header: str | None, query: str | None) -> int:
    """Where a reconnecting client left off: the `Last-Event-ID` header, else `?after=`; 0 when neither makes sense."""
    for raw in (header, query):
        value = (raw or "").strip()
        if value.isascii() and value.isdigit() and int(value) <= LARGEST_ID:
            return int(value)
    return 0


def follow(
    *,
    read_after: Callable[[int], list[Item]],
    channels: Collection[str],
    notices: Notices,
    after: int,
    heartbeat: float = 15.0,
    stop: Callable[[], bool] = lambda: False,
    max_seconds: float | None = None,
) -> Iterator[str]:
    """Yield a frame for every item `read_after(after)` returns, at once and again whenever `channels` are notified.

    `after` advances to the last seq sent, so no seq is sent twice or skipped; a heartbeat comment goes out when
    nothing was sent for `heartbeat` seconds. Ends when `stop()` is true or after `max_seconds` (the client
    reconnects with `Last-Event-ID`). The database is read again after every wait, woken or not: a notice that
    was lost (a backend that was down) delays news by one heartbeat, never forever.
    """
    ends = None if max_seconds is None else time.monotonic() + max_seconds
    notices.wait(channels, 0)  # from here on, a notice that arrives while we read or write is not missed
    sent = time.monotonic()
    while not stop():
        for seq, kind, data in sorted(read_after(after), key=lambda item: item[0]):
            if seq > after:
                yield event(id=seq, kind=kind, data=data)
                after, sent = seq, time.monotonic()
        now = time.monotonic()
        if now - sent >= heartbeat:
            yield comment("keep-alive")
            sent = now
        if stop() or (ends is not None and now >= ends):
            return
        notices.wait(channels, min(heartbeat - (now - sent), (ends or float("inf")) - now))


def _one_line(name: str, value: object) -> None:
    if value is not None and any(mark in str(value) for mark in "\r\n\0"):
        raise ValueError(f"an SSE {name} must be one line, got {value!r}")
