"""The delivery worker: claims due deliveries under a lease, signs and sends them, and schedules retries.

Retries: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (with jitter); `Retry-After` on 429 and 503 is
honoured; a 2xx within the timeout is success; 3xx (not followed), other statuses and network errors are
failures; 410 disables the endpoint; an endpoint failing for 5 days is disabled and says why. On PostgreSQL
any number of workers claim side by side (`FOR UPDATE SKIP LOCKED`); a delivery whose worker died is claimed
again when its lease runs out.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from sqlalchemy import or_, select, update
from standardwebhooks import Webhook

from models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from models.base import utcnow
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput
from salesbot.webhooks import payloads, urls

log = logging.getLogger("salesbot.webhooks")
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)  # seconds before attempt 1, 2, ... 8
JITTER = 0.1
MAX_RETRY_AFTER = float(max(SCHEDULE))  # a receiver may ask us to wait, but not forever
LEASE = timedelta(seconds=60)  # the default; SALESBOT_WEBHOOK_LEASE_SECONDS
LEASE_MARGIN = timedelta(seconds=5)  # a delivery is not started this close to the end of its lease
FAILING_LIMIT = timedelta(days=5)
RESPONSE_CAP = 64 * 1024  # bytes read from a receiver's answer
HEAD = 500  # bytes of it kept in the delivery log
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    attempts: int
    leased_until: datetime
    endpoint: WebhookEndpoint
    event: OutboxEvent


@dataclass(frozen=True)
class Outcome:
    status: int | None
    retry_after: float | None
    head: str
    error: str | None
    duration_ms: float

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def signature(endpoint: WebhookEndpoint, msg_id: str, moment: datetime, body: str, *, now: datetime) -> str:
    """`v1,<base64>`; during a secret rotation also the old secret's, space-separated."""
    secrets_now = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        secrets_now.append(endpoint.previous_secret)
    return " ".join(Webhook(secret).sign(msg_id, moment, body) for secret in secrets_now)


def next_delay(attempts: int, retry_after: float | None, rng: random.Random) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones, or None when the schedule is spent."""
    if attempts >= len(SCHEDULE):
        return None
    delay = SCHEDULE[attempts] * (1 + rng.uniform(-JITTER, JITTER))
    return max(delay, retry_after or 0.0)


class Sender:
    """POSTs to the checked, pinned address; never follows redirects; reads at most RESPONSE_CAP bytes."""

    def __init__(self, guard: urls.Guard, *, timeout: float = 15.0) -> None:
        self.guard, self.timeout = guard, timeout

    def post(self, url: str, headers: dict[str, str], body: str) -> Outcome:
        started = time.perf_counter()
        try:
            target = self.guard.check(url)  # again at every attempt: DNS may have changed since
        except InvalidInput as refused:
            return Outcome(None, None, "", f"refused: {refused.detail}", 0.0)
        try:
            response = self._pool(target).urlopen(
                "POST", target.path, body=body.encode(), headers=headers | {"Host": _host_header(target)},
                redirect=False, retries=False, preload_content=False, assert_same_host=False,
            )  # fmt: skip
            head = response.read(RESPONSE_CAP)
            response.release_conn()
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:  # ValueError: e.g. an unencodable host
            return Outcome(None, None, "", f"{type(exc).__name__}: {exc}"[:500], _ms(started))
        retry_after = _seconds(response.headers.get("Retry-After")) if response.status in (429, 503) else None
        return Outcome(response.status, retry_after, head[:HEAD].decode(errors="replace"), None, _ms(started))

    def _pool(self, target: urls.Target) -> urllib3.HTTPConnectionPool:
        timeout = urllib3.Timeout(total=self.timeout)
        if target.scheme == "https":
            return urllib3.HTTPSConnectionPool(
                target.address, target.port, timeout=timeout, server_hostname=_ascii(target.host),
                assert_hostname=_ascii(target.host), cert_reqs="CERT_REQUIRED", maxsize=1,
            )  # fmt: skip
        return urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, maxsize=1)


class Worker:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        sender: Sender,
        *,
        clock: Clock = utcnow,
        concurrency: int = 8,
        lease: timedelta = LEASE,
        seed: int | None = None,
    ) -> None:
        self._uow, self._sender, self._clock, self._lease = uow, sender, clock, lease
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="deliver")
        self._concurrency = concurrency
        self._rng = random.Random(seed)

    def run(self, stop: threading.Event, *, poll: float = 0.2) -> None:
        """Deliver until `stop` is set; wait `poll` seconds when nothing is due."""
        while not stop.is_set():
            if not self.deliver_due():
                stop.wait(poll)

    def deliver_due(self, limit: int | None = None) -> int:
        """One round: claim what is due, send it concurrently, record every attempt. Returns how many."""
        claimed = self.claim(limit or self._concurrency * 4)
        list(self._pool.map(self._deliver, claimed))
        return len(claimed)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def claim(self, limit: int) -> list[Claimed]:
        now = self._clock()
        lease = now + self._lease
        due = (
            select(Delivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
            .where(
                Delivery.status.in_(("pending", "delivering")),
                Delivery.next_attempt_at <= now,
                or_(Delivery.leased_until.is_(None), Delivery.leased_until < now),
                WebhookEndpoint.enabled,
            )
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Delivery)
        )
        with self._uow() as uow:
            ids = list(uow.session.scalars(due))
            if not ids:
                return []
            uow.session.execute(
                update(Delivery).where(Delivery.id.in_(ids)).values(status="delivering", leased_until=lease)
            )
            rows = uow.session.execute(
                select(Delivery, WebhookEndpoint, OutboxEvent)
                .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
                .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
                .where(Delivery.id.in_(ids))
            ).all()
            uow.commit()
            uow.session.expunge_all()
        return [Claimed(d.id, d.attempts, lease, endpoint, event) for d, endpoint, event in rows]

    def _deliver(self, claimed: Claimed) -> None:
        if self._clock() >= claimed.leased_until - LEASE_MARGIN:
            return  # slow receivers ate the lease: another round (or worker) claims it again; never send twice
        try:
            self.record(claimed, self.attempt(claimed))
        except Exception:
            log.exception("delivering %s failed; its lease will run out and it is tried again", claimed.delivery_id)

    def attempt(self, claimed: Claimed) -> Outcome:
        now = self._clock()
        body = payloads.body(claimed.event, claimed.endpoint.format)
        headers = {
            "content-type": "application/json",
            "user-agent": "salesbot-webhooks/1",
            "webhook-id": claimed.delivery_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature(claimed.endpoint, claimed.delivery_id, now, body, now=now),
        }
        return self._sender.post(claimed.endpoint.url, headers, body)

    def record(self, claimed: Claimed, outcome: Outcome) -> None:
        """The attempt in the log and the delivery's next state, if this worker still holds its lease."""
        now = self._clock()
        attempts = claimed.attempts + 1
        values = {"attempts": attempts, "leased_until": None, "updated_at": now, "last_status_code": outcome.status,
                  "last_error": outcome.error}  # fmt: skip
        disable = None
        if outcome.delivered:
            values["status"] = "succeeded"
        elif outcome.status == 410:
            values["status"], disable = "failed", "the receiver answered 410 Gone"
        elif (delay := next_delay(attempts, outcome.retry_after, self._rng)) is None:
            values["status"] = "failed"
        else:
            values |= {"status": "pending", "next_attempt_at": now + timedelta(seconds=delay)}
        with self._uow() as uow:
            held = uow.session.execute(
                update(Delivery)
                .where(Delivery.id == claimed.delivery_id, Delivery.leased_until == claimed.leased_until)
                .values(**values)
            ).rowcount
            if not held:
                uow.session.rollback()
                return  # another worker reclaimed it after our lease ran out; its attempt counts
            uow.session.add(
                DeliveryAttempt(delivery_id=claimed.delivery_id, attempted_at=now, status_code=outcome.status,
                                duration_ms=round(outcome.duration_ms, 1), response_head=outcome.head,
                                error=outcome.error)
            )  # fmt: skip
            self._endpoint_health(uow, claimed.endpoint.id, outcome, disable, now=now)
            uow.commit()

    @staticmethod
    def _endpoint_health(uow: UnitOfWork, endpoint_id: str, outcome: Outcome, disable: str | None, *, now) -> None:
        if outcome.delivered:  # touches the row only when it was failing: workers do not queue on it
            uow.session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_not(None))
                .values(failing_since=None)
            )
            return
        endpoint = uow.session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
        if endpoint is None:
            return
        endpoint.failing_since = endpoint.failing_since or now
        if disable is None and now - endpoint.failing_since >= FAILING_LIMIT:
            disable = f"every delivery failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
        if disable and endpoint.enabled:
            endpoint.enabled, endpoint.disabled_reason = False, disable
            log.warning("webhook endpoint %s disabled: %s", endpoint.id, disable)


def _host_header(target: urls.Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else _ascii(target.host)
    return host if target.port == default else f"{host}:{target.port}"


def _ascii(host: str) -> str:
    """An internationalised host name as DNS, TLS and HTTP write it (punycode)."""
    try:
        return host.encode("idna").decode()
    except UnicodeError:
        return host


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: fall back to the schedule
    return min(max(0.0, seconds), MAX_RETRY_AFTER) if math.isfinite(seconds) else None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
