"""How fast do webhooks reach a CRM? `salesbot worker` processes on PostgreSQL, a receiver on loopback.

    python bench/webhooks.py [--events 3000] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Prints, next to a baseline measured in the same run:
  - deliveries per second with 1 and with 3 workers (target >= 200/s with one), against signed POSTs sent
    straight from a thread pool of the same size to the same receiver (no database, no outbox, no retries);
  - time from a lead's commit to its first delivery attempt at the receiver, p50 and p99 (target p99 <= 1 s),
    with one idle worker and leads committed one by one.
The receiver verifies every signature with `standardwebhooks`, as the tests' receiver does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import Delivery
from salesbot import schema
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.webhooks import endpoints, outbox
from salesbot.webhooks.delivery import Sender, signature
from tests.webhook_receiver import Receiver

CONCURRENCY = 8


def database(server_url: str) -> str:
    name = f"salesbot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    schema.upgrade(url)
    return url


def drop(server_url: str, url: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def emit(shop, count: int, prefix: str) -> None:
    for start in range(0, count, 500):
        with shop.uow() as uow:
            for n in range(start, min(count, start + 500)):
                outbox.emit(uow.session, "lead.qualified", {"lead_id": f"{prefix}{n}", "committed": time.time()})
            uow.commit()


def workers(url: str, count: int) -> list[subprocess.Popen]:
    env = os.environ | {
        "SALESBOT_DATABASE_URL": url,
        "SALESBOT_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "SALESBOT_LOG_LEVEL": "WARNING",
    }
    command = [str(Path(sys.executable).parent / "salesbot"), "worker", "--concurrency", str(CONCURRENCY)]
    command += ["--poll", "0.05"]
    return [subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL) for _ in range(count)]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


def wait_until(condition, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def throughput(shop, url: str, receiver: Receiver, events: int, count: int) -> float:
    """Deliveries per second with `count` workers, from the first to the last arrival."""
    before = len(receiver.processed)
    emit(shop, events, prefix=f"w{count}-")
    started = time.perf_counter()
    running = workers(url, count)
    try:
        wait_until(lambda: len(receiver.processed) - before >= events)
    finally:
        stop(running)
    return events / (time.perf_counter() - started)


def baseline(shop, receiver: Receiver, endpoint_id: str, events: int) -> float:
    """Signed POSTs from a thread pool straight to the receiver: what the network and receiver allow."""
    endpoint = endpoints.get(uow=shop.uow(), endpoint_id=endpoint_id)
    sender = Sender(shop.webhook_guard)

    def post(n: int) -> None:
        body = f'{{"type":"lead.qualified","data":{{"lead_id":"raw-{n}"}}}}'
        now = datetime.now(UTC)
        headers = {"webhook-id": f"raw-{n}", "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": signature(endpoint, f"raw-{n}", now, body, now=now)}  # fmt: skip
        sender.post(receiver.url, headers, body)

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(post, range(events)))
    return events / (time.perf_counter() - started)


def latency(shop, url: str, receiver: Receiver, leads: int) -> np.ndarray:
    """Seconds from each lead's commit to its arrival, leads committed one by one with one worker running."""
    arrivals: dict[str, float] = {}
    receiver.script = [lambda request: arrivals.setdefault(request.webhook_id, time.time()) and 200]
    running = workers(url, 1)
    try:
        time.sleep(2)  # the worker is up and idle
        committed = {}
        for n in range(leads):
            with shop.uow() as uow:
                event = outbox.emit(uow.session, "lead.qualified", {"lead_id": f"lat-{n}"})
                uow.commit()
            committed[event.id] = time.time()
            time.sleep(0.05)
        wait_until(lambda: len(arrivals) >= leads, seconds=60)
    finally:
        stop(running)
    with shop.uow() as uow:
        by_event = dict(uow.session.execute(select(Delivery.id, Delivery.event_id)).all())
    return np.array([arrivals[d] - committed[by_event[d]] for d in arrivals if by_event.get(d) in committed])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3_000)
    parser.add_argument("--leads", type=int, default=200, help="leads committed one by one for the latency")
    default = os.environ.get("SALESBOT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--postgres", default=default, help="a server where a scratch database can be made")
    args = parser.parse_args()
    url = database(args.postgres)
    receiver = Receiver()
    shop = bootstrap(Settings(database_url=url, webhook_allow_networks=("127.0.0.0/8",)))
    try:
        endpoint, receiver.secret = endpoints.create(uow=shop.uow(), guard=shop.webhook_guard, url=receiver.url)
        raw = baseline(shop, receiver, endpoint.id, args.events)
        one = throughput(shop, url, receiver, args.events, 1)
        three = throughput(shop, url, receiver, args.events, 3)
        waits = latency(shop, url, receiver, args.leads)
    finally:
        shop.close()
        receiver.stop()
        drop(args.postgres, url)
    rows = [
        ("signed POSTs straight to the receiver (baseline)", f"{raw:,.0f}", ""),
        ("salesbot worker x1", f"{one:,.0f}", f"{one / raw:.2f}"),
        ("salesbot worker x3", f"{three:,.0f}", f"{three / raw:.2f}"),
    ]
    print(tabulate(rows, headers=(f"{args.events:,} deliveries, PostgreSQL", "per second", "vs baseline")))
    print(f"target >= 200/s with one worker: {'met' if one >= 200 else 'NOT met'}\n")
    p50, p99 = (np.percentile(waits, q) * 1000 for q in (50, 99))
    print(
        tabulate(
            [(f"{len(waits)} leads", f"{p50:.0f}", f"{p99:.0f}")],
            headers=("commit -> first attempt", "p50 ms", "p99 ms"),
        )
    )
    print(f"target p99 <= 1 s: {'met' if np.percentile(waits, 99) <= 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
