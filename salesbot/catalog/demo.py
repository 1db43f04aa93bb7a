"""A demo store, generated deterministically: products in categories, customers with tastes, and a year
of events with popularity skew, taste clusters and seasons, so a recommender trained on it makes sense."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from salesbot.catalog import customers, events, items
from salesbot.catalog.frames import Report
from salesbot.conversation import faqs
from salesbot.database import UnitOfWork


@dataclass(frozen=True)
class Category:
    name: str
    cluster: str
    nouns: tuple[str, ...]
    brands: tuple[str, ...]
    median_price: float
    peak_month: int | None = None  # the month it sells best, for seasonal categories


CATEGORIES = (
    Category("laptops", "tech", ("Laptop", "Ultrabook", "Notebook"), ("Lumen", "Voltra", "Arcbook"), 1100),
    Category("tablets", "tech", ("Tablet", "Tab", "Slate"), ("Lumen", "Voltra", "Pixa"), 450),
    Category("headphones", "tech", ("Headphones", "Earbuds", "Headset"), ("Sonique", "Voltra", "Pulse"), 150),
    Category("smartphones", "tech", ("Phone", "Smartphone"), ("Pixa", "Lumen", "Nova"), 700),
    Category("cameras", "tech", ("Camera", "Action Cam", "Lens"), ("Optik", "Pixa"), 600),
    Category("kitchen", "home", ("Knife Set", "Pan", "Blender", "Kettle"), ("Cucina", "Ferro", "Hausmann"), 80),
    Category("coffee", "home", ("Espresso Machine", "Grinder", "Beans", "Milk Frother"), ("Barista", "Crema"), 120),
    Category("books", "home", ("Cookbook", "Novel", "Guide"), ("Northwind Press", "Atlas Books"), 20),
    Category("garden", "outdoor", ("Hose", "Lawn Mower", "Planter", "Pruner"), ("Greenfield", "Terra"), 90, 5),
    Category("camping", "outdoor", ("Tent", "Sleeping Bag", "Stove", "Lantern"), ("Trailhead", "Summit"), 140, 7),
    Category("running", "outdoor", ("Running Shoes", "Running Jacket", "Watch"), ("Stride", "Summit"), 110, 4),
    Category("winter-sports", "outdoor", ("Skis", "Snowboard", "Goggles"), ("Alpina", "Summit"), 300, 1),
    Category("toys", "family", ("Building Set", "Puzzle", "Doll", "Board Game"), ("Playwell", "Kidzo"), 35, 12),
    Category("baby", "family", ("Stroller", "Car Seat", "Baby Monitor"), ("Kidzo", "Nestling"), 180),
)
ADJECTIVES = ("Classic", "Pro", "Lite", "Plus", "Max", "Mini", "Eco", "Sport", "Studio", "Air")
COLORS = ("black", "white", "silver", "blue", "red", "green")
SEGMENTS = {"tech": "tech-enthusiast", "home": "home-maker", "outdoor": "outdoor", "family": "family"}
COUNTRIES = ("DE", "FR", "GB", "NL", "ES", "IT", "US", "AT", "SE", "PL")
FUNNEL = (("view", 1.0), ("click", 0.4), ("add_to_cart", 0.35), ("purchase", 0.5))  # each given the one before


FAQS = [
    {"question": "How long does shipping take?", "answer": "Orders leave our warehouse within 2 working days; "
     "delivery takes 1-3 more days in the EU.", "tags": "shipping"},
    {"question": "Can I return a product?", "answer": "Yes: within 30 days of delivery, unused and in its "
     "packaging, for a full refund.", "tags": "returns"},
    {"question": "Which payment methods do you accept?", "answer": "Credit and debit cards, PayPal and, for "
     "business customers, invoice.", "tags": "payment"},
    {"question": "Do you offer volume pricing for businesses?", "answer": "Yes. Tell us what you need and a "
     "colleague from our business team will send you a quote.", "tags": "business"},
    {"question": "Is there a warranty?", "answer": "Every product has a 2-year warranty; we repair or replace "
     "it at no cost.", "tags": "warranty"},
]  # fmt: skip


@dataclass(frozen=True)
class DemoSize:
    items: int = 3_000
    customers: int = 3_000
    sessions: int = 80_000
    seed: int = 7
    store_url: str | None = None  # where the demo store's pages are (/demo); items link to them when set


def catalog(size: DemoSize, rng: np.random.Generator) -> pd.DataFrame:
    """Items spread over the categories, each with a price around its category's and a popularity."""
    category = rng.permutation(np.arange(size.items) % len(CATEGORIES))  # every shelf stocked
    rows = []
    for n, index in enumerate(category):
        kind = CATEGORIES[index]
        brand, noun = kind.brands[n % len(kind.brands)], kind.nouns[(n // 3) % len(kind.nouns)]
        price = round(max(round(float(kind.median_price * rng.lognormal(0, 0.45))), 1) - 0.01, 2)
        rows.append(
            {
                "item_id": f"sku-{n:05d}",
                "title": f"{brand} {ADJECTIVES[n % len(ADJECTIVES)]} {noun} {100 + n % 900}",
                "description": f"A {kind.name.replace('-', ' ')} favourite from {brand}.",
                "category": kind.name,
                "brand": brand,
                "price": price,
                "currency": "EUR",
                "in_stock": bool(rng.random() > 0.05),
                "attributes": {"color": COLORS[n % len(COLORS)]} | _pages(size.store_url, f"sku-{n:05d}"),
            }
        )
    return pd.DataFrame(rows)


def _pages(store_url: str | None, item_id: str) -> dict[str, str]:
    """The item's page and picture in the demo store, which the chat widget's product cards show."""
    if not store_url:
        return {}
    base = store_url.rstrip("/")
    return {"url": f"{base}/demo/items/{item_id}", "image_url": f"{base}/demo/pictures/{item_id}.svg"}


def shoppers(size: DemoSize, rng: np.random.Generator) -> pd.DataFrame:
    clusters = list(SEGMENTS)
    cluster = rng.choice(len(clusters), size.customers, p=[0.35, 0.25, 0.25, 0.15])
    return pd.DataFrame(
        {
            "customer_id": [f"cust-{n:05d}" for n in range(size.customers)],
            "segment": [SEGMENTS[clusters[c]] for c in cluster],
            "country": rng.choice(COUNTRIES, size.customers),
            "attributes": [{"cluster": clusters[c]} for c in cluster],
        }
    )


def activity(size: DemoSize, products: pd.DataFrame, people: pd.DataFrame, until: datetime, rng) -> pd.DataFrame:
    """A year of shopping sessions: each picks a category the shopper likes (more often in its season),
    looks at a few items chosen by popularity, and walks some of the way down the funnel with each."""
    when = pd.Timestamp(until - timedelta(days=365)) + pd.to_timedelta(rng.random(size.sessions) * 365, unit="D")
    who = rng.integers(0, size.customers, size.sessions)
    clusters = people.attributes.map(lambda a: a["cluster"]).to_numpy()[who]
    category = _pick_categories(clusters, when.month.to_numpy(), rng)
    looked = rng.integers(1, 5, size.sessions)
    session = np.repeat(np.arange(size.sessions), looked)
    item = _pick_items(products, category[session], rng)
    depth = _funnel_depth(len(session), rng)
    step = np.repeat(np.arange(len(session)), depth)
    stage = pd.Series(step).groupby(step).cumcount().to_numpy()
    seconds = pd.Series(rng.integers(5, 300, len(step))).groupby(step).cumsum().to_numpy()
    frame = pd.DataFrame(
        {
            "event_id": [f"demo-{n}" for n in range(len(step))],
            "customer_id": people.customer_id.to_numpy()[who[session[step]]],
            "item_id": item[step],
            "type": np.array([name for name, _chance in FUNNEL])[stage],
            "occurred_at": when[session[step]] + pd.to_timedelta(seconds, unit="s"),
        }
    )
    frame["value"] = np.where(frame.type.isin(["purchase", "add_to_cart"]), 1.0, np.nan)
    return frame


def _pick_categories(clusters: np.ndarray, months: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    picked = np.empty(len(clusters), dtype=int)
    draws = rng.random(len(clusters))
    for cluster in SEGMENTS:
        for month in range(1, 13):
            mine = (clusters == cluster) & (months == month)
            appeal = np.cumsum([_appeal(kind, cluster, month) for kind in CATEGORIES])
            picked[mine] = np.searchsorted(appeal / appeal[-1], draws[mine])
    return picked


def _pick_items(products: pd.DataFrame, category: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Within each category a few items sell far more than the rest (Zipf-like popularity)."""
    picked = np.empty(len(category), dtype=object)
    draws = rng.random(len(category))
    for index, kind in enumerate(CATEGORIES):
        shelf = products.item_id[products.category == kind.name].to_numpy()
        popularity = np.cumsum(1.0 / np.arange(1, len(shelf) + 1) ** 0.9)
        mine = category == index
        picked[mine] = shelf[np.searchsorted(popularity / popularity[-1], draws[mine])]
    return picked


def _funnel_depth(looks: int, rng: np.random.Generator) -> np.ndarray:
    """How far down view -> click -> add_to_cart -> purchase each look goes."""
    depth = np.ones(looks, dtype=int)
    going = np.ones(looks, dtype=bool)
    for _name, chance in FUNNEL[1:]:
        going &= rng.random(looks) < chance
        depth += going
    return depth


def _appeal(kind: Category, cluster: str, month: int) -> float:
    taste = 8.0 if kind.cluster == cluster else 1.0
    if kind.peak_month is None:
        return taste
    distance = min(abs(month - kind.peak_month), 12 - abs(month - kind.peak_month))
    return taste * (2.5 if distance <= 1 else 0.6 if distance >= 4 else 1.0)


def generate(
    *, uow: Callable[[], UnitOfWork], size: DemoSize, until: datetime, policy: events.Policy
) -> Iterator[tuple[str, Report]]:
    """Write the demo store; yields (what, report) as each part lands. Running it again changes nothing."""
    rng = np.random.default_rng(size.seed)
    products, people = catalog(size, rng), shoppers(size, rng)
    yield "items", _write(uow(), lambda connection: items.rows.take(connection, products))
    yield "customers", _write(uow(), lambda connection: customers.rows.take(connection, people))
    yield "faqs", _write(uow(), lambda connection: faqs.rows.take(connection, pd.DataFrame(FAQS)))
    happened = activity(size, products, people, until, rng)
    for start in range(0, len(happened), 50_000):
        chunk = happened.iloc[start : start + 50_000]
        yield (
            "events",
            _write(
                uow(),
                lambda connection, chunk=chunk: events.take(
                    connection, chunk, policy=policy, now=until, fallback_ids=chunk.event_id
                ),
            ),
        )


def _write(uow: UnitOfWork, take: Callable) -> Report:
    with uow:
        report = take(uow.session.connection())
        uow.commit()
    return report
