"""Events: what customers and visitors did with items, taken in bulk, idempotently, row by row."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Connection, func, select, tuple_

from models import Customer, Event, Item
from models.base import utcnow
from salesbot.catalog import bulk
from salesbot.catalog.frames import Reasons, Report, bad_ids, moments, numbers, text, with_columns
from salesbot.catalog.pages import Page, decode_cursor, encode_cursor
from salesbot.catalog.rows import frame_of
from salesbot.config import Settings
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput, NotFound

FIELDS = ["event_id", "customer_id", "visitor_id", "item_id", "type", "value", "occurred_at", "recommendation_id"]
IDS = ["event_id", "customer_id", "visitor_id", "item_id", "recommendation_id"]
QUANTITIES = {"purchase", "add_to_cart"}
MAX_QUANTITY = 10_000
MAX_VALUE = 1_000_000  # a rating or any other event's number; larger is a mistake, not a signal
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_READABLE = datetime(9000, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=15)  # how far ahead of ours a sender's clock may run
MAX_BATCH = 1000


@dataclass(frozen=True)
class Policy:
    """What the operator decided about events: the types accepted, what to do with unknown items, and which
    types only the store's own server may send (a browser holding a public key could forge them)."""

    event_types: Collection[str]
    keep_unknown_items: bool = False
    trusted_types: Collection[str] = frozenset({"purchase"})
    from_browser: bool = False
    signed_in: str | None = None  # the one customer a browser proved it acts for (X-Customer-Hash)

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            event_types=frozenset(settings.event_weights),
            keep_unknown_items=settings.unknown_items == "keep",
            trusted_types=frozenset(settings.trusted_event_types),
        )

    def for_browser(self, *, signed_in: str | None) -> Policy:
        """The same policy for events sent with a public (`site`) key, which proved it acts for `signed_in`."""
        return replace(self, from_browser=True, signed_in=signed_in)


def clean(frame: pd.DataFrame, *, policy: Policy, now: datetime, fallback_ids: pd.Series) -> Reasons:
    """Typed event columns, and the reason each bad row is bad. Rows without an `event_id` take theirs
    from `fallback_ids` (a content hash for files, so that importing the same file twice adds nothing)."""
    raw = with_columns(frame, FIELDS)
    rows = pd.DataFrame({name: text(raw[name]) for name in IDS}, index=raw.index)
    rows["type"] = text(raw["type"]).str.lower()
    rows["value"], bad_value = numbers(raw["value"])
    rows["occurred_at"], bad_moment = moments(raw["occurred_at"])
    reasons = Reasons(rows)
    reasons.flag(rows.customer_id.isna() & rows.visitor_id.isna(), "needs a customer_id or a visitor_id")
    for name in IDS:
        reasons.flag(bad_ids(rows[name]), f"{name} must be 1-128 letters, digits or . _ : @ - (no /)")
    reasons.flag(rows.item_id.isna(), "item_id is required")
    reasons.flag(rows.type.isna(), "type is required")
    known = ", ".join(sorted(policy.event_types))
    reasons.flag(~rows.type.isin(list(policy.event_types)), "type '" + rows.type + f"' is not one of: {known}")
    if policy.from_browser:
        _flag_browser_rows(reasons, rows, policy)
    _flag_values(reasons, rows, bad_value)
    reasons.flag(bad_moment, "occurred_at is not a date and time (use ISO 8601 text, e.g. 2024-05-01T12:00:00Z)")
    reasons.flag(rows.occurred_at < pd.Timestamp(EARLIEST), "occurred_at must be in 1970 or later")
    reasons.flag(rows.occurred_at > pd.Timestamp(now + CLOCK_SKEW), "occurred_at is in the future")
    rows["occurred_at"] = rows.occurred_at.fillna(pd.Timestamp(now).as_unit("us"))
    rows["event_id"] = rows.event_id.fillna(fallback_ids)
    return reasons


def _flag_browser_rows(reasons: Reasons, rows: pd.DataFrame, policy: Policy) -> None:
    """A browser holds a public key: it may not forge value events, nor speak for a customer it did not prove."""
    trusted = rows.type.isin(list(policy.trusted_types))
    reasons.flag(trusted, "type '" + rows.type + "' must come from the store's server (a server key), not a browser")
    someone_else = rows.customer_id.notna() & (rows.customer_id != (policy.signed_in or ""))
    reasons.flag(
        someone_else,
        "customer_id needs that customer's identity hash in X-Customer-Hash; send visitor_id for anonymous visitors",
    )


def _flag_values(reasons: Reasons, rows: pd.DataFrame, unreadable: pd.Series) -> None:
    reasons.flag(unreadable, "value must be a number")
    quantity = rows.type.isin(list(QUANTITIES)) & rows.value.notna()
    reasons.flag(
        quantity & (rows.value <= 0), "value (quantity) must be positive: cancellations and returns are not events"
    )
    reasons.flag(quantity & (rows.value % 1 != 0), "value (quantity) must be a whole number")
    reasons.flag(quantity & (rows.value > MAX_QUANTITY), f"value (quantity) must be at most {MAX_QUANTITY:,}")
    reasons.flag(rows.value.abs() > MAX_VALUE, f"value must be between -{MAX_VALUE:,} and {MAX_VALUE:,}")


def readable_moment() -> ColumnElement[bool]:
    """Events whose time any driver can read back: 1970 up to year 9000."""
    return Event.occurred_at.between(EARLIEST, LATEST_READABLE)


def random_ids(index: pd.Index) -> pd.Series:
    return pd.Series([f"r:{uuid.uuid4().hex}" for _ in range(len(index))], index=index, dtype="string")


class ContentIds:
    """Ids that a row's content decides, for files without event ids: importing the same file twice adds
    nothing. Identical rows are numbered in file order, the count carried from one chunk to the next so
    that identical neighbours split by a chunk boundary stay apart."""

    def __init__(self) -> None:
        self.carried: dict[int, int] = {}

    def __call__(self, raw: pd.DataFrame) -> pd.Series:
        digest = pd.util.hash_pandas_object(raw, index=False)
        before = digest.map(self.carried).fillna(0).astype("int64")
        occurrence = digest.groupby(digest).cumcount() + before
        self.carried = (occurrence.groupby(digest).max() + 1).to_dict()
        return "h:" + digest.map("{:016x}".format) + "-" + occurrence.astype(str)


def store(connection: Connection, reasons: Reasons, *, policy: Policy) -> Report:
    """Write the good rows: duplicates (by event_id) skipped, unknown customers created, unknown items
    kept or rejected as the policy says. The caller owns the transaction."""
    rows = reasons.good
    report = Report()
    repeated = rows.event_id.duplicated()
    report.duplicate += int(repeated.sum())
    rows = rows[~repeated]
    if not policy.keep_unknown_items:
        rows = _drop_unknown_items(connection, rows, reasons)
    _add_unknown_customers(connection, rows.customer_id)
    ordered = rows[FIELDS].sort_values("event_id")  # one lock order for every writer, as for customers
    created = bulk.insert_ignoring_duplicates(connection, Event.__tablename__, ordered, "event_id")
    report.created += created
    report.duplicate += len(rows) - created
    report.rejected += reasons.rejections()
    return report


def _add_unknown_customers(connection: Connection, mentioned: pd.Series) -> None:
    """Customers first seen in events join with nothing known about them yet."""
    unique = mentioned.dropna().unique().tolist()
    known = bulk.existing_keys(connection, Customer.customer_id, unique)
    now = pd.Timestamp(utcnow()).as_unit("us")
    # Sorted, so that concurrent batches lock new customers in the same order and never deadlock.
    new = pd.DataFrame({"customer_id": sorted(customer for customer in unique if customer not in known)})
    new = new.assign(attributes="{}", created_at=now, updated_at=now)
    bulk.insert_ignoring_duplicates(connection, Customer.__tablename__, new, "customer_id")


def _drop_unknown_items(connection: Connection, rows: pd.DataFrame, reasons: Reasons) -> pd.DataFrame:
    known = bulk.existing_keys(connection, Item.item_id, rows.item_id.unique().tolist())
    unknown = ~rows.item_id.isin(list(known))
    reasons.flag(unknown.reindex(reasons.frame.index, fill_value=False), "item_id is not in the catalog")
    return rows[~unknown]


def take(
    connection: Connection, frame: pd.DataFrame, *, policy: Policy, now: datetime, fallback_ids: pd.Series
) -> Report:
    """Clean and store a frame of events; the caller owns the transaction."""
    return store(connection, clean(frame, policy=policy, now=now, fallback_ids=fallback_ids), policy=policy)


def record(*, uow: UnitOfWork, events: list[Any], policy: Policy, now: datetime | None = None) -> Report:
    """Take a batch of up to 1,000 events from the API: all good ones kept, each bad one reported by index."""
    if len(events) > MAX_BATCH:
        raise InvalidInput.for_field("events", f"at most {MAX_BATCH} events per request; got {len(events)}")
    frame, refused = frame_of(events)
    with uow:
        now = now or utcnow()
        report = take(uow.session.connection(), frame, policy=policy, now=now, fallback_ids=random_ids(frame.index))
        uow.commit()
    report.rejected += refused
    report.rejected.sort(key=lambda rejection: rejection.index)
    return report


def get_page_for_customer(*, uow: UnitOfWork, customer_id: str, page_size: int, cursor: str | None = None) -> Page:
    """A customer's events, newest first (rows dated outside the sane window, stored before it was enforced, are
    left out: no driver can read a year 0)."""
    query = select(Event).where(Event.customer_id == customer_id, readable_moment())
    if cursor:
        moment, _, last_id = decode_cursor(cursor).rpartition("|")
        query = query.where(tuple_(Event.occurred_at, Event.id) < (_moment(moment), _number(last_id)))
    query = query.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(page_size + 1)
    with uow:
        if uow.session.get(Customer, customer_id) is None:
            raise NotFound(f"no customer {customer_id!r}")
        rows = list(uow.session.scalars(query))
    if len(rows) <= page_size:
        return Page(rows=rows, next_cursor=None)
    last = rows[page_size - 1]
    return Page(rows=rows[:page_size], next_cursor=encode_cursor(f"{last.occurred_at.isoformat()}|{last.id}"))


def counts_for_item(*, uow: UnitOfWork, item_id: str) -> dict[str, int]:
    """How many events of each type an item has had."""
    query = select(Event.type, func.count()).where(Event.item_id == item_id).group_by(Event.type)
    with uow:
        return dict(uow.session.execute(query).all())


def _moment(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput.for_field("cursor", "is not a cursor this API gave out") from None


def _number(value: str) -> int:
    if not value.isdigit():
        raise InvalidInput.for_field("cursor", "is not a cursor this API gave out")
    return int(value)
