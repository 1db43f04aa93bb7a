"""Is the recommender any good? Ranking quality on real purchases, next to the strongest simple baselines.

    python bench/quality.py              # UCI Online Retail: test from 2011-11-01, validation Oct 2011
    python bench/quality.py --movielens  # MovieLens 100k by time: the last fifth tests, the fifth before validates
    python bench/quality.py --scale      # EASE's memory and fit time at 3,600, 20,000 and 100,000 items

Every model is scored by salesbot's own metric functions on items new to each customer, k=10. Anything with a
knob (EASE's lambda, item-kNN's K, ALS's regularization, our blend's weights) is chosen on a validation period
INSIDE the training data (trained before it, judged on it), then refitted on everything before the test cut-off;
the test period only reports. Baselines: popularity, plain LightFM (README settings), the product's LightFM (the
current default: item and customer features), implicit's ALS and item-kNN (cosine), and EASE; customers without
history get the popular items from EASE, item-kNN and ALS. Our default is the product's blend
(salesbot/recommender/blend.py) of per-customer standardized scores: EASE on time-decayed history (sparsified as
served), the product's LightFM and the items trending in the last days, with the settings it ships with (chosen
once on UCI's validation month; on MovieLens they are untuned). The last row is what `salesbot tune` would choose
on this data's own validation period (kind and weights).
Needs the `bench` extra (`pip install -e '.[bench]'`) for implicit, and ../shared/datasets/.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from implicit.als import AlternatingLeastSquares
from implicit.nearest_neighbours import CosineRecommender
from lightfm import LightFM
from scipy import sparse
from tabulate import tabulate
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from salesbot import schema
from salesbot.bootstrap import bootstrap
from salesbot.catalog import imports
from salesbot.config import Settings
from salesbot.recommender import blend, ease, evaluation, training, tuning
from salesbot.recommender.dataset import Interactions, Store, build, read_store

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
UCI = DATASETS / "uci-online-retail" / "online_retail.parquet"
MOVIELENS = DATASETS / "movielens-100k"
UCI_VALIDATION = datetime(2011, 10, 1, tzinfo=UTC)
UCI_TEST = datetime(2011, 11, 1, tzinfo=UTC)
K = 10
BLOCK = 256
FEATURE_SHARE = training.Params().customer_feature_share

EASE_L2 = [50.0, 100.0, 250.0, 500.0, 1000.0]
KNN_K = [20, 50, 100, 200]
ALS_REG = [0.01, 0.1, 1.0]
ScoreFn = Callable[[np.ndarray], np.ndarray]  # customer rows -> scores over the catalog


@dataclass(frozen=True)
class Split:
    """Training interactions before `cutoff`, and what the customers known then did in [cutoff, end)."""

    store: Store
    cutoff: pd.Timestamp
    train: Interactions
    test: evaluation.Holdout

    @property
    def seen(self) -> sparse.csr_matrix:
        return self.train.weights.tocsr()


def split(store: Store, weights: dict[str, float], cutoff: pd.Timestamp, end: pd.Timestamp | None = None) -> Split:
    events = store.events
    before = Store(events[events.occurred_at < cutoff], store.items, store.customers)
    after = events[(events.occurred_at >= cutoff) & ((events.occurred_at < end) if end is not None else True)]
    after = after[after.type.map(weights).fillna(0) > 0]
    train = build(before, weights, now=cutoff.to_pydatetime(), customer_feature_share=FEATURE_SHARE)
    return Split(before, cutoff, train, evaluation.holdout(train, after, new_items_only=True))


def ndcg(data: Split, score: ScoreFn) -> dict[str, float]:
    return evaluation.evaluate_scores(_blocks(data.test.rows, score), data.train, data.test, k=K, exclude_seen=True)


def _blocks(rows: np.ndarray, score: ScoreFn) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, len(rows), BLOCK):
        block = rows[start : start + BLOCK]
        yield block, np.asarray(score(block), dtype=np.float64)


# --- the models: each returns a score function for a split's customers -------------------------------------


def popularity(data: Split) -> np.ndarray:
    return np.asarray((data.seen > 0).sum(axis=0), dtype=np.float64).ravel()


def popularity_model(data: Split, _knob: object = None) -> ScoreFn:
    counts = popularity(data)
    return lambda rows: np.tile(counts, (len(rows), 1))


def _with_cold_fallback(data: Split, score: ScoreFn) -> ScoreFn:
    """Item-to-item and ALS scores are all 0 for a customer without history: break ties by popularity."""
    tie_break = 1e-6 * popularity(data) / max(popularity(data).max(), 1.0)
    return lambda rows: score(rows) + tie_break


def ease_model(data: Split, l2: float) -> ScoreFn:
    model = ease.fit(data.seen, ease.Params(l2=l2))
    return _with_cold_fallback(data, lambda rows: ease.score(model, data.seen[rows]))


def knn_model(data: Split, neighbours: int) -> ScoreFn:
    model = CosineRecommender(K=neighbours)
    seen = (data.seen > 0).astype(np.float32)
    model.fit(seen, show_progress=False)
    similarity = model.similarity.tocsr()
    return _with_cold_fallback(data, lambda rows: (seen[rows] @ similarity).toarray())


def als_model(data: Split, regularization: float) -> ScoreFn:
    model = AlternatingLeastSquares(factors=64, iterations=15, regularization=regularization, random_state=7)
    with threadpool_limits(1, "blas"):
        model.fit(sparse.csr_matrix(data.seen), show_progress=False)
    users, items = np.asarray(model.user_factors), np.asarray(model.item_factors)
    return _with_cold_fallback(data, lambda rows: users[rows] @ items.T)  # no history: a zero vector


def plain_lightfm_model(data: Split, _knob: object = None) -> ScoreFn:
    """LightFM as its README shows it: WARP, 64 components, 30 epochs, interactions only."""
    model = LightFM(no_components=64, loss="warp", random_state=np.random.RandomState(7))
    model.fit((data.seen > 0).astype(np.float32).tocoo(), epochs=30, num_threads=2)
    return lambda rows: model.user_embeddings[rows] @ model.item_embeddings.T + model.item_biases


def product_lightfm(data: Split) -> ScoreFn:
    """The product's current default: salesbot's own training (features, event weights, its Params)."""
    found = training.fit(data.train, training.Params())
    return lambda rows: found.customer_vectors[rows] @ found.item_vectors.T + found.item_biases


# --- our default: the product's blend (salesbot.recommender.blend), its weights chosen on validation ----------


def search(data: Split, weights: dict[str, float]) -> tuning.BlendSearch:
    """The product's blend parts for one split, as `salesbot tune` fits them."""
    embeddings = training.fit(data.train, training.Params())
    return tuning.BlendSearch(data.store, data.train, data.test, embeddings, weights, now=data.cutoff.to_pydatetime())


def choose(parts: tuning.BlendSearch) -> tuple[blend.Params, float]:
    """The kind and settings `salesbot tune` would choose over this LightFM: the best on validation."""
    scored = [(parts.ndcg(choice), choice) for choice in tqdm(tuning.blend_grid(), desc="kinds and weights")]
    scored.append((parts.ndcg(blend.Params(kind="lightfm")), blend.Params(kind="lightfm")))
    best, choice = max(scored, key=lambda pair: pair[0])
    return choice, best


# --- the table ----------------------------------------------------------------------------------------------

BASELINES: list[tuple[str, Callable[[Split, object], ScoreFn], list]] = [
    ("popularity", popularity_model, [None]),
    ("LightFM WARP, no features (README)", plain_lightfm_model, [None]),
    ("implicit ALS (64 factors), regularization", als_model, ALS_REG),
    ("implicit item-kNN (cosine), K", knn_model, KNN_K),
    ("EASE, lambda", ease_model, EASE_L2),
]


def compare(store: Store, weights: dict[str, float], validation: pd.Timestamp, test: pd.Timestamp) -> list[tuple]:
    """Each knob chosen on [validation, test), then the model refitted before `test` and scored after it."""
    tuning, final = split(store, weights, validation, test), split(store, weights, test)
    print(f"validation: {len(tuning.test.rows):,} customers; test: {len(final.test.rows):,} customers")
    rows = []
    for name, make, knobs in tqdm(BASELINES, desc="baselines"):
        started = time.perf_counter()
        on_validation = {knob: ndcg(tuning, make(tuning, knob))[f"ndcg@{K}"] for knob in knobs}
        knob = max(on_validation, key=on_validation.get)
        label = name if knob is None else f"{name} {knob:g}"
        rows.append((label, on_validation[knob], ndcg(final, make(final, knob)), time.perf_counter() - started))
    started = time.perf_counter()
    tuning_parts, final_parts = search(tuning, weights), search(final, weights)
    lightfm_alone = blend.Params(kind="lightfm")
    label = "salesbot LightFM (kind lightfm)"
    rows.append((label, tuning_parts.ndcg(lightfm_alone), final_parts.figures(lightfm_alone), 0.0))
    default = blend.Params()
    label = "OUR DEFAULT: salesbot blend as shipped (no tuning)"
    rows.append((label, tuning_parts.ndcg(default), final_parts.figures(default), 0.0))
    choice, on_validation = choose(tuning_parts)
    label = (
        f"salesbot tune's choice: {choice.kind}, EASE l={choice.ease_l2:g} half-life"
        f" {choice.ease_half_life_days or 'none'} + {choice.lightfm_weight:g} LightFM + {choice.trend_weight:g} trend"
    )
    rows.append((label, on_validation, final_parts.figures(choice), time.perf_counter() - started))
    return rows


def load_uci(folder: Path) -> Store:
    """UCI Online Retail through `salesbot import`, exactly as a store would load it."""
    url = f"sqlite:///{folder / 'uci.db'}"
    schema.upgrade(url)
    shop = bootstrap(Settings(database_url=url))
    mapping = imports.Mapping.parse(("uci-online-retail",))
    for kind in ("items", "customers", "events"):
        imports.import_file(
            uow=shop.uow,
            kind=kind,
            path=UCI,
            mapping=mapping,
            policy=shop.event_policy,
            rejects=imports.RejectFile(folder / f"{kind}.rejects.csv"),
        )
    with shop.uow() as uow:
        store = read_store(uow.session.connection())
    shop.close()
    return store


def load_movielens() -> Store:
    """MovieLens 100k as a store: ratings are events, genres the category, occupations the segment."""
    ratings = pd.read_csv(MOVIELENS / "u.data", sep="\t", names=["customer_id", "item_id", "value", "ts"])
    events = ratings.assign(
        type="rating", occurred_at=pd.to_datetime(ratings.pop("ts"), unit="s", utc=True), value=ratings.value
    )
    genres = pd.read_csv(MOVIELENS / "u.genre", sep="|", names=["genre", "flag"]).genre.tolist()
    movies = pd.read_csv(
        MOVIELENS / "u.item", sep="|", names=["item_id", "title", "r", "v", "url", *genres], encoding="latin-1"
    )
    items = pd.DataFrame(
        {
            "item_id": movies.item_id,
            "title": movies.title,
            "category": movies[genres].idxmax(axis=1),
            "brand": None,
            "price": None,
            "in_stock": True,
            "attributes": None,
        }
    )
    people = pd.read_csv(MOVIELENS / "u.user", sep="|", names=["customer_id", "age", "gender", "segment", "zip"])
    customers = pd.DataFrame(
        {"customer_id": people.customer_id, "segment": people.segment, "country": None, "attributes": None}
    )
    return Store(
        events=events[["customer_id", "item_id", "type", "value", "occurred_at"]], items=items, customers=customers
    )


def print_table(rows: list[tuple]) -> None:
    baselines = [row for row in rows if not row[0].startswith(("salesbot tune", "OUR"))]
    best = max(figures[f"ndcg@{K}"] for _name, _validation, figures, _seconds in baselines)
    columns = list(rows[0][2])
    table = [
        (
            name,
            f"{validation:.4f}",
            *(f"{figures[c]:.4f}" for c in columns),
            f"{figures[f'ndcg@{K}'] / best:.2f}x",
            f"{seconds:.0f}",
        )
        for name, validation, figures, seconds in rows
    ]
    headers = ("", f"validation ndcg@{K}", *(f"test {c}" for c in columns), "test ndcg / best baseline", "seconds")
    print(tabulate(table, headers=headers))


# --- EASE at scale -------------------------------------------------------------------------------------------


def synthetic(items: int, customers: int, per_customer: int, seed: int = 7) -> sparse.csr_matrix:
    """Purchases with a long tail: item popularity by Zipf's law."""
    rng = np.random.default_rng(seed)
    chance = 1.0 / np.arange(1, items + 1) ** 0.9
    columns = rng.choice(items, size=customers * per_customer, p=chance / chance.sum())
    rows = np.repeat(np.arange(customers), per_customer)
    return sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(customers, items))


def scale_table(uci: sparse.csr_matrix | None) -> None:
    cases = [("UCI Online Retail", uci)] if uci is not None else [("synthetic 3,600", synthetic(3_600, 4_400, 60))]
    cases += [
        ("synthetic 20,000", synthetic(20_000, 50_000, 40)),
        ("synthetic 100,000", synthetic(100_000, 200_000, 40)),
    ]
    table = []
    for name, matrix in tqdm(cases, desc="EASE at scale"):
        tracemalloc.start()
        started = time.perf_counter()
        model = ease.fit(matrix, ease.Params())
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        started = time.perf_counter()
        ease.score_history(model, np.flatnonzero(matrix[0].toarray()[0]))
        one = time.perf_counter() - started
        table.append(
            (
                name,
                f"{matrix.shape[1]:,}",
                f"{len(model.positions):,}",
                f"{model.weights.nbytes / 2**20:,.0f}",
                f"{peak / 2**20:,.0f}",
                f"{seconds:.1f}",
                f"{one * 1000:.1f}",
            )
        )
        del model
    headers = (
        "catalog",
        "items",
        f"items with a row (max_items {ease.MAX_ITEMS:,})",
        "B (MiB)",
        "peak while fitting (MiB)",
        "fit (s)",
        "one customer fold-in (ms)",
    )
    print(tabulate(table, headers=headers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--movielens", action="store_true")
    parser.add_argument("--scale", action="store_true", help="EASE's memory and fit time by catalog size")
    args = parser.parse_args()
    weights = dict(Settings().event_weights)
    if args.movielens:
        store = load_movielens()
        times = store.events.occurred_at
        test, validation = times.quantile(0.8), times[times < times.quantile(0.8)].quantile(0.8)
        print(f"MovieLens 100k by time: validation from {validation:%Y-%m-%d}, test from {test:%Y-%m-%d}")
        print_table(compare(store, weights, validation, test))
        return
    if not UCI.exists():
        print(f"{UCI} is not here; nothing to measure")
        return
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        store = load_uci(Path(folder))
        print(f"loaded UCI Online Retail through salesbot import in {time.perf_counter() - started:.0f} s")
    if args.scale:
        scale_table(split(store, weights, pd.Timestamp(UCI_TEST)).seen)
        return
    print(f"UCI Online Retail: validation from {UCI_VALIDATION:%Y-%m-%d}, test from {UCI_TEST:%Y-%m-%d}")
    print_table(compare(store, weights, pd.Timestamp(UCI_VALIDATION), pd.Timestamp(UCI_TEST)))


if __name__ == "__main__":
    main()
