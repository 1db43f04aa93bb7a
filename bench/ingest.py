"""How fast do events get in? File imports against the raw database baseline, and the HTTP API.

    python bench/ingest.py [--rows 1000000] [--postgres URL] [--no-http]

Each figure is printed next to a baseline measured in the same run on the same machine:
  SQLite:      our `import_file` vs pandas `to_sql` of the same rows into the same table
  PostgreSQL:  our `import_file` vs a raw psycopg `COPY` of the same rows, already rendered as CSV
  HTTP:        `POST /v1/events` (1,000-event batches, gunicorn) vs calling the same use case in-process
  memory:      peak RSS importing a file a quarter the size vs the full size (flat when chunking works)
Reads UCI Online Retail from ../shared/datasets/uci-online-retail/ when it is there.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from loopback import free_port, wait_for
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tabulate import tabulate

from salesbot import schema
from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.catalog import events, imports, items
from salesbot.config import Settings

HERE = Path(__file__).resolve().parent
UCI = HERE.parent.parent / "shared" / "datasets" / "uci-online-retail" / "online_retail.parquet"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CATALOG = 10_000


def generated_events(rows: int, seed: int = 1) -> pd.DataFrame:
    """A store's event export: 50k customers, Zipf-popular items, a year of timestamps, no event ids."""
    rng = np.random.default_rng(seed)
    kinds = np.array(["view", "click", "add_to_cart", "purchase"])
    frame = pd.DataFrame(
        {
            "customer_id": np.char.add("c-", rng.integers(0, 50_000, rows).astype(str)),
            "item_id": np.char.add("sku-", rng.zipf(1.3, rows).clip(1, CATALOG).astype(str)),
            "type": kinds[rng.choice(4, rows, p=[0.7, 0.2, 0.07, 0.03])],
            "occurred_at": pd.Timestamp("2025-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 365 * 86400, rows), unit="s"),
        }
    )
    frame["value"] = np.where(frame.type.isin(["purchase", "add_to_cart"]), rng.integers(1, 4, rows), np.nan)
    return frame


def catalog(path: Path, mapping: imports.Mapping) -> pd.DataFrame:
    """The items a file's events refer to: our synthetic catalog, or the items in the file itself."""
    if not mapping.columns:
        ids = [f"sku-{n}" for n in range(1, CATALOG + 1)]
        return pd.DataFrame({"item_id": ids, "title": "Thing", "price": "9.99", "currency": "EUR"})
    raw = pd.read_parquet(path)
    raw.index = pd.RangeIndex(1, len(raw) + 1)
    return mapping.apply(raw, "items")[0]


class Databases:
    """Fresh, migrated databases, each with the catalog loaded; PostgreSQL ones dropped at the end."""

    def __init__(self, folder: Path, postgres: str | None) -> None:
        self.folder, self.postgres, self.made = folder, postgres, []

    def fresh(self, backend: str, products: pd.DataFrame) -> str:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        if backend == "sqlite":
            url = f"sqlite:///{self.folder / name}.db"
        else:
            admin = create_engine(self.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            self.made.append(name)
            url = make_url(self.postgres).set(database=name).render_as_string(hide_password=False)
        schema.upgrade(url)
        shop = bootstrap(Settings(database_url=url))
        with shop.uow() as uow:
            items.rows.take(uow.session.connection(), products)
            uow.commit()
        shop.close()
        return url

    def drop_all(self) -> None:
        if not self.made:
            return
        admin = create_engine(self.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in self.made:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def import_rate(url: str, path: Path, mapping: imports.Mapping, folder: Path) -> tuple[float, float, int]:
    """(file rows per second through `salesbot import events`, events written per second, events written)."""
    shop = bootstrap(Settings(database_url=url))
    rejects = imports.RejectFile(folder / f"rejects-{uuid.uuid4().hex[:6]}.csv")
    rows = imports.count_rows(path, "parquet")
    started = time.perf_counter()
    report = imports.import_file(
        uow=shop.uow, kind="events", path=path, mapping=mapping, policy=shop.event_policy, rejects=rejects
    )
    elapsed = time.perf_counter() - started
    shop.close()
    return rows / elapsed, report.created / elapsed, report.created


def prepared(path: Path, mapping: imports.Mapping, policy: events.Policy, known: set[str]) -> pd.DataFrame:
    """The rows our import would write, ready for a raw baseline to write them its own way."""
    raw = pd.read_parquet(path)
    raw.index = pd.RangeIndex(1, len(raw) + 1)
    frame, _refused = mapping.apply(raw, "events")
    reasons = events.clean(frame, policy=policy, now=pd.Timestamp.now(tz="UTC"), fallback_ids=events.ContentIds()(raw))
    good = reasons.good
    return good[good.item_id.isin(list(known))].drop_duplicates("event_id")[events.FIELDS]


def baseline_rate(url: str, rows: pd.DataFrame) -> float:
    """Rows per second for the raw baseline: to_sql on SQLite, COPY on PostgreSQL (customers made first)."""
    engine = create_engine(url)
    customers = pd.DataFrame({"customer_id": rows.customer_id.dropna().unique()})
    now = pd.Timestamp.now(tz="UTC")
    customers = customers.assign(attributes="{}", created_at=now, updated_at=now)
    if engine.dialect.name == "sqlite":
        started = time.perf_counter()
        customers.to_sql("customers", engine, if_exists="append", index=False, chunksize=50_000)
        rows.to_sql("events", engine, if_exists="append", index=False, chunksize=50_000)
        elapsed = time.perf_counter() - started
    else:
        people, happenings = customers.to_csv(index=False, header=False), rows.to_csv(index=False, header=False)
        raw = engine.raw_connection()
        started = time.perf_counter()
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY customers ({', '.join(customers.columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(people)
            with cursor.copy(f"COPY events ({', '.join(rows.columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(happenings)
        raw.commit()
        elapsed = time.perf_counter() - started
        raw.close()
    engine.dispose()
    return len(rows) / elapsed


def peak_memory_mb(url: str, path: Path) -> float:
    """Peak resident memory of a separate process importing `path` (VmHWM: ru_maxrss would count the pages the
    child shared with this big process before it exec'd)."""
    script = (
        "import sys; from pathlib import Path; from salesbot.bootstrap import bootstrap;"
        "from salesbot.catalog import imports; from salesbot.config import Settings;"
        f"shop = bootstrap(Settings(database_url={url!r}));"
        f"imports.import_file(uow=shop.uow, kind='events', path=Path({str(path)!r}), mapping=imports.Mapping(),"
        f"policy=shop.event_policy, rejects=imports.RejectFile(Path({str(path)!r} + '.rejects.csv')));"
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def http_rate(url: str, folder: Path, batches: int, clients: int = 4) -> tuple[float, float]:
    """(events per second through POST /v1/events on gunicorn, events per second calling the use case)."""
    shop = bootstrap(Settings(database_url=url))
    secret = keys.create(uow=shop.uow(), role="server", name="bench")[1]
    bodies = [_batch(n) for n in range(batches)]
    started = time.perf_counter()
    for body in bodies[: batches // 4]:
        events.record(uow=shop.uow(), events=json.loads(body)["events"], policy=shop.event_policy)
    in_process = (batches // 4) * 1000 / (time.perf_counter() - started)
    shop.close()
    port = free_port()
    env = os.environ | {
        "SALESBOT_DATABASE_URL": url,
        "SALESBOT_RATE_LIMIT": "1000000/minute",
        "SALESBOT_LOG_LEVEL": "WARNING",
    }
    workers = str(2 * (os.cpu_count() or 1) + 1)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", workers, "-b", f"127.0.0.1:{port}", "api:create_app()"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "gunicorn.log").open("w"),
    )
    try:
        wait_for(port)
        started = time.perf_counter()
        _post_all(port, secret, bodies[batches // 4 :], clients)
        over_http = (batches - batches // 4) * 1000 / (time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return over_http, in_process


def _batch(n: int) -> bytes:
    rng = np.random.default_rng(n)
    return json.dumps(
        {
            "events": [
                {
                    "event_id": f"b{n}-{k}",
                    "customer_id": f"c-{rng.integers(0, 20_000)}",
                    "item_id": f"sku-{rng.integers(1, CATALOG)}",
                    "type": "view",
                    "occurred_at": "2025-06-01T12:00:00Z",
                }
                for k in range(1000)
            ]
        }
    ).encode()


def _post_all(port: int, secret: str, bodies: list[bytes], clients: int) -> None:
    queue = list(bodies)
    lock = threading.Lock()
    failures: list[int] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            connection.request("POST", "/v1/events", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 202:
                failures.append(response.status)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed: {sorted(set(failures))}")


def postgres_reachable(url: str) -> bool:
    try:
        engine = create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # any failure means: no PostgreSQL to measure
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("SALESBOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--http-batches", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="salesbot-bench-"))
    backends = ["sqlite"] + (["postgresql"] if postgres_reachable(args.postgres) else [])
    databases = Databases(folder, args.postgres)
    policy = events.Policy.of(Settings())
    files = {f"generated {args.rows:,} events": (folder / "events.parquet", imports.Mapping())}
    generated_events(args.rows).to_parquet(files[f"generated {args.rows:,} events"][0])
    if UCI.is_file():
        files["UCI Online Retail"] = (UCI, imports.Mapping.parse(("uci-online-retail",)))
    else:
        print(f"(UCI Online Retail not found at {UCI}; skipping it)")
    table = []
    try:
        for label, (path, mapping) in files.items():
            products = catalog(path, mapping)
            rows = prepared(path, mapping, policy, known=set(products.item_id.astype(str)))
            for backend in backends:
                read, ours, created = import_rate(databases.fresh(backend, products), path, mapping, folder)
                baseline = baseline_rate(databases.fresh(backend, products), rows)
                name = "pandas to_sql" if backend == "sqlite" else "psycopg COPY"
                table.append(
                    (
                        label,
                        backend,
                        f"{read:,.0f}",
                        f"{ours:,.0f}",
                        f"{baseline:,.0f} ({name})",
                        f"{ours / baseline:.2f}",
                        f"{created:,}",
                    )
                )
                print(tabulate(table[-1:], tablefmt="plain"), flush=True)
        print()
        headers = ("file", "database", "file rows/s", "events written/s", "baseline events/s", "ratio", "written")
        print(tabulate(table, headers=headers))
        quarter = folder / "quarter.parquet"
        generated_events(args.rows // 4, seed=2).to_parquet(quarter)
        plain = catalog(quarter, imports.Mapping())
        small, full = (
            peak_memory_mb(databases.fresh("sqlite", plain), path)
            for path in (quarter, files[f"generated {args.rows:,} events"][0])
        )
        print(
            f"\npeak memory importing {args.rows // 4:,} rows: {small:.0f} MB; {args.rows:,} rows: {full:.0f} MB "
            f"(ratio {full / small:.2f} for 4x the rows)"
        )
        if not args.no_http:
            rates = [(b, *http_rate(databases.fresh(b, plain), folder, args.http_batches)) for b in backends]
            print()
            print(
                tabulate(
                    [(b, f"{h:,.0f}", f"{p:,.0f}", f"{h / p:.2f}") for b, h, p in rates],
                    headers=("database", "POST /v1/events/s (gunicorn)", "in-process events/s", "ratio"),
                )
            )
    finally:
        databases.drop_all()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
