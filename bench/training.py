"""How long does `salesbot train` take on 1,000,000 events, next to the bare `LightFM.fit` it wraps?

    python bench/training.py [--sessions 250000] [--epochs 30]

Writes a demo store (about 1M events, 10,000 items, 20,000 customers, with segments, countries, categories,
brands and prices) to a temporary SQLite database, then in the same run:
  - our `train`: read the events from the database, build the matrices with features, fit the evaluation
    model on the time split and score it, fit the final model, compute the serving shortlists, store the version;
  - the same with --skip-evaluation (no hold-out model);
  - the baseline: `LightFM.fit` alone, same parameters, on the final model's matrices already in memory.
Prints where our time goes and the ratio of our total to the bare fit.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tabulate import tabulate
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from salesbot import schema
from salesbot.bootstrap import bootstrap
from salesbot.catalog import demo
from salesbot.config import Settings
from salesbot.recommender import pipeline, training
from salesbot.recommender.dataset import build, read_store

UNTIL = datetime(2026, 6, 1, tzinfo=UTC)


def stock(shop, sessions: int) -> int:
    size = demo.DemoSize(items=10_000, customers=20_000, sessions=sessions)
    written = 0
    with tqdm(desc="demo store", unit=" rows", unit_scale=True, file=sys.stderr) as bar:
        for _what, report in demo.generate(uow=shop.uow, size=size, until=UNTIL, policy=shop.event_policy):
            bar.update(report.created)
            written += report.created
    return written


def ours(shop, params: pipeline.Params, *, evaluate: bool = True) -> tuple[float, dict[str, float]]:
    """Seconds for the whole `train`, and per phase: from the report before its first to its last report."""
    reports: list[tuple[str, float]] = []
    started = time.perf_counter()
    pipeline.train(
        uow=shop.uow,
        plan=pipeline.Plan(params=params, evaluate=evaluate),
        weights=shop.settings.event_weights,
        on_progress=lambda phase, done, total: reports.append((phase, time.perf_counter())),
    )
    total = time.perf_counter() - started
    phases: dict[str, float] = {}
    for phase in dict.fromkeys(name for name, _when in reports):
        times = [when for name, when in reports if name == phase]
        phases[phase] = times[-1] - _before(reports, times[0], started)
    return total, phases


def _before(reports: list[tuple[str, float]], first: float, started: float) -> float:
    earlier = [when for _name, when in reports if when < first]
    return earlier[-1] if earlier else started


def bare(shop, params: pipeline.Params) -> tuple[float, int]:
    """Seconds for `LightFM.fit` on the final model's matrices, and how many interactions they hold."""
    with shop.uow() as uow:
        store = read_store(uow.session.connection())
    matrices = build(
        store, shop.settings.event_weights, now=UNTIL, customer_feature_share=params.customer_feature_share
    )
    weights = matrices.weights.tocsr().astype(np.float32).tocoo()
    model = training.untrained(params)
    started = time.perf_counter()
    model.fit(
        (weights > 0).astype(np.float32).tocoo(),
        user_features=matrices.customer_features.matrix,
        item_features=matrices.item_features.matrix,
        sample_weight=weights,
        epochs=params.epochs,
        num_threads=2,
    )
    return time.perf_counter() - started, weights.nnz


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=250_000, help="demo sessions (about 4 events each)")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    params = pipeline.Params(epochs=args.epochs)
    threadpool_limits(1, "blas")  # as the API and CLI run; LightFM's own threads are set by num_threads
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'training.db'}"
        schema.upgrade(url)
        shop = bootstrap(Settings(database_url=url))
        written = stock(shop, args.sessions)
        total, phases = ours(shop, params)
        skipping, _phases = ours(shop, params, evaluate=False)
        fit_alone, interactions = bare(shop, params)
        shop.close()
    print(f"\n{written:,} rows written ({interactions:,} distinct customer-item interactions), {args.epochs} epochs\n")
    rows = [(f"  {phase}", f"{seconds:.1f}") for phase, seconds in phases.items()]
    rows.insert(0, ("salesbot train, total", f"{total:.1f}"))
    rows.append(("  reading, matrices, scoring, storing (the rest)", f"{total - sum(phases.values()):.1f}"))
    rows.append(("salesbot train --skip-evaluation, total", f"{skipping:.1f}"))
    rows.append(("LightFM.fit alone (baseline)", f"{fit_alone:.1f}"))
    print(tabulate(rows, headers=("training on the demo store", "seconds")))
    print(f"\nratio train / bare fit: {total / fit_alone:.2f}")
    print(f"ratio train --skip-evaluation / bare fit: {skipping / fit_alone:.2f}")
    print(f"ratio final model fit / bare fit: {phases.get('final model', 0) / fit_alone:.2f}")


if __name__ == "__main__":
    main()
