"""From the store's tables to LightFM's inputs: a weighted customer x item matrix and feature matrices.

Every customer and item gets an identity feature plus its descriptive ones (segment, country, category,
brand, price band, attribute values, title words), so a hybrid model can place newcomers by what they
are before anyone has interacted with them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy import sparse
from sqlalchemy import Connection, String, select, type_coerce

from models import Customer, Event, Item
from salesbot.catalog.events import readable_moment

WORD = re.compile(r"[a-z]{3,}")
PRICE_BANDS = 8
MAX_TITLE_WORDS = 5_000


@dataclass(frozen=True)
class Store:
    """What training reads: the events with a customer, the catalog and the customers."""

    events: pd.DataFrame  # customer_id, item_id, type, value, occurred_at
    items: pd.DataFrame  # item_id, title, category, brand, price, in_stock, attributes
    customers: pd.DataFrame  # customer_id, segment, country, attributes


@dataclass(frozen=True)
class Features:
    matrix: sparse.csr_matrix  # rows: customers or items; columns: features; rows sum to 1
    names: list[str]


@dataclass(frozen=True)
class Interactions:
    """Who did what: `weights[u, i]` sums the weighted events of customer u with item i."""

    weights: sparse.coo_matrix
    customer_ids: np.ndarray
    item_ids: np.ndarray
    customer_features: Features
    item_features: Features


def read_store(connection: Connection, *, before: datetime | None = None) -> Store:
    # Only times inside the sane window, and on SQLite read as text and parsed here, so that no row the database
    # holds (a year 0 stored before dates were checked, a hand-edited cell) can stop training.
    sqlite = connection.dialect.name == "sqlite"
    when = type_coerce(Event.occurred_at, String).label("occurred_at") if sqlite else Event.occurred_at
    query = select(Event.customer_id, Event.item_id, Event.type, Event.value, when).where(
        Event.customer_id.is_not(None), readable_moment()
    )
    if before is not None:
        query = query.where(Event.occurred_at < before)
    happened = pd.read_sql(query, connection)
    happened["occurred_at"] = pd.to_datetime(happened.occurred_at, utc=True, errors="coerce", format="ISO8601")
    happened = happened[happened.occurred_at.notna()].reset_index(drop=True)
    catalog = pd.read_sql(
        select(Item.item_id, Item.title, Item.category, Item.brand, Item.price, Item.in_stock, Item.attributes),
        connection,
    )
    people = pd.read_sql(
        select(Customer.customer_id, Customer.segment, Customer.country, Customer.attributes), connection
    )
    return Store(events=happened, items=catalog, customers=people)


def weigh(
    events: pd.DataFrame, weights: Mapping[str, float], *, now: datetime, half_life_days: float | None = None
) -> pd.Series:
    """Each event's weight: its type's weight, fading by half every `half_life_days` when set."""
    weight = events.type.map(weights).fillna(0.0).astype("float64")
    if half_life_days:
        age_days = (pd.Timestamp(now) - events.occurred_at).dt.total_seconds().to_numpy() / 86_400
        weight = weight * fading(age_days, half_life_days)
    return weight


def fading(age_days: np.ndarray, half_life_days: float | None) -> np.ndarray:
    """How much an event this many days old still counts: halved every `half_life_days` (None: fully)."""
    if not half_life_days:
        return np.ones_like(age_days, dtype=np.float64)
    return np.power(0.5, np.clip(age_days, 0, None) / half_life_days)


def build(
    store: Store,
    weights: Mapping[str, float],
    *,
    now: datetime,
    half_life_days: float | None = None,
    customer_feature_share: float | None = None,
) -> Interactions:
    """The matrices for training: every catalog item and every known customer, with their features.
    `customer_feature_share` is how much of a customer's representation their attributes make up (the rest
    is their own identity); None shares equally, 0 leaves attributes out."""
    item_ids = pd.Index(pd.concat([store.items.item_id, store.events.item_id]).unique())
    customer_ids = pd.Index(pd.concat([store.customers.customer_id, store.events.customer_id]).unique())
    return Interactions(
        weights=weighted_matrix(store.events, weights, customer_ids, item_ids, now=now, half_life_days=half_life_days),
        customer_ids=customer_ids.to_numpy(dtype=object),
        item_ids=item_ids.to_numpy(dtype=object),
        customer_features=customer_features(store.customers, customer_ids, share=customer_feature_share),
        item_features=item_features(store.items, item_ids),
    )


def weighted_matrix(
    events: pd.DataFrame,
    weights: Mapping[str, float],
    customer_ids: pd.Index,
    item_ids: pd.Index,
    *,
    now: datetime,
    half_life_days: float | None = None,
) -> sparse.coo_matrix:
    """Customers x items: each pair's events weighted (and faded) and summed."""
    weighted = events.assign(weight=weigh(events, weights, now=now, half_life_days=half_life_days))
    pairs = weighted[weighted.weight > 0].groupby(["customer_id", "item_id"], sort=False).weight.sum()
    rows = customer_ids.get_indexer(pairs.index.get_level_values(0))
    cols = item_ids.get_indexer(pairs.index.get_level_values(1))
    return sparse.coo_matrix((pairs.to_numpy(), (rows, cols)), shape=(len(customer_ids), len(item_ids)))


def item_features(items: pd.DataFrame, order: pd.Index) -> Features:
    items = items.set_index("item_id").reindex(order)
    tags = item_tags(items, price_edges(items.price)) + _title_tags(items.title)
    return _features(order, tags)


def item_tags(items: pd.DataFrame, edges: np.ndarray | None) -> list[tuple[int, str]]:
    """Each item's descriptive tags but its title words (row position, tag): category, brand, price band,
    attribute values. Also how an item the model never saw is described at serving time."""
    columns = {"category": items.category, "brand": items.brand, "price": _price_bands(items.price, edges)}
    return _column_tags(columns) + _attribute_tags(items.attributes)


def title_words(titles: pd.Series) -> list[tuple[int, str]]:
    """Every title word as a tag (row position, tag); training keeps only the shared ones."""
    return [
        (position, f"word:{word}")
        for position, title in enumerate(titles.fillna("").str.lower())
        for word in sorted(set(WORD.findall(title)))
    ]


def customer_features(customers: pd.DataFrame, order: pd.Index, *, share: float | None = None) -> Features:
    customers = customers.set_index("customer_id").reindex(order)
    tags = _column_tags({"segment": customers.segment, "country": customers.country})
    return _features(order, [] if share == 0 else tags + _attribute_tags(customers.attributes), share=share)


def _features(order: pd.Index, tags: list[tuple[int, str]], *, share: float | None = None) -> Features:
    """Identity feature first, then one column per distinct tag. Each row sums to 1: equally spread, or with
    `share` of it spread over the descriptive tags and the rest on the identity."""
    listed = pd.DataFrame(
        [(position, f"id:{key}") for position, key in enumerate(order)] + tags, columns=["row", "tag"]
    )
    names = pd.Index(listed.tag.unique())
    matrix = sparse.coo_matrix(
        (np.ones(len(listed)), (listed.row.to_numpy(), names.get_indexer(listed.tag))),
        shape=(len(order), len(names)),
    ).tocsr()
    matrix.sum_duplicates()
    if share:
        tags_per_row = np.repeat(np.diff(matrix.indptr) - 1, np.diff(matrix.indptr))  # besides the identity
        identity = matrix.indices < len(order)  # identity columns come first
        matrix.data = np.where(
            identity, np.where(tags_per_row > 0, 1 - share, 1.0), share / np.maximum(tags_per_row, 1)
        )
    matrix.data /= np.repeat(np.asarray(matrix.sum(axis=1)).ravel(), np.diff(matrix.indptr))
    return Features(matrix=matrix, names=list(names))


def _column_tags(columns: Mapping[str, pd.Series]) -> list[tuple[int, str]]:
    return [
        (position, f"{name}:{value}")
        for name, column in columns.items()
        for position, value in enumerate(column.to_numpy())
        if not pd.isna(value)
    ]


def price_edges(prices: pd.Series) -> np.ndarray | None:
    """Where the price bands start and end: quantiles of the log price, so cheap and dear items are told apart in
    any currency. Kept with the model, so an item added later gets the band training would have given it."""
    logs = np.log1p(pd.to_numeric(prices, errors="coerce").astype("float64"))
    if logs.notna().sum() < PRICE_BANDS:
        return None
    return np.unique(np.nanquantile(logs.to_numpy(), np.linspace(0, 1, PRICE_BANDS + 1)))


def _price_bands(prices: pd.Series, edges: np.ndarray | None) -> pd.Series:
    if edges is None or len(edges) < 2:
        return pd.Series(pd.NA, index=prices.index, dtype="object")
    logs = np.log1p(pd.to_numeric(prices, errors="coerce").astype("float64").to_numpy())
    bands = np.clip(np.searchsorted(edges, logs, side="right") - 1, 0, len(edges) - 2).astype(object)
    bands[np.isnan(logs)] = pd.NA
    return pd.Series(bands, index=prices.index, dtype="object")


def _attribute_tags(attributes: pd.Series) -> list[tuple[int, str]]:
    tags = []
    for position, found in enumerate(attributes.to_numpy()):
        if isinstance(found, str):
            found = json.loads(found)
        for key, value in (found or {}).items():
            for each in value if isinstance(value, list) else [value]:
                tags.append((position, f"attr:{key}={each}"))
    return tags


def _title_tags(titles: pd.Series) -> list[tuple[int, str]]:
    """Title words shared by at least two items, the commonest first, capped."""
    words = title_words(titles)
    counts = pd.Series([word for _position, word in words]).value_counts()
    kept = set(counts[counts >= 2].index[:MAX_TITLE_WORDS])
    return [(position, word) for position, word in words if word in kept]
