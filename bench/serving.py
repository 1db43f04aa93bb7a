"""How fast are recommendations served? 100,000 items and 100,000 customers, on SQLite or PostgreSQL.

    python bench/serving.py [--items 100000] [--customers 100000] [--requests 300] [--seconds 5] [--rounds 3]
                            [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--no-http]

Prints, each next to a baseline measured in the same run:
  - where the time of `GET /v1/customers/{id}/recommendations` goes, stage by stage (authentication, the rate
    limiter, the request hooks, query parsing, the model check, the history read, scoring, the JSON answer, and
    Flask itself), timed inside the app as it answers real requests in process, next to `/healthz` through the
    same app;
  - one customer's top-10 with filters and purchased-item exclusion through `Recommender.for_customer`
    (database reads included): p50 and p99, against the bare matrix product that scores one customer;
  - top-10 for many customers at once (block matrix products) against calling `LightFM.predict` per customer;
  - under `salesbot serve --workers 2` (the production command) with a load generator on loopback: requests/s of
    the recommendations endpoint against `/healthz` of the same workers, in alternating rounds, and their ratio;
    then p50/p99 of recommendations paced at half their peak.
The model is the default blend (LightFM, EASE folded in at request time over the 20,000 most active items with 500
weights each, the trend) with random values (speed does not depend on them); the catalog and events are real rows.
With --postgres, a scratch database is made on that server and dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from lightfm import LightFM
from loopback import free_port, wait_for
from scipy import sparse
from serving_stages import QUIET, RECOMMENDATIONS, breakdown
from sqlalchemy import create_engine, make_url, text
from tabulate import tabulate

from salesbot import schema
from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.catalog import customers, events, items
from salesbot.config import Settings
from salesbot.recommender import blend, ease, evaluation, picking, pipeline, versions
from salesbot.recommender.serving import Filters
from salesbot.recommender.training import Embeddings

COMPONENTS = 64


def store(shop, n_items: int, n_customers: int, rng: np.random.Generator) -> None:
    categories = [f"category-{n}" for n in range(50)]
    products = pd.DataFrame(
        {
            "item_id": [f"sku-{n}" for n in range(n_items)],
            "title": [f"Thing {n}" for n in range(n_items)],
            "category": rng.choice(categories, n_items),
            "price": rng.integers(1, 500, n_items).astype(str),
            "currency": "EUR",
            "in_stock": rng.random(n_items) > 0.1,
        }
    )
    people = pd.DataFrame({"customer_id": [f"c-{n}" for n in range(n_customers)]})
    purchases = pd.DataFrame(
        {
            "event_id": [f"e-{n}" for n in range(n_customers * 5)],
            "customer_id": [f"c-{n % n_customers}" for n in range(n_customers * 5)],
            "item_id": [f"sku-{k}" for k in rng.integers(0, n_items, n_customers * 5)],
            "type": "purchase",
            "value": 1.0,
            "occurred_at": pd.Timestamp("2025-01-01", tz="UTC"),
        }
    )
    with shop.uow() as uow:
        connection = uow.session.connection()
        items.rows.take(connection, products)
        customers.rows.take(connection, people)
        events.take(
            connection,
            purchases,
            policy=shop.event_policy,
            now=pd.Timestamp.now(tz="UTC"),
            fallback_ids=purchases.event_id,
        )
        uow.commit()


def model(shop, n_items: int, n_customers: int, rng: np.random.Generator, kind: str = "blend") -> Embeddings:
    embeddings = Embeddings(
        item_vectors=rng.standard_normal((n_items, COMPONENTS), dtype=np.float32),
        item_biases=rng.standard_normal(n_items, dtype=np.float32),
        customer_vectors=rng.standard_normal((n_customers, COMPONENTS), dtype=np.float32),
        customer_feature_vectors=rng.standard_normal((n_customers, COMPONENTS), dtype=np.float32),
        customer_feature_biases=np.zeros(n_customers, dtype=np.float32),
    )
    artifact = versions.Artifact(
        item_ids=np.array([f"sku-{n}" for n in range(n_items)]),
        customer_ids=np.array([f"c-{n}" for n in range(n_customers)]),
        customer_feature_names=np.array([f"id:c-{n}" for n in range(n_customers)]),
        popularity=rng.random(n_items).astype(np.float32),
        embeddings=embeddings,
        shortlists=shortlists(embeddings),
        blend=blend.Config(params=blend.Params(kind=kind), event_weights=dict(shop.settings.event_weights)).dumps(),
        item_to_item=item_to_item(n_items, rng) if kind != "lightfm" else None,
        trend=np.log1p(rng.poisson(0.5, n_items)).astype(np.float32),
    )
    version = versions.start(uow=shop.uow(), params={"bench": True})
    versions.finish(uow=shop.uow(), version_id=version.id, artifact=artifact, data={}, metrics={})
    versions.activate(uow=shop.uow(), version_id=version.id)
    return embeddings


def item_to_item(n_items: int, rng: np.random.Generator) -> ease.ItemToItem:
    """The shape the default blend serves: the most active items (capped) with their strongest weights each."""
    kept = min(n_items, ease.MAX_ITEMS)
    neighbours = blend.Params().ease_neighbours
    rows = np.repeat(np.arange(kept), neighbours)
    columns = rng.integers(0, kept, kept * neighbours)
    weights = sparse.csr_matrix((rng.standard_normal(len(rows), dtype=np.float32) / 100, (rows, columns)),
                                shape=(kept, kept))  # fmt: skip
    positions = np.sort(rng.choice(n_items, kept, replace=False)).astype(np.int32)
    return ease.ItemToItem(positions=positions, weights=weights, catalog_size=n_items)


def shortlists(embeddings: Embeddings) -> np.ndarray:
    """What training adds to the artifact: each customer's best items, timed because training pays for it."""
    started = time.perf_counter()
    lists = evaluation.shortlists(embeddings, pipeline.SHORTLIST)
    spent = time.perf_counter() - started
    rate = len(lists) / spent
    print(f"shortlists of {pipeline.SHORTLIST} for {len(lists):,} customers: {spent:.0f} s ({rate:,.0f}/s)")
    return lists


def per_request(shop, embeddings: Embeddings, requests: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(latencies of for_customer with filters, latencies of the bare score-and-top-10), in milliseconds; prints
    how many lists the candidates answered (the rest scored the whole catalog)."""
    filters = Filters(max_price=300, in_stock=True, diversify=3)
    shop.recommender.for_customer("c-0", n=10, filters=filters)  # loads the model
    whole = Counter()
    ranking = picking.top_k  # called only when the candidates could not answer

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        whole["catalog"] += 1
        return ranking(*args, **kwargs)

    picking.top_k = counted
    ours, bare = [], []
    for customer in rng.integers(0, len(embeddings.customer_vectors), requests):
        started = time.perf_counter()
        shop.recommender.for_customer(f"c-{customer}", n=10, filters=filters)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        scores = embeddings.item_vectors @ embeddings.customer_vectors[customer] + embeddings.item_biases
        evaluation.top_k(scores[None, :], 10)
        bare.append(time.perf_counter() - started)
    picking.top_k = ranking
    print(f"filtered lists answered from the candidates: {1 - whole['catalog'] / requests:.0%} of {requests:,}")
    return np.array(ours) * 1000, np.array(bare) * 1000


def batch(embeddings: Embeddings, n_items: int, customers_sampled: int) -> tuple[float, float]:
    """(customers per second for our block scoring, customers per second for LightFM.predict per customer)."""
    lightfm = LightFM(no_components=COMPONENTS)
    lightfm.fit_partial(
        sparse.coo_matrix(([1.0], ([0], [0])), shape=(len(embeddings.customer_vectors), n_items)), epochs=1
    )
    lightfm.user_embeddings, lightfm.item_embeddings = embeddings.customer_vectors, embeddings.item_vectors
    lightfm.item_biases = embeddings.item_biases
    every_item = np.arange(n_items, dtype=np.int32)
    started = time.perf_counter()
    for customer in range(customers_sampled):
        np.argsort(-lightfm.predict(customer, every_item, num_threads=2))[:10]
    theirs = customers_sampled / (time.perf_counter() - started)
    rows = np.arange(customers_sampled * 10)
    started = time.perf_counter()
    for _block, scores in evaluation.score_blocks(
        embeddings.customer_vectors, embeddings.item_vectors, embeddings.item_biases, rows
    ):
        evaluation.top_k(scores, 10)
    ours = len(rows) / (time.perf_counter() - started)
    return ours, theirs


def http_figures(url: str, secret: str, customers: int, *, seconds: float, rounds: int, clients: int = 8) -> list:
    """Peak requests/s of recommendations and /healthz from the same `salesbot serve --workers 2`, measured in
    alternating rounds (other load on the machine then weighs on both alike), then recommendations paced at half
    their peak."""
    port = free_port()
    env = os.environ | QUIET | {"SALESBOT_DATABASE_URL": url}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # serve makes its own
    command = [str(Path(sys.executable).parent / "salesbot"), "serve", "--workers", "2", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port)
        headers = {"Authorization": f"Bearer {secret}"}
        paths = {
            "recommendations": lambda n: RECOMMENDATIONS.format(n=n % customers),
            "/healthz": lambda n: "/healthz",
        }
        for path in paths.values():
            _load(port, headers, path, seconds=2, clients=clients)  # warm: every worker loads the model
        done: dict[str, list[int]] = {name: [] for name in paths}
        for _round in range(rounds):
            for name, path in paths.items():
                done[name].append(len(_load(port, headers, path, seconds=seconds, clients=clients)))
        peak = {name: sum(counts) / (seconds * rounds) for name, counts in done.items()}
        paced = np.array(
            _load(port, headers, paths["recommendations"], seconds=seconds, clients=clients,
                  rate=peak["recommendations"] / 2)
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    spread = {name: f"{min(counts) / seconds:,.0f}-{max(counts) / seconds:,.0f}" for name, counts in done.items()}
    return [
        ("recommendations, peak", f"{peak['recommendations']:,.0f}", spread["recommendations"], "", ""),
        ("/healthz, peak (same workers)", f"{peak['/healthz']:,.0f}", spread["/healthz"], "", ""),
        ("ratio recommendations / healthz", f"{peak['recommendations'] / peak['/healthz']:.2f}", "", "", ""),
        (
            "recommendations at half their peak",
            f"{len(paced) / seconds:,.0f}",
            "",
            f"{np.percentile(paced, 50):.1f}",
            f"{np.percentile(paced, 99):.1f}",
        ),
    ]


def _load(port: int, headers: dict, path, *, seconds: float, clients: int, rate: float | None = None) -> list[float]:
    """Latencies in ms of the requests completed in `seconds`; paced to `rate` requests/s in all when given."""
    latencies: list[float] = []
    lock, deadline = threading.Lock(), time.perf_counter() + seconds
    counter = iter(range(10**9))

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start = time.perf_counter()
        sent = 0
        while time.perf_counter() < deadline:
            if rate:
                wait = start + sent * clients / rate + offset / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            began = time.perf_counter()
            connection.request("GET", path(next(counter)), headers=headers)
            response = connection.getresponse()
            response.read()
            sent += 1
            if response.status == 200:
                with lock:
                    latencies.append((time.perf_counter() - began) * 1000)
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


@contextlib.contextmanager
def scratch_database(postgres: str | None) -> Iterator[str]:
    """A new, empty database: a SQLite file, or one made on the PostgreSQL server and dropped afterwards."""
    if not postgres:
        folder = tempfile.mkdtemp()
        try:
            yield f"sqlite:///{Path(folder) / 'serving.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"salesbot_bench_serving_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each HTTP load phase")
    parser.add_argument("--rounds", type=int, default=3, help="alternating peak rounds per endpoint")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to make a scratch database on")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--kind", choices=blend.KINDS, default="blend", help="the model kind served")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    with scratch_database(args.postgres) as url:
        print(f"model kind: {args.kind}")
        print(f"database: {make_url(url).get_backend_name()}")
        schema.upgrade(url)
        shop = bootstrap(Settings(database_url=url, model_check_seconds=3600))
        started = time.perf_counter()
        store(shop, args.items, args.customers, rng)
        embeddings = model(shop, args.items, args.customers, rng, kind=args.kind)
        print(f"catalog, customers, 5 purchases each and a model stored in {time.perf_counter() - started:.0f} s")
        ours, bare = per_request(shop, embeddings, args.requests, rng)
        secret = keys.create(uow=shop.uow(), role="server", name="bench")[1]
        shop.close()
        stages = breakdown(url, secret, args.customers, requests_made=max(args.requests, 1000))
        served = (
            [] if args.no_http else http_figures(url, secret, args.customers, seconds=args.seconds, rounds=args.rounds)
        )
    print()
    print(
        tabulate(
            stages,
            headers=("one request, in process (μs)", "recommendations", "share", "/healthz"),
            colalign=("left", "right", "right", "right"),
        )
    )
    print()
    quantiles = [
        (name, f"{np.percentile(ms, 50):.1f}", f"{np.percentile(ms, 99):.1f}")
        for name, ms in (("for_customer, filtered, purchases excluded", ours), ("bare score + top-10 (baseline)", bare))
    ]
    print(tabulate(quantiles, headers=("one customer's top-10", "p50 ms", "p99 ms")))
    print(f"ratio p50 ours / bare: {np.percentile(ours, 50) / np.percentile(bare, 50):.2f}\n")
    ours_rate, theirs_rate = batch(embeddings, args.items, customers_sampled=100)
    print(
        tabulate(
            [
                ("block scoring (ours)", f"{ours_rate:,.0f}"),
                ("LightFM.predict per customer", f"{theirs_rate:,.0f}"),
                ("ratio", f"{ours_rate / theirs_rate:.1f}x"),
            ],
            headers=("all-customer batch", "customers/s"),
        )
    )
    if served:
        print()
        title = "salesbot serve --workers 2, 8 loopback clients"
        print(tabulate(served, headers=(title, "requests/s", "per round", "p50 ms", "p99 ms"), disable_numparse=True))


if __name__ == "__main__":
    main()
