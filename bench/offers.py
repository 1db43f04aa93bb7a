"""How much do offers and experiments cost, and do assignments split as asked?

    python bench/offers.py [--turns 300] [--units 1000000] [--postgres URL]

Prints, each next to a baseline measured in the same run:
  - server time per conversation turn (rules brain) with 100 live offers and 10 running experiments, against
    the same turns with none; the decision alone (eligibility, caps, arm) per call;
  - an experiment's results with 1,000,000 exposed units, on SQLite and (with --postgres or
    SALESBOT_TEST_POSTGRES_URL) PostgreSQL, against counting the rows alone;
  - assignment of 100,000 units to weights 50/30/20: the largest gap to the weights, and whether a second
    process assigns every unit the same arm.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from tabulate import tabulate
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api import create_app
from models.offers import ExperimentUnit, Exposure
from salesbot import schema
from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.catalog import items
from salesbot.config import Settings
from salesbot.offers import experiments, offers, results
from salesbot.offers.assignment import Arm, assign

SCRIPT = ["we need laptops", "about 3000 EUR, any discount?", "next month", "I'm the CTO", "cto@example.com"]
WEIGHTS = [("a", 0.5), ("b", 0.3), ("c", 0.2)]


def _shop(folder: str):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{Path(folder) / 'bench.db'}"
    schema.upgrade(url)
    shop = bootstrap(Settings(database_url=url, conversation_rate_limit="1000000/minute", embeddings="off"))
    for n in range(40):
        items.put(uow=shop.uow(), item_id=f"lap-{n}", title=f"Laptop {n}", category="laptops",
                  price=str(500 + 50 * n), currency="EUR")  # fmt: skip
    return shop


def _timed_turns(shop, count: int, prefix: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    client = create_app(services=shop).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + keys.create(uow=shop.uow(), role="server", name="b")[1]
    times, cid = [], None
    for n in tqdm(range(count), desc=f"turns ({prefix})", leave=False):
        if n % len(SCRIPT) == 0:
            body = {"visitor_id": f"{prefix}-{n}"}
            cid = client.post("/v1/conversations", json=body).json["conversation_id"]
        started = time.perf_counter()
        client.post(f"/v1/conversations/{cid}/messages", json={"text": SCRIPT[n % len(SCRIPT)]})
        times.append((time.perf_counter() - started) * 1000)
    return np.array(times)


def _crowd(shop) -> None:  # type: ignore[no-untyped-def]
    """100 live offers (rules over budget, need and country; some capped) and 10 running experiments."""
    rng = random.Random(7)
    made = []
    for n in range(100):
        rule = {"and": [{">=": [{"var": "lead.budget.amount"}, rng.choice([500, 1000, 2000, 5000])]},
                        {"in": [{"var": "lead.need.category"}, ["laptops", "tablets", "monitors"]]}]}  # fmt: skip
        capped = 1000 if n % 3 == 0 else None
        made.append(offers.create(uow=shop.uow(), changed_by=None, name=f"Offer {n}", kind="percent",
                                  value=float(rng.randint(5, 30)), code=f"CODE{n:03d}", eligibility=rule,
                                  priority=rng.randint(0, 10), max_redemptions=capped))  # fmt: skip
    for n in range(10):
        arms = [{"name": "control", "weight": 1}, {"name": "treated", "weight": 1, "offer_id": made[n].id}]
        found = experiments.create(uow=shop.uow(), changed_by=None, prompts=("default",), name=f"Test {n}",
                                   arms=arms, layer="offers", layer_start=n / 10, layer_end=(n + 1) / 10)  # fmt: skip
        experiments.start(uow=shop.uow(), experiment_id=found.id, changed_by=None)
    shop.desk.refresh()


def decision_cost(turns: int) -> list[tuple]:
    with tempfile.TemporaryDirectory() as plain_folder, tempfile.TemporaryDirectory() as busy_folder:
        plain, busy = _shop(plain_folder), _shop(busy_folder)
        _crowd(busy)
        _timed_turns(plain, 50, "warm"), _timed_turns(busy, 50, "warm")
        without = _timed_turns(plain, turns, "none")
        with_offers = _timed_turns(busy, turns, "offers")
        from salesbot.offers.decisions import Unit

        facts = {"lead": {"budget": {"amount": 3000, "currency": "EUR"}, "need": {"category": "laptops"}}}
        calls = []
        for n in range(2000):
            started = time.perf_counter()
            busy.desk.choose(unit=Unit(visitor_id=f"d-{n}", customer_id=None), facts=facts)
            calls.append((time.perf_counter() - started) * 1000)
        plain.close(), busy.close()
    base, busy_p99 = np.percentile(without, 99), np.percentile(with_offers, 99)
    p99 = busy_p99 - base
    return [
        ("turn, no offers (baseline)", f"{np.percentile(without, 50):.2f}", f"{base:.2f}", ""),
        ("turn, 100 offers + 10 experiments", f"{np.percentile(with_offers, 50):.2f}", f"{busy_p99:.2f}",
         f"{busy_p99 / base:.2f}x"),
        ("the decision alone (Desk.choose)", f"{np.percentile(calls, 50):.3f}", f"{np.percentile(calls, 99):.3f}", ""),
        ("added p99 (target <= 2 ms)", "", f"{p99:.2f}", "met" if p99 <= 2 else "NOT met"),
    ]  # fmt: skip


def results_speed(url: str, units: int) -> tuple:
    schema.upgrade(url)
    shop = bootstrap(Settings(database_url=url, embeddings="off"))
    arms = [{"name": name, "weight": weight} for name, weight in WEIGHTS]
    made = experiments.create(uow=shop.uow(), changed_by=None, prompts=("default",), name="Big", arms=arms)
    rng = np.random.default_rng(1)
    now = datetime.now(UTC)
    with shop.engine.begin() as connection:
        for start in tqdm(range(0, units, 50_000), desc=f"{units:,} units ({shop.engine.dialect.name})", leave=False):
            size = min(50_000, units - start)
            names = rng.choice([name for name, _ in WEIGHTS], size=size, p=[w for _, w in WEIGHTS])
            bought = rng.random(size) < 0.05
            rows = [{"experiment_id": made.id, "unit_id": f"u{start + n}", "arm": str(names[n]), "customer_id": None,
                     "exposures": 1, "first_exposed_at": now, "qualified": bool(rng.random() < 0.1),
                     "handed_off": False, "purchases": int(bought[n]), "revenue": float(bought[n] * 80.0),
                     "discount": 0.0, "csat": None} for n in range(size)]  # fmt: skip
            connection.execute(insert(ExperimentUnit), rows)
            shown = [{"conversation_id": f"cv{start + n}", "unit_key": f"v:u{start + n}", "offer_id": None,
                      "code": None, "experiment_id": made.id, "arm": str(names[n]), "shown_at": now}
                     for n in range(size)]  # fmt: skip
            connection.execute(insert(Exposure), shown)
    if shop.engine.dialect.name == "postgresql":
        with shop.engine.begin() as connection:
            connection.execute(text("ANALYZE experiment_units; ANALYZE exposures"))
    started = time.perf_counter()
    with shop.uow() as uow:
        uow.session.scalar(
            select(func.count()).select_from(ExperimentUnit).where(ExperimentUnit.experiment_id == made.id)
        )
    counting = time.perf_counter() - started
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        found = results.results(uow=shop.uow(), experiment_id=made.id)
        timings.append(time.perf_counter() - started)
    shop.close()
    seconds = min(timings)
    return (shop.engine.dialect.name, f"{units:,}", f"{seconds:.2f} s", f"{counting:.2f} s",
            f"{seconds / counting:.1f}x", "met" if seconds <= 1 else "NOT met",
            sum(arm["units"] for arm in found["arms"]))  # fmt: skip


def assignment_split(count: int = 100_000) -> list[tuple]:
    arms = [Arm(name, weight) for name, weight in WEIGHTS]
    here = [assign(seed="bench", unit_id=f"unit-{n}", arms=arms) for n in range(count)]
    root = str(Path(__file__).resolve().parents[1])
    code = (f"import sys; sys.path.insert(0, {root!r}); from salesbot.offers.assignment import Arm, assign; "
            "arms=[Arm('a',0.5),Arm('b',0.3),Arm('c',0.2)]; "
            f"print(''.join(assign(seed='bench', unit_id=f'unit-{{n}}', arms=arms) "
            f"for n in range({count})))")  # fmt: skip
    env = os.environ | {"PYTHONHASHSEED": "12345"}
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    rows = []
    for name, weight in WEIGHTS:
        share = here.count(name) / count
        rows.append((name, f"{weight:.0%}", f"{share:.2%}", f"{abs(share - weight) * 100:.2f} points"))
    same = there.strip() == "".join(here)
    rows.append(("same arms in a second process", "", "", "yes" if same else "NO"))
    return rows


def _on_postgres(server: str, units: int) -> tuple:
    """The results on a throwaway database on the given server, dropped afterwards."""
    name = f"salesbot_bench_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        return results_speed(make_url(server).set(database=name).render_as_string(hide_password=False), units)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("SALESBOT_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    print(tabulate(decision_cost(args.turns), headers=("server time per turn", "p50 ms", "p99 ms", "ratio")), "\n")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        rows.append(results_speed(f"sqlite:///{Path(folder) / 'results.db'}", args.units))
    if args.postgres:
        rows.append(_on_postgres(args.postgres, args.units))
    headers = ("results", "units", "GET results", "count(*) alone", "ratio", "target <= 1 s", "units counted")
    print(tabulate(rows, headers=headers), "\n")
    print(tabulate(assignment_split(), headers=("arm", "weight", "share of 100,000", "gap")))


if __name__ == "__main__":
    main()
