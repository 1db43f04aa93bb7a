"""Is the recommender any good? Ranking quality on real purchases, next to the usual baselines.

    python bench/quality.py              # UCI Online Retail: split at 2011-11-01, items new to each customer, k=10
    python bench/quality.py --movielens  # MovieLens 100k ua split, LightFM's documented sanity check

Prints one table: our hybrid model (through salesbot's own import, dataset and evaluation code), popularity,
plain LightFM WARP (64 components, 30 epochs, no features) and implicit's ALS, all on the same split and
scored by the same metric functions, with each one's NDCG@10 as a ratio to ours.
Needs the `bench` extra (`pip install -e '.[bench]'`) for implicit, and ../shared/datasets/.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from lightfm import LightFM
from scipy import sparse
from tabulate import tabulate

from salesbot import schema
from salesbot.bootstrap import bootstrap
from salesbot.catalog import imports
from salesbot.config import Settings
from salesbot.recommender import evaluation, metrics, pipeline, tuning
from salesbot.recommender.dataset import Store, build, read_store

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
UCI = DATASETS / "uci-online-retail" / "online_retail.parquet"
MOVIELENS = DATASETS / "movielens-100k"
CUTOFF = datetime(2011, 11, 1, tzinfo=UTC)
K = 10


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


def plain_lightfm(train: sparse.coo_matrix, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LightFM as its README shows it: WARP, 64 components, 30 epochs, interactions only."""
    model = LightFM(no_components=64, loss="warp", random_state=np.random.RandomState(seed))
    model.fit((train > 0).astype(np.float32).tocoo(), epochs=30, num_threads=2)
    return model.user_embeddings, model.item_embeddings, model.item_biases


def implicit_als(train: sparse.coo_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from implicit.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(factors=64, iterations=15, regularization=0.05, random_state=7)
    model.fit(sparse.csr_matrix(train), show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors), np.zeros(train.shape[1], dtype=np.float32)


def uci_table(tune_trials: int) -> list[tuple]:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        store = load_uci(Path(folder))
        print(f"loaded UCI Online Retail through salesbot import in {time.perf_counter() - started:.0f} s")
    weights = Settings().event_weights
    plan = pipeline.Plan(cutoff=CUTOFF, k=K, weights=weights)
    started = time.perf_counter()
    ours = pipeline.evaluate(store, plan, now=CUTOFF, on_progress=lambda *progress: None)
    ours_seconds = time.perf_counter() - started
    before = store.events[store.events.occurred_at < pd.Timestamp(CUTOFF)]
    after = store.events[store.events.occurred_at >= pd.Timestamp(CUTOFF)]
    train = build(Store(before, store.items, store.customers), weights, now=CUTOFF)
    test = evaluation.holdout(train, after, new_items_only=True)
    rows = [("salesbot hybrid (ours)", ours["model"], ours_seconds), ("popularity", ours["popularity"], 0.0)]
    if tune_trials:
        started = time.perf_counter()
        trials = tuning.tune(store, weights, now=CUTOFF, trials=tune_trials, seed=7)
        tuned = pipeline.evaluate(
            store, replace(plan, params=trials[0].params), now=CUTOFF, on_progress=lambda *progress: None
        )
        label = f"salesbot after `tune` ({tune_trials} trials, chosen on validation before the cut-off)"
        rows.insert(1, (label, tuned["model"], time.perf_counter() - started))
    for name, fit in (("LightFM WARP, no features", plain_lightfm), ("implicit ALS", implicit_als)):
        started = time.perf_counter()
        users, items, biases = fit(train.weights)
        blocks = evaluation.score_blocks(users, items, biases, test.rows)
        rows.append(
            (
                name,
                evaluation.evaluate_scores(blocks, train, test, k=K, exclude_seen=True),
                time.perf_counter() - started,
            )
        )
    print(f"test: {len(test.rows):,} customers known before {CUTOFF:%Y-%m-%d} who bought new items after it")
    return rows


def movielens_table() -> list[tuple]:
    names = ["user", "item", "rating", "ts"]
    train = pd.read_csv(MOVIELENS / "ua.base", sep="\t", names=names)
    test = pd.read_csv(MOVIELENS / "ua.test", sep="\t", names=names)
    shape = (max(train.user.max(), test.user.max()) + 1, max(train.item.max(), test.item.max()) + 1)
    matrix = sparse.coo_matrix((np.ones(len(train), dtype=np.float32), (train.user, train.item)), shape=shape)
    # As LightFM's movielens_implicit example: WARP, learning rate 0.05, default 10 components, 10 epochs.
    model = LightFM(learning_rate=0.05, loss="warp", random_state=np.random.RandomState(7))
    model.fit_partial(matrix, epochs=10, num_threads=2)
    users = np.array(sorted(test.user.unique()))
    scores = model.user_embeddings[users] @ model.item_embeddings.T + model.item_biases
    recommended = evaluation.top_k(scores, K).tolist()
    relevant = [set(group) for _user, group in test.groupby("user").item]
    figures = metrics.evaluate(recommended, relevant, k=K, catalog_size=shape[1])
    figures["documented precision@10"] = 0.11
    return [("LightFM WARP on MovieLens 100k (ua), train items not excluded", figures, 0.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--movielens", action="store_true")
    parser.add_argument("--tune-trials", type=int, default=8, help="0 skips the tuned row")
    args = parser.parse_args()
    source = MOVIELENS if args.movielens else UCI
    if not source.exists():
        print(f"{source} is not here; nothing to measure")
        return
    rows = movielens_table() if args.movielens else uci_table(args.tune_trials)
    columns = list(rows[0][1])
    reference = rows[0][1][f"ndcg@{K}"]
    table = [
        (
            name,
            *(f"{figures[c]:.4f}" for c in columns),
            f"{reference / figures[f'ndcg@{K}']:.2f}x" if figures[f"ndcg@{K}"] else "-",
            f"{seconds:.0f}",
        )
        for name, figures, seconds in rows
    ]
    print(tabulate(table, headers=("", *columns, "ours / this (ndcg)", "seconds")))


if __name__ == "__main__":
    main()
