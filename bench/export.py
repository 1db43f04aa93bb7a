"""bench/export.py: `salesbot export finetune` over N synthetic conversations seeded with personal data.

Builds 100,000 conversations (names, companies, e-mails and phones in the lead's fields and the visitor's lines,
addresses and card numbers typed by the visitor, offer codes and prices in the bot's lines) in a temporary SQLite
database (and a scratch PostgreSQL database when one answers), exports the first 10k, 30k and 100k of them, each in a
fresh process, and prints as tables: conversations per second, the process's peak memory over its size before the
export started (RSS), and the seeded values left in the output per kind (must be 0 of each). Then the held-out cases
(bench/finetune/pii_heldout.json, never tuned on) are seeded and exported the same way, and what is left of them is
listed.

    .venv/bin/python bench/export.py            # 10k, 30k, 100k on SQLite (and PostgreSQL when it answers)
    .venv/bin/python bench/export.py --quick    # 1k, 3k, 10k
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.engine import make_url
from tabulate import tabulate
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import Conversation, Lead, Message, Offer, OfferCode
from salesbot import schema
from salesbot.conversation.extract import EMAIL
from salesbot.database import UnitOfWork, make_engine, make_session_factory
from salesbot.finetune.export import Plan, Store, export
from salesbot.finetune.privacy import luhn
from salesbot.leads import qualification

POSTGRES = os.environ.get("SALESBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
HELD_OUT = Path(__file__).with_name("finetune") / "pii_heldout.json"
START = datetime(2026, 1, 5, tzinfo=UTC)
CHUNK = 5_000
STORE = Store(categories=("laptops", "monitors", "printers", "tablets"), currency="EUR", region="DE")
FIRST = [
    "Annegret", "Bartholomäus", "Cordula", "Dragomir", "Eleonora", "Fridolin", "Gudrun", "Hieronymus", "Isolde",
    "Jaroslav", "Kunigunde", "Leopoldine", "Maximilian", "Notburga", "Ottokar", "Philippa", "Quirin", "Roswitha",
    "Sieglinde", "Theodora"
]  # fmt: skip
LAST = [
    "Abendroth", "Brennecke", "Czerwinski", "Dörrenbächer", "Eichelberger", "Fassbinder", "Grünewald", "Hollerbach",
    "Immendorff", "Jablonski", "Kretschmar", "Lichtenberg", "Mühlenkamp", "Niederhuber", "Oppermann", "Pfefferkorn",
    "Quandtmeyer", "Rautenberg"
]  # fmt: skip
FIRMS = [
    "Aurelion", "Brixenhof", "Calderwick", "Dunmoreth", "Elsbrecht", "Falkenrode", "Glimmerstein", "Harrowgate",
    "Ivelstein", "Jorvikson", "Kestrelwood", "Lindqvist"
]  # fmt: skip
LEGAL = ["GmbH", "AG", "Ltd", "Inc.", "SARL", "KG"]
STREETS = ["{n} Wexhampton Street", "Quellenhofstraße {n}", "{n} rue Vaugirardine", "Calle Almendralejo {n}",
           "Gänseblümchenweg {n}", "{n} Thistlecombe Avenue"]  # fmt: skip
TEAMS = ["sales", "design", "the warehouse", "support", "finance", "our interns", "the lab", "field staff"]
PRODUCTS = [("laptops", 899), ("monitors", 249), ("printers", 179), ("tablets", 649)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k, 3k and 10k conversations")
    parser.add_argument("--sizes", default=None, help="comma-separated sizes (default 10000,30000,100000)")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--held-out-only", action="store_true", help="only the held-out PII cases")
    parser.add_argument(
        "--sqlite-cache-mb",
        type=int,
        default=None,
        help="cap SQLite's page cache in the exporting process (salesbot allows it 256 MiB)",
    )
    parser.add_argument("--child", nargs=4, metavar=("URL", "UNTIL", "OUT", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(*args.child)
    sizes = [int(s) for s in (args.sizes or ("1000,3000,10000" if args.quick else "10000,30000,100000")).split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        if args.held_out_only:
            return _held_out(Path(folder))
        rows = _measure("sqlite", f"sqlite:///{folder}/bench.db", sizes, Path(folder), args.sqlite_cache_mb)
        if not args.sqlite_only and (url := _scratch_postgres()):
            try:
                rows += _measure("postgresql", url, sizes, Path(folder), None)
            finally:
                _drop_postgres(url)
        _report(rows)
        _held_out(Path(folder))
    return None


# --- the synthetic store ------------------------------------------------------------------------------------------


def _measure(backend: str, url: str, sizes: list[int], folder: Path, cache_mb: int | None) -> list[dict[str, Any]]:
    schema.upgrade(url)
    seeded = _seed(url, max(sizes))
    rows = []
    for size in sizes:
        out = folder / f"{backend}-{size}"
        until = START + timedelta(minutes=size)  # conversation n starts n minutes after START
        argv = [sys.executable, __file__, "--child", url, until.isoformat(), str(out), str(cache_mb or 0)]
        child = subprocess.run(argv, capture_output=True, text=True, check=False)
        if child.returncode:
            raise SystemExit(f"the export of {size} conversations failed:\n{child.stderr[-3000:]}")
        found = json.loads(child.stdout.strip().splitlines()[-1])
        left = _left(out, seeded)
        rows.append({"backend": backend, "size": size, **found, **{f"left {k}": n for k, n in left.items()}})
    return rows


def _seed(url: str, count: int) -> dict[str, set[str]]:
    """`count` conversations, conversation n starting n minutes after START; answers the values seeded, per kind."""
    engine = create_engine(url)
    version = qualification.current(uow=UnitOfWork(make_session_factory(make_engine(url)))).version
    pick = random.Random(17)
    seeded: dict[str, set[str]] = {k: set() for k in ("NAME", "COMPANY", "EMAIL", "PHONE", "ADDRESS", "CARD",
                                                        "OFFER_CODE", "PRICE")}  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(Offer.__table__), [{"id": "off_bench", "name": "Welcome", "kind": "percent",
                           "value": 10.0, "code": "SPRINGSALE", "terms": "", "unique_codes": True, "priority": 0,
                           "stackable": False, "redeemed": 0, "discount_spent": 0.0, "version": 1,
                           "created_at": START, "updated_at": START}])  # fmt: skip
    seeded["OFFER_CODE"].add("SPRINGSALE")
    with tqdm(total=count, desc=f"seeding {make_url(url).get_backend_name()}", unit=" conv", file=sys.stderr) as bar:
        for first in range(0, count, CHUNK):
            rows: dict[str, list[dict[str, Any]]] = {"conversations": [], "leads": [], "messages": [], "codes": []}
            for n in range(first, min(first + CHUNK, count)):
                _conversation(n, pick, version, rows, seeded)
            with engine.begin() as connection:
                connection.execute(insert(Conversation.__table__), rows["conversations"])
                connection.execute(insert(Lead.__table__), rows["leads"])
                connection.execute(insert(Message.__table__), rows["messages"])
                connection.execute(insert(OfferCode.__table__), rows["codes"])
            bar.update(len(rows["conversations"]))
    engine.dispose()
    return seeded


def _conversation(n: int, pick: random.Random, version: int, rows: dict, seeded: dict[str, set[str]]) -> None:
    at = START + timedelta(minutes=n)
    first, last, firm = pick.choice(FIRST), pick.choice(LAST), pick.choice(FIRMS)
    name, company = f"{first} {last}", f"{firm} {pick.choice(LEGAL)}"
    mail = f"{first.lower()}.{last.lower()}{n}@{firm.lower()}.example"
    phone = pick.choice(["+49 30 {a} {b}", "0{a}/{b}", "+44 20 {a} {b}", "+1 415 {a} {b}"]).format(
        a=pick.randint(100, 999), b=pick.randint(1000, 9999))  # fmt: skip
    street = pick.choice(STREETS)
    address = street.format(n=pick.randint(1, 200))
    card = _card(pick)
    code = f"WELCOME-{n:06X}"
    category, price = pick.choice(PRODUCTS)
    shown = f"{price + n % 50},00 EUR"
    cid, visitor = f"cv_b{n:08d}", f"v-b{n}"
    seeded["NAME"] |= {first, last}
    seeded["COMPANY"].add(firm)
    seeded["EMAIL"].add(mail)
    seeded["PHONE"].add(re.sub(r"\D", "", phone)[-7:])
    seeded["ADDRESS"].add(address)
    seeded["CARD"].add(re.sub(r"\D", "", card))
    seeded["OFFER_CODE"].add(code)
    seeded["PRICE"].add(shown)
    rows["conversations"].append({"id": cid, "visitor_id": visitor, "customer_id": None, "channel": "web",
                                  "page": {}, "schema_version": version, "status": "closed", "misunderstood": 0,
                                  "tokens_used": 0, "handoff_state": "bot", "last_seq": 5, "created_at": at,
                                  "updated_at": at})  # fmt: skip
    rows["leads"].append({"id": f"ld_b{n:08d}", "conversation_id": cid, "status": "qualifying", "score": 40.0,
                          "score_breakdown": {}, "fields": {"name": name, "company": company, "email": mail,
                          "phone": "+" + re.sub(r"\D", "", phone), "need": {"text": f"{n % 997 + 2} {category}",
                          "category": category}}, "created_at": at, "updated_at": at})  # fmt: skip
    rows["codes"].append({"code": code, "offer_id": "off_bench", "unit_key": f"v:{visitor}", "created_at": at})
    item = {"item_id": f"{category}-1", "title": f"{category.title()} One", "price": shown.split()[0],
            "currency": "EUR", "category": category}  # fmt: skip
    said = [
        ("bot", "Hi! I'm the store's assistant. What are you looking for?", {"asks": "need", "intent": "ask"}),
        ("visitor", f"I'm {name} from {company}, we need {n % 997 + 2} {category} for {pick.choice(TEAMS)}. "
                    f"Mail {mail}, phone {phone}.", {}),
        ("bot", f"Thanks {first}! The {item['title']} costs {shown}. Use code {code} for 10% off.",
         {"asks": "budget", "intent": "recommend", "learnt": ["name", "company", "email", "phone", "need"],
          "items": [item], "quick_replies": [f"Order for {firm}"], "corrections": []}),
        ("visitor", f"Deliver to {address}; card {card}.", {}),
        ("bot", f"Noted, {first} {last}: {address}.", {"asks": "timeline", "intent": "ask", "corrections": []}),
    ]  # fmt: skip
    for seq, (author, words, details) in enumerate(said, 1):
        rows["messages"].append({"conversation_id": cid, "seq": seq, "author": author, "text": words,
                                 "details": details, "brain": "llm" if author == "bot" else None,
                                 "created_at": at + timedelta(seconds=seq)})  # fmt: skip


def _card(pick: random.Random) -> str:
    while True:
        digits = "4" + "".join(str(pick.randint(0, 9)) for _ in range(15))
        if luhn(digits):
            return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


# --- one export, in its own process ---------------------------------------------------------------------------------


def _child(url: str, until: str, out: str, cache_mb: str) -> None:
    engine = make_engine(url)
    if int(cache_mb):  # after salesbot's own tuning of each connection
        event.listen(
            engine, "connect", lambda connection, _: connection.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")
        )
    uow = make_session_factory(engine)
    before, peak, done = _rss_mb(), [0.0], threading.Event()
    watcher = threading.Thread(target=_watch, args=(peak, done), daemon=True)
    watcher.start()
    started = time.perf_counter()
    plan = Plan(filters=_filters(until), validation_share=0.1)
    document = export(uow=lambda: UnitOfWork(uow), plan=plan, store=STORE, out=Path(out))
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    peak = peak[0]
    read = document["conversations"]["read"]
    print(json.dumps({"conversations": read, "lines": sum(f["lines"] for f in document["files"].values()),
                      "seconds": round(seconds, 1), "per second": round(read / seconds),
                      "memory before MB": round(before), "peak MB": round(peak),
                      "export's own MB": round(peak - before)}))  # fmt: skip


def _filters(until: str):  # type: ignore[no-untyped-def]
    from salesbot.finetune.sources import Filters

    return Filters(until=datetime.fromisoformat(until))


def _watch(peak: list[float], done: threading.Event) -> None:
    """The process's resident memory every 20 ms while the export runs, keeping the highest."""
    while not done.wait(0.02):
        peak[0] = max(peak[0], _rss_mb())
    peak[0] = max(peak[0], _rss_mb())


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- what is left --------------------------------------------------------------------------------------------------


def _left(folder: Path, seeded: dict[str, set[str]]) -> Counter[str]:
    """Seeded values found in the output, per kind: names, companies, streets, codes and prices as written, e-mails
    by their shape, phones by their last seven digits, cards as any Luhn-valid run of 13 to 19 digits."""
    words = {kind: {v.lower() for v in seeded[kind]} for kind in ("NAME", "COMPANY")}
    found: Counter[str] = Counter()
    for name in ("train.jsonl", "validation.jsonl"):
        with (folder / name).open(encoding="utf-8") as file:
            for line in file:
                text = line.replace('\\"', '"')
                lowered = set(re.findall(r"[^\W\d_][\w'-]*", text.lower()))
                for kind in ("NAME", "COMPANY"):
                    found[kind] += len(words[kind] & lowered)
                found["EMAIL"] += len(EMAIL.findall(text))
                digits = [re.sub(r"\D", "", run) for run in re.findall(r"\d[\d ()/.-]{5,}\d", text)]
                found["PHONE"] += sum(1 for run in digits if len(run) >= 7 and run[-7:] in seeded["PHONE"])
                found["CARD"] += sum(1 for run in digits if 13 <= len(run) <= 19 and luhn(run))
                for kind in ("ADDRESS", "OFFER_CODE", "PRICE"):
                    found[kind] += sum(1 for value in _candidates(kind, text) if value in seeded[kind])
    return Counter({kind: found[kind] for kind in seeded})


def _candidates(kind: str, text: str) -> list[str]:
    patterns = {
        "ADDRESS": r"\d{1,3} [A-Z][a-z]+ (?:Street|Avenue)|[A-ZÄÖÜ][a-zäöüß]+(?:straße|weg) \d{1,3}|"
                   r"\d{1,3} rue [A-Z][a-z]+|Calle [A-Z][a-z]+ \d{1,3}",
        "OFFER_CODE": r"(?i:WELCOME-[0-9A-F]{6}|SPRINGSALE)",
        "PRICE": r"\d{3,4},00 EUR",
    }  # fmt: skip
    found = re.findall(patterns[kind], text)
    return [value.upper() if kind == "OFFER_CODE" else value for value in found]


# --- the held-out cases --------------------------------------------------------------------------------------------


def _held_out(folder: Path) -> None:
    cases = json.loads(HELD_OUT.read_text(encoding="utf-8"))
    url = f"sqlite:///{folder}/heldout.db"
    schema.upgrade(url)
    engine = create_engine(url)
    version = qualification.current(uow=UnitOfWork(make_session_factory(make_engine(url)))).version
    expected = _held_out_rows(engine, cases, version)
    out = folder / "heldout"
    export(uow=lambda: UnitOfWork(make_session_factory(make_engine(url))), plan=Plan(validation_share=0.0),
           store=STORE, out=out)  # fmt: skip
    text = "\n".join((out / name).read_text(encoding="utf-8") for name in ("train.jsonl", "validation.jsonl"))
    text = text.replace('\\"', '"').lower()
    rows = []
    for kind, values in expected.items():
        left = sorted(v for v in values if v.lower() in text)
        rows.append((kind, len(values), len(left), "; ".join(left)))
    print("\nHeld-out PII (bench/finetune/pii_heldout.json, never tuned on): values seeded, left in the export")
    print(tabulate(rows, headers=("kind", "seeded", "left", "which"), tablefmt="github"))


def _held_out_rows(engine, cases: dict, version: int) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    """One conversation per case (twelve or more), each case where it would be met; answers the values to look for."""
    expected: dict[str, set[str]] = {k: set() for k in ("NAME", "COMPANY", "EMAIL", "PHONE", "ADDRESS", "CARD",
                                                         "OFFER_CODE", "PRICE")}  # fmt: skip
    typed = [(p["said"], p) for p in cases["people"]]
    typed += [(f"You can reach me on {phone} in the evening.", None) for phone in cases["phones"]]
    typed += [(f"Please deliver to {address}.", None) for address in cases["addresses"]]
    typed += [(f"Pay with {card} please.", None) for card in cases["cards"]]
    typed += [(code["typed"], None) for code in cases["codes"]]
    with engine.begin() as connection:
        connection.execute(insert(Offer.__table__), [{"id": "off_held", "name": "Held", "kind": "percent",
                           "value": 10.0, "code": None, "terms": "", "unique_codes": True, "priority": 0,
                           "stackable": False, "redeemed": 0, "discount_spent": 0.0, "version": 1,
                           "created_at": START, "updated_at": START}])  # fmt: skip
        for n, (words, person) in enumerate(typed):
            at, cid = START + timedelta(days=n), f"cv_h{n:03d}"
            fields = {}
            if person:
                fields = {key: person[key] for key in ("name", "company", "email", "phone")}
                expected["NAME"] |= {person["name"], *(m for m in person["mentions"][:2])}
                expected["COMPANY"] |= {person["company"], person["mentions"][2]}
                expected["EMAIL"].add(person["email"])
                expected["PHONE"].add(person["phone"])
            price = cases["prices"][n % len(cases["prices"])]
            expected["PRICE"].add(price)
            connection.execute(insert(Conversation.__table__), [{"id": cid, "visitor_id": f"v-h{n}", "channel": "web",
                               "page": {}, "schema_version": version, "status": "closed", "misunderstood": 0,
                               "tokens_used": 0, "handoff_state": "bot", "last_seq": 3, "created_at": at,
                               "updated_at": at}])  # fmt: skip
            connection.execute(insert(Lead.__table__), [{"id": f"ld_h{n:03d}", "conversation_id": cid,
                               "status": "qualifying", "score": 0.0, "score_breakdown": {}, "fields": fields,
                               "created_at": at, "updated_at": at}])  # fmt: skip
            said = [
                ("bot", "Hi! What are you looking for?", {"asks": "need"}),
                ("visitor", words, {}),
                ("bot", f"Thanks! The Tablet Pro is {price} today.", {"learnt": list(fields), "asks": "budget"}),
            ]
            connection.execute(insert(Message.__table__), [{"conversation_id": cid, "seq": seq, "author": author,
                               "text": line, "details": details, "brain": "llm", "created_at": at}
                               for seq, (author, line, details) in enumerate(said, 1)])  # fmt: skip
        first_code = len(typed) - len(cases["codes"])  # the visitor who typed it holds it
        for n, code in enumerate(cases["codes"], first_code):
            connection.execute(insert(OfferCode.__table__), [{"code": code["code"], "offer_id": "off_held",
                               "unit_key": f"v:v-h{n}", "created_at": START}])  # fmt: skip
            expected["OFFER_CODE"].add(code["code"])
    for phone in cases["phones"]:
        expected["PHONE"].add(phone)
    expected["ADDRESS"] |= set(cases["addresses"])
    expected["CARD"] |= set(cases["cards"])
    engine.dispose()
    return expected


# --- PostgreSQL and the report ----------------------------------------------------------------------------------------


def _scratch_postgres() -> str | None:
    name = f"salesbot_bench_export_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as failure:  # no server: SQLite alone is measured
        print(f"PostgreSQL not measured: {type(failure).__name__}", file=sys.stderr)
        return None
    return make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)


def _drop_postgres(url: str) -> None:
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def _report(rows: list[dict[str, Any]]) -> None:
    speed = ["backend", "size", "conversations", "lines", "seconds", "per second", "memory before MB", "peak MB",
             "export's own MB"]  # fmt: skip
    print("\nExport speed and memory (each size in a fresh process; resident memory sampled every 20 ms during it)")
    print(tabulate([[row[k] for k in speed] for row in rows], headers=speed, tablefmt="github"))
    left = [k for k in rows[0] if k.startswith("left ")]
    print("\nSeeded values left in the output, per kind (must be 0)")
    table = [[row["backend"], row["size"], *(row[k] for k in left)] for row in rows]
    print(tabulate(table, headers=["backend", "size", *(k.removeprefix("left ") for k in left)], tablefmt="github"))


if __name__ == "__main__":
    main()
