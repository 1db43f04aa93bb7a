"""Serving recommendations from the active model version: scored from embeddings, filtered by the business.

Each process keeps the active version's embeddings in memory and asks the database every few seconds
which version is active, so promoting or rolling back a model reaches every process without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from models import Customer, Event, Item
from salesbot.database import UnitOfWork
from salesbot.errors import NotFound, Unavailable
from salesbot.recommender import picking, reasons, versions
from salesbot.recommender.loaded import Loaded
from salesbot.recommender.results import History, Recommendations, Suggestion
from salesbot.recommender.shelf import Filters

log = logging.getLogger("salesbot.recommender")
POPULAR_TYPES = ("purchase", "add_to_cart", "click", "view")


class Recommender:
    """Recommendations for customers, sessions and items, from whichever model version is active."""

    def __init__(self, uow: Callable[[], UnitOfWork], *, check_every: float = 5.0, artifacts: Path | None = None):
        # The catalog's stock and prices are re-read a dozen checks apart: a minute by default.
        self._uow, self._check_every, self._shelf_every = uow, check_every, 12 * check_every
        self._artifacts = artifacts
        self._loaded: Loaded | None = None
        self._checked_at = -np.inf
        self._lock = threading.Lock()
        self._served: Counter[tuple[str | None, str]] = Counter()  # answers per version and strategy since the check
        self._restocking = False
        self._restocker: threading.Thread | None = None

    def current(self) -> Loaded | None:
        """The active version, loaded; re-checked every few seconds and reloaded when it changed."""
        with self._lock:
            if time.monotonic() - self._checked_at >= self._check_every:
                self._checked_at = time.monotonic()
                self._flush_served()
                self._loaded = self._load(versions.active_id(uow=self._uow()))
            loaded = self._loaded
            if loaded and not self._restocking and time.monotonic() - loaded.shelf_read_at >= self._shelf_every:
                self._restocking = True
                self._restocker = threading.Thread(target=self._restock, args=(loaded,), name="shelf", daemon=True)
                self._restocker.start()
            return loaded

    def close(self) -> None:
        """Let a catalog re-read in progress finish (it holds a database connection)."""
        if self._restocker is not None:
            self._restocker.join(timeout=30)

    def _restock(self, loaded: Loaded) -> None:
        """Re-read changed stock and prices on the side; requests meanwhile use the shelf they have."""
        try:
            shelf = loaded.shelf.refreshed(self._uow, loaded.item_ids, loaded.positions)
            # Items added to the catalog since: placed by their features and servable from now on.
            whole = shelf.read_whole_at != loaded.shelf.read_whole_at
            fresh = Loaded.build(loaded.version_id, loaded.artifact, self._uow) if whole else loaded.restocked(shelf)
            with self._lock:
                if self._loaded is loaded:  # not replaced by another version meanwhile
                    self._loaded = fresh
        except Exception:
            log.exception("re-reading the catalog for serving failed; keeping the last one")
        finally:
            self._restocking = False

    def _flush_served(self) -> None:
        if self._served:
            served, self._served = dict(self._served), Counter()
            versions.record_served(uow=self._uow(), counts=served, day=datetime.now(UTC).date())

    def _load(self, version_id: str | None) -> Loaded | None:
        if version_id is None:
            return None
        if self._loaded is not None and self._loaded.version_id == version_id:
            return self._loaded
        try:
            artifact = versions.load_artifact(uow=self._uow(), version_id=version_id, artifacts=self._artifacts)
        except (NotFound, Unavailable) as problem:  # shoppers still get an answer: the last model, or popular
            log.error("cannot serve %s: %s", version_id, problem)
            return self._loaded
        return Loaded.build(version_id, artifact, self._uow)

    def for_customer(self, customer_id: str, *, n: int, filters: Filters) -> Recommendations:
        """Their list from the blend: their history as it is now (events since training count), their LightFM
        vector (or one made of their attributes) and what is trending."""
        model = self.current()
        if model is None:
            return self._popular(None, n=n, filters=filters)
        history = self._history(customer_id)
        vector, strategy = self._customer_vector(model, customer_id, has_history=not history.empty)
        positions = np.array([model.positions.get(item, -1) for item in history.item_ids], dtype=np.int64)
        shortlist = None
        if strategy == "personal" and model.artifact.shortlists is not None:
            shortlist = model.artifact.shortlists[model.customers.get_loc(customer_id)]
        faded = model.parts.faded(positions, history.types, history.age_days)
        scored = model.parts.scorer(vector, *faded, shortlist=shortlist)
        if scored is None:
            return self._popular(model, n=n, filters=filters)
        hidden = set() if filters.include_purchased else history.purchased()
        strategy = "personal" if scored.folded else strategy
        ranked = None  # without a bound on the others, the whole catalog is scored
        if np.isfinite(scored.ceiling):
            ranked = scored.nominated[np.argsort(-scored.score(scored.nominated), kind="stable")]
        chosen, scores = picking.best(model, scored, n=n, filters=filters, hidden=hidden, shortlist=ranked)
        why = reasons.personal(model, chosen, history, strategy)
        return self._answer(model, strategy, chosen, scores, why)

    def for_session(self, item_ids: list[str], *, n: int, filters: Filters) -> Recommendations:
        model = self.current()
        positions = sorted(model.positions_of(item_ids)) if model is not None else []
        if model is None or not positions:
            return self._popular(model, n=n, filters=filters)
        query = model.item_vectors[positions].mean(axis=0)
        everything = np.array(positions, dtype=np.int64)
        scored = model.parts.scorer(query, everything, np.ones(len(everything), dtype=np.float32))
        if scored is None:
            return self._popular(model, n=n, filters=filters)
        chosen, scores = picking.best(model, scored.score, n=n, filters=filters, hidden=set(item_ids))
        why = [f"goes with {reasons.closest_title(model, item, np.array(positions))}" for item in chosen]
        return self._answer(model, "session", chosen, scores, why)

    def similar(self, item_id: str, *, n: int, filters: Filters) -> Recommendations:
        model = self.current()
        if model is None or item_id not in model.positions:
            self._require_item(item_id)
            return self._popular(model, n=n, filters=filters)
        position = model.positions[item_id]
        unit = model.unit_vectors

        def cosine(at: np.ndarray | None) -> np.ndarray:
            return (unit if at is None else unit[at]) @ unit[position]

        chosen, scores = picking.best(model, cosine, n=n, filters=filters, hidden={item_id})
        title = model.shelf.titles[position]
        return self._answer(model, "similar", chosen, scores, [f"similar to {title}"] * len(chosen))

    def popular(self, *, n: int, filters: Filters) -> Recommendations:
        """The most popular items that pass the filters; from the model's data, or counted live without one."""
        return self._popular(self.current(), n=n, filters=filters)

    def _popular(self, model: Loaded | None, *, n: int, filters: Filters) -> Recommendations:
        if model is None:
            return self._popular_without_model(n=n, filters=filters)
        popularity = model.popularity
        chosen, scores = picking.best(
            model, lambda at: popularity if at is None else popularity[at], n=n, filters=filters, hidden=set()
        )
        why = [reasons.popular(model.shelf.categories[p]) for p in chosen]
        return self._answer(model, "popular", chosen, scores, why)

    def _customer_vector(self, model: Loaded, customer_id: str, *, has_history: bool) -> tuple[np.ndarray | None, str]:
        """Their own vector when they have a history; else one made of what we know about them."""
        if has_history and customer_id in model.customers:
            return model.artifact.embeddings.customer_vectors[model.customers.get_loc(customer_id)], "personal"
        tags = self._customer_tags(customer_id)
        positions = model.features.get_indexer(tags)
        positions = positions[positions >= 0]
        if len(positions) == 0:
            return None, "popular"
        return model.artifact.embeddings.customer_feature_vectors[positions].mean(axis=0), "features"

    def _customer_tags(self, customer_id: str) -> list[str]:
        with self._uow() as uow:
            customer = uow.session.get(Customer, customer_id)
            if customer is None:
                return []
            tags = [f"segment:{customer.segment}", f"country:{customer.country}"]
            for key, value in (customer.attributes or {}).items():
                tags += [f"attr:{key}={each}" for each in (value if isinstance(value, list) else [value])]
            return tags

    def _history(self, customer_id: str) -> History:
        return History.read(self._uow(), customer_id)

    def _answer(
        self, model: Loaded, strategy: str, chosen: list[int], scores: np.ndarray, why: list[str]
    ) -> Recommendations:
        shelf = model.shelf
        items = [
            Suggestion(
                item_id=str(model.item_ids[p]),
                title=shelf.titles[p],
                price=float(shelf.prices[p]),
                currency=shelf.currencies[p],
                category=shelf.categories[p],
                score=round(float(score), 4),
                reason=reason,
            )
            for p, score, reason in zip(chosen, scores, why, strict=True)
            if np.isfinite(shelf.prices[p])  # the filters already leave these out; never answer a price of NaN
        ]
        with self._lock:
            self._served[model.version_id, strategy] += 1
        return Recommendations(
            versions.recommendation_id(model.version_id, strategy), model.version_id, strategy, items
        )

    def _popular_without_model(self, *, n: int, filters: Filters) -> Recommendations:
        counts = func.count(Event.id).label("events")
        query = (
            select(Item.item_id, Item.title, Item.price, Item.currency, Item.category, counts)
            .join(Event, Event.item_id == Item.item_id, isouter=True)
            .group_by(Item.item_id, Item.title, Item.price, Item.currency, Item.category)
            .order_by(counts.desc(), Item.item_id)
            .limit(n)
        )
        query = _filtered(query, filters)
        with self._uow() as uow:
            rows = uow.session.execute(query).all()
        items = [
            Suggestion(
                r.item_id,
                r.title,
                float(r.price),
                r.currency,
                r.category,
                float(r.events),
                reasons.popular(r.category),
            )
            for r in rows
        ]
        with self._lock:
            self._served[None, "popular"] += 1
        return Recommendations(versions.recommendation_id(None, "popular"), None, "popular", items)

    def _require_item(self, item_id: str) -> None:
        with self._uow() as uow:
            if uow.session.get(Item, item_id) is None:
                raise NotFound(f"no item {item_id!r}")


def _filtered(query, filters: Filters):  # type: ignore[no-untyped-def]
    if filters.in_stock:
        query = query.where(Item.in_stock.is_(True))
    if filters.category is not None:
        query = query.where(Item.category == filters.category)
    if filters.min_price is not None:
        query = query.where(Item.price >= filters.min_price)
    if filters.max_price is not None:
        query = query.where(Item.price <= filters.max_price)
    if filters.exclude:
        query = query.where(Item.item_id.not_in(filters.exclude))
    return query
