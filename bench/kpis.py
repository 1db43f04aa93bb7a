"""Are the KPIs answered fast enough, and are they right? 100,000 conversations and 1,000,000 events.

    python bench/kpis.py [--conversations 100000] [--events 1000000] [--postgres URL]

Synthetic but realistic rows (30 days of web and app conversations with messages, hand-offs, ratings, leads and
their history; views, clicks, add-to-carts and purchases, some from recommendation lists; webhook deliveries; a
few days of each on both sides of the window) are bulk-inserted into SQLite and, when reachable, a scratch
PostgreSQL database (dropped afterwards). Prints for each backend:
  - `kpis.report()` over the 30-day window (median of 3 after a warm-up) against COUNT(*) of the window's
    conversations plus COUNT(*) of its events, timed the same way (target <= 1 s); the CSV export for information;
  - where report() spends its time: each query (wall time) and each analytics function (cProfile, cumulative);
  - every KPI checked below as the engine answers it next to the same figure computed in pandas from the raw
    tables, independently of salesbot.analytics (match: within 1e-6 relative, or the API's 6-decimal rounding).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from tabulate import tabulate
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kpis_pandas import checked, independent
from kpis_store import END, POSTGRES, PRICES, PURCHASE_DAYS, ROOT, SCRATCH, START, load, synthetic

from models import (
    Conversation,
    Event,
)
from salesbot.analytics import export, kpis, outcomes, sources
from salesbot.analytics.window import Window
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.leads import qualification


def _median_seconds(work: Callable[[], Any], runs: int = 3) -> float:
    work()  # warm-up
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def _count_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        talks = connection.scalar(select(func.count()).select_from(Conversation)
                                  .where(Conversation.created_at >= START, Conversation.created_at < END))  # fmt: skip
        events = connection.scalar(select(func.count()).select_from(Event)
                                   .where(Event.occurred_at >= START, Event.occurred_at < END))  # fmt: skip
    return int(talks) + int(events)


def timings(shop: Any, window: Window) -> dict[str, Any]:
    answer = lambda: kpis.report(uow=shop.uow(), window=window, purchase_days=PURCHASE_DAYS, prices=PRICES)  # noqa: E731
    lines = lambda: sum(1 for _ in export.csv_lines(uow=shop.uow(), window=window, purchase_days=PURCHASE_DAYS))  # noqa: E731
    return {
        "report": _median_seconds(answer), "count": _median_seconds(lambda: _count_rows(shop.engine)),
        "csv": _median_seconds(lines), "rows counted": _count_rows(shop.engine), "csv lines": lines() - 1,
        "answer": answer(),
    }  # fmt: skip


def where_time_goes(shop: Any, window: Window) -> list[tuple]:
    """Each query's wall time (one run of report(), queries timed where they are read into frames), then the
    analytics functions' cumulative time under cProfile (another run; the profiler adds its own overhead)."""
    spent: list[tuple[str, float]] = []

    def timed(original: Callable) -> Callable:
        def reading(session: Any, query: Any) -> pd.DataFrame:
            started = time.perf_counter()
            found = original(session, query)
            label = ", ".join(list(query.selected_columns.keys())[:3])
            spent.append((f"query: {label} ({len(found):,} rows)", time.perf_counter() - started))
            return found

        return reading

    kept = sources.frame  # outcomes reads through the same function, under its own name
    outcomes.frame = sources.frame = timed(kept)
    try:
        started = time.perf_counter()
        kpis.report(uow=shop.uow(), window=window, purchase_days=PURCHASE_DAYS, prices=PRICES)
        whole = time.perf_counter() - started
    finally:
        outcomes.frame = sources.frame = kept
    rows = [("report(), this run", "wall", f"{whole:.3f}")]
    rows += [(label, "wall", f"{seconds:.3f}") for label, seconds in sorted(spent, key=lambda x: -x[1])]
    return rows + _on_the_driver(shop, window) + _profiled(shop, window)


def _on_the_driver(shop: Any, window: Window) -> list[tuple]:
    """report()'s SELECTs replayed on the driver's own cursor (execute and fetch, no SQLAlchemy types, no frames):
    the database's share of the time."""
    sent: list[tuple[str, Any]] = []
    grab = lambda *args: sent.append((args[2], args[3]))  # noqa: E731 (connection, cursor, statement, parameters...)
    event.listen(shop.engine, "before_cursor_execute", grab)
    try:
        kpis.report(uow=shop.uow(), window=window, purchase_days=PURCHASE_DAYS, prices=PRICES)
    finally:
        event.remove(shop.engine, "before_cursor_execute", grab)
    raw, timed = shop.engine.raw_connection(), []
    try:
        for statement, parameters in sent:
            cursor = raw.cursor()
            started = time.perf_counter()
            cursor.execute(statement, parameters)
            count = len(cursor.fetchall())
            timed.append((f"driver: {' '.join(statement.split())[7:62]}… ({count:,} rows)",
                          time.perf_counter() - started))  # fmt: skip
            cursor.close()
    finally:
        raw.close()
    rows = [("all SELECTs on the driver alone", "driver", f"{sum(seconds for _, seconds in timed):.3f}")]
    return rows + [(label, "driver", f"{seconds:.3f}") for label, seconds in sorted(timed, key=lambda x: -x[1])]


def _profiled(shop: Any, window: Window) -> list[tuple]:
    profile = cProfile.Profile()
    profile.runcall(kpis.report, uow=shop.uow(), window=window, purchase_days=PURCHASE_DAYS, prices=PRICES)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    mine = [(f"{Path(file).stem}.{name}", cumulative) for (file, _, name), (_, _, _, cumulative, _) in stats.items()
            if "salesbot/analytics" in file and cumulative >= 0.02]  # fmt: skip
    return [(name, "cProfile", f"{seconds:.3f}") for name, seconds in sorted(mine, key=lambda x: -x[1])]


# --- the same figures in pandas, from the raw tables --------------------------------------------------------------


def measure(url: str, rows: dict[str, pd.DataFrame]) -> dict[str, Any]:
    env = os.environ | {"SALESBOT_DATABASE_URL": url}
    subprocess.run([str(ROOT / ".venv/bin/salesbot"), "db", "upgrade"], check=True, env=env, capture_output=True)
    shop = bootstrap(Settings(database_url=url, embeddings="off"))
    try:
        qualification.current(uow=shop.uow())  # the default schema, version 1, that conversations name
        started = time.perf_counter()
        load(shop.engine, rows)
        loading = time.perf_counter() - started
        window = Window.of(start=START, end=END, granularity="day", by=None)
        with tqdm(total=3, desc=f"timing and checking ({shop.engine.dialect.name})", leave=False) as bar:
            found = timings(shop, window)
            bar.update()
            found["where"] = where_time_goes(shop, window)
            bar.update()
            found["check"] = checked(found.pop("answer"), independent(shop.engine))
            bar.update()
        return found | {"backend": shop.engine.dialect.name, "loading": loading}
    finally:
        shop.close()


def _reset(admin: Engine, *statements: str) -> None:
    with admin.connect() as connection:
        for statement in statements:
            connection.execute(text(statement))


def on_postgres(server: str, rows: dict[str, pd.DataFrame]) -> dict[str, Any] | None:
    """The measurement on a scratch database of the server, dropped afterwards; None when it does not answer."""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    drop = f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'
    try:
        _reset(admin, drop, f'CREATE DATABASE "{SCRATCH}"')
    except OperationalError as error:
        print(f"PostgreSQL skipped: {server} does not answer ({type(error.orig).__name__})\n")
        return None
    try:
        return measure(make_url(server).set(database=SCRATCH).render_as_string(hide_password=False), rows)
    finally:
        _reset(admin, drop)
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("SALESBOT_TEST_POSTGRES_URL", POSTGRES),
                        help="a server URL; '' to skip PostgreSQL")  # fmt: skip
    args = parser.parse_args()
    rows = synthetic(args.conversations, args.events)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(measure(f"sqlite:///{Path(folder) / 'kpis.db'}", rows))
    if args.postgres and (found := on_postgres(args.postgres, rows)) is not None:
        results.append(found)
    print(f"\n{args.conversations:,} conversations and {args.events:,} events in the window "
          f"{START:%Y-%m-%d} to {END:%Y-%m-%d} (plus a few days either side): "
          f"{len(rows['conversations']):,} conversations, {len(rows['messages']):,} messages, "
          f"{len(rows['events']):,} events stored\n")  # fmt: skip
    speed = [(r["backend"], f"{r['report']:.3f} s", f"{r['count']:.3f} s ({r['rows counted']:,} rows)",
              f"{r['report'] / r['count']:.1f}x", "met" if r["report"] <= 1 else "NOT met",
              f"{r['csv']:.3f} s ({r['csv lines']:,} lines)", f"{r['loading']:.0f} s") for r in results]  # fmt: skip
    headers = ("backend", "report() median of 3", "COUNT(*) baseline", "ratio", "target <= 1 s", "CSV export", "load")
    print(tabulate(speed, headers=headers), "\n")
    for r in results:
        print(tabulate(r["where"], headers=(f"where report() spends its time ({r['backend']})", "timer", "s")), "\n")
    for r in results:
        table, wrong = r["check"]
        headers = (f"KPI ({r['backend']})", "engine", "pandas", "match", "engine num / den", "pandas num / den")
        print(tabulate(table, headers=headers, disable_numparse=True))
        print(f"{len(table) - wrong} of {len(table)} figures agree\n")


if __name__ == "__main__":
    main()
