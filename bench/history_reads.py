"""How fast is a customer's history read on the recommendation hot path? `UnitOfWork.read` (no session; on
PostgreSQL a small autocommit pool without the ping before each checkout) against the same statement through a
session on the engine's own pool (the ping, and on PostgreSQL a transaction around it), in alternating rounds.

    python bench/history_reads.py [--customers 5000] [--reads 2000] [--postgres postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from serving import scratch_database, store
from tabulate import tabulate

from salesbot import schema
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.recommender.results import LATEST

ROUNDS = 3


def through_a_session(shop, customer_id: str) -> list:
    with shop.uow() as uow:
        return uow.session.connection().execute(LATEST, {"customer_id": customer_id}).all()


def lone_read(shop, customer_id: str) -> list:
    return shop.uow().read(LATEST, {"customer_id": customer_id})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--reads", type=int, default=2_000)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to make a scratch database on")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    with scratch_database(args.postgres) as url:
        schema.upgrade(url)
        shop = bootstrap(Settings(database_url=url, embeddings="off"))
        store(shop, 2_000, args.customers, rng)
        ids = [f"c-{n}" for n in rng.integers(0, args.customers, args.reads)]
        spent: dict[str, list[float]] = {"session (before)": [], "UnitOfWork.read (now)": []}
        for _ in range(ROUNDS):
            for name, read in (("session (before)", through_a_session), ("UnitOfWork.read (now)", lone_read)):
                started = time.perf_counter()
                for customer in ids:
                    read(shop, customer)
                spent[name].append((time.perf_counter() - started) / len(ids) * 1e6)
        shop.close()
    before = float(np.median(spent["session (before)"]))
    rows = [(name, f"{np.median(times):,.0f}", f"{before / np.median(times):.2f}x") for name, times in spent.items()]
    print(f"database: {url.split(':')[0]}; {args.reads:,} reads x {ROUNDS} alternating rounds, median per read")
    print(tabulate(rows, headers=("a customer's history", "µs per read", "speed-up over the session")))


if __name__ == "__main__":
    main()
