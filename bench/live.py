"""Live conversations across API processes: rep replies on visitor streams, idle streams, routing, failover.

    python bench/live.py [--only latency,streams,routing,failover] [--rounds 50] [--streams 500] [--seconds 10]
                         [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--redis URL]

API servers are started as `salesbot serve` starts them (gunicorn, gthread workers with 512 threads each) with
SALESBOT_EMBEDDINGS=off, the rules brain and generous rate limits, on throwaway PostgreSQL databases made on
--postgres and dropped at the end (SQLite files and server logs go to /tmp/live_bench/). Prints four tables, each
figure next to a baseline measured in the same run and each target as met / NOT met:

  1. latency: a rep's reply, sent through server B, read by a visitor's SSE stream held on server A (1 worker each,
     one database): p50/p95/p99 over --rounds hand-offs (a new conversation each on A: "I want to talk to a human";
     the rep, online, accepts through B, replies at a random moment within the next second, then resolves), from
     just before the reply's POST to the moment the client reads that `rep` event; baseline: the same reply read
     back with one GET /messages?after= on server A right after the POST. On PostgreSQL (LISTEN/NOTIFY) and on
     SQLite (one file; streams poll every second); with --redis, also SQLite with Redis pub/sub. Target: p99 <= 1 s.
  2. streams: --streams idle visitor streams (one conversation each, server key) on a `salesbot serve --workers 2`
     while concurrent clients GET /healthz for --seconds; requests/s and p99 against /healthz with no streams.
     Target: >= 0.5x the rate alone, every stream answered (its first line received) and still open.
  3. routing: in-process on PostgreSQL, 10 reps of capacity 1..5 (3 away) and 200 hand-offs one after another
     (Conversations.say), handoffs.route between, reps accepting some offers and resolving some conversations as
     it goes; checked after every step: nobody over capacity, nobody away given one, every hand-off assigned or
     waiting, the queue first-come first-served, nobody waiting while an online rep has room. The same checks with
     100 hand-offs from 4 threads at once (as several API processes route at once), and a full rep accepting a
     waiting conversation straight from the queue. Baseline for the time of a route(): the same call, queue empty.
  4. failover: a visitor stream on server A receiving 40 rep replies sent through server B one every 100 ms; server
     A is killed (SIGKILL, master and worker) after the 15th; the client reconnects to B with Last-Event-ID. Target:
     the seqs received are exactly 1..N, no gap, no duplicate. Baseline: the same trickle with no kill.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from tabulate import tabulate
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import Conversation, HandoffChange
from salesbot import schema
from salesbot.access import keys
from salesbot.bootstrap import Salesbot, bootstrap
from salesbot.config import Settings
from salesbot.errors import Conflict
from salesbot.inbox import handoffs, reps

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = Path("/tmp/live_bench")
HUMAN = "I want to talk to a human"
GENEROUS = "1000000/minute"
LATENCY_TARGET = 1.0  # seconds, p99
STREAMS_TARGET = 0.5  # /healthz rate with the streams held, against without
WARMUP_ROUNDS = 3
REQUEST_TIMEOUT = 2.0  # a /healthz request unanswered this long counts as failed
PARTS = ("latency", "streams", "routing", "failover")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts to run: " + ",".join(PARTS))
    parser.add_argument("--rounds", type=int, default=50, help="hand-offs measured per database (latency)")
    parser.add_argument("--streams", type=int, default=500, help="idle visitor streams held open (streams)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each /healthz measurement (streams)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent /healthz clients (streams)")
    parser.add_argument("--handoffs", type=int, default=200, help="hand-offs one after another (routing)")
    parser.add_argument("--replies", type=int, default=40, help="replies in the trickle (failover)")
    default = os.environ.get("SALESBOT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--postgres", default=default, help="a server where throwaway databases can be made")
    parser.add_argument("--redis", help="also measure the latency on SQLite with Redis pub/sub, e.g. "
                        "redis://127.0.0.1:6379/15 (also the servers' rate-limit counters)")  # fmt: skip
    options = parser.parse_args()
    chosen = [part.strip() for part in options.only.split(",") if part.strip()]
    if unknown := sorted(set(chosen) - set(PARTS)):
        parser.error(f"--only: unknown parts {', '.join(unknown)} (choose from {', '.join(PARTS)})")
    SCRATCH.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    tables = []
    for part in PARTS:
        if part in chosen:
            started = time.monotonic()
            tables.append(RUNS[part](options))
            print(f"{part}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print()
    for table in tables:
        print(table, "\n")
    print(f"whole run: {time.monotonic() - began:.0f} s", file=sys.stderr)


# -- 1. a rep's reply on the visitor's stream --------------------------------------------------------------------


def latency(options: argparse.Namespace) -> str:
    rows = []
    with throwaway_database(options.postgres, "latency") as url:
        rows += latency_on("PostgreSQL", "LISTEN/NOTIFY", url, options.rounds)
    sqlite_runs = [("SQLite", "polling every 0.5 s", {})]
    if options.redis:
        redis = {"SALESBOT_REDIS_URL": options.redis, "SALESBOT_LIVE_UPDATES": "redis"}
        sqlite_runs.append(("SQLite + Redis", "Redis pub/sub", redis))
    for database, how, env in sqlite_runs:
        sqlite = SCRATCH / f"latency-{os.getpid()}-{len(rows)}.db"
        try:
            schema.upgrade(f"sqlite:///{sqlite}")
            rows += latency_on(database, how, f"sqlite:///{sqlite}", options.rounds, env=env)
        finally:
            for leftover in SCRATCH.glob(f"{sqlite.name}*"):
                leftover.unlink()
    headers = ("database", "rep reply (POST on B) -> visitor", "rounds", "p50 ms", "p95 ms", "p99 ms",
               "p99 vs baseline", "not read in 15 s", f"target p99 <= {LATENCY_TARGET:.0f} s")  # fmt: skip
    return "1. rep reply -> visitor stream, two API processes\n" + tabulate(rows, headers, disable_numparse=True)


def latency_on(
    database: str, how: str, url: str, rounds: int, *, env: dict[str, str] | None = None
) -> list[list[object]]:
    server_key, rep_key = prepare(url, rep_capacity=100)
    stream_times: list[float] = []
    poll_times: list[float] = []
    missed, pace = 0, random.Random(1)
    name = "latency-" + "-".join(database.lower().split(" + "))
    with servers(url, count=2, name=name, env=env) as (a, b):
        visitor, rep = Api(a.port, server_key), Api(b.port, rep_key)
        rep.post("/v1/inbox/presence", {"status": "online"})
        for n in tqdm(range(WARMUP_ROUNDS + rounds), desc=f"latency ({database})", leave=False):
            streamed, polled = one_round(visitor, rep, a.port, server_key, n, pace)
            if n < WARMUP_ROUNDS:
                continue
            poll_times.append(polled)
            if streamed is None:
                missed += 1
            else:
                stream_times.append(streamed)
    stream_ms, poll_ms = np.array(stream_times) * 1000, np.array(poll_times) * 1000
    p99 = float(np.percentile(stream_ms, 99)) if len(stream_ms) else float("inf")
    met = p99 <= LATENCY_TARGET * 1000 and not missed
    return [
        [database, f"SSE stream on A ({how})", len(stream_ms), *percentiles(stream_ms),
         f"{p99 / np.percentile(poll_ms, 99):.2f}x", missed, "met" if met else "NOT met"],
        [database, "baseline: one GET /messages?after= on A after the POST", len(poll_ms), *percentiles(poll_ms),
         "1.00x", "", ""],
    ]  # fmt: skip


def one_round(
    visitor: Api, rep: Api, a_port: int, server_key: str, n: int, pace: random.Random
) -> tuple[float | None, float]:
    """A hand-off on A, accepted and answered through B while the visitor's stream is held on A: the seconds until
    the stream delivered the reply (None: not within 15 s) and until one polling GET on A did."""
    cid = visitor.post("/v1/conversations", {"visitor_id": f"latency-{n}"})["conversation_id"]
    turn = visitor.post(f"/v1/conversations/{cid}/messages", {"text": HUMAN})
    if turn["conversation_status"] != "awaiting_human":
        raise RuntimeError(f"no hand-off: {turn['conversation_status']}")
    follower = Follower([a_port], server_key, cid)
    try:
        if follower.wait(lambda e: True, timeout=15) is None:  # connected: it read the lines so far in one go
            raise RuntimeError(f"the stream on A sent nothing for {cid}")
        rep.post(f"/v1/conversations/{cid}/accept")
        # A rep replies when they are ready, not in step with the server: at a random moment (on SQLite, a random
        # point of the stream's 1 s poll; replying right after the stream showed the join would always wait ~1 s).
        time.sleep(pace.uniform(0.0, 1.0))
        began = time.perf_counter()
        line = rep.post(f"/v1/conversations/{cid}/replies", {"text": f"Hello, this is Rita (round {n})."})
        read = visitor.get(f"/v1/conversations/{cid}/messages?after={line['seq'] - 1}")
        polled = time.perf_counter() - began
        if [(got["seq"], got["author"]) for got in read] != [(line["seq"], "rep")]:
            raise RuntimeError(f"polling read {read!r}, not the reply {line['seq']}")
        event = follower.wait(lambda e: e.seq == line["seq"], timeout=15)
        streamed = None if event is None else event.at - began
        if event is not None and event.data["author"] != "rep":
            raise RuntimeError(f"seq {line['seq']} on the stream is not the rep's reply: {event.data!r}")
    finally:
        follower.close()
    rep.post(f"/v1/conversations/{cid}/resolve")
    return streamed, polled


def percentiles(values_ms: np.ndarray) -> list[str]:
    if not len(values_ms):
        return ["-", "-", "-"]
    return [f"{np.percentile(values_ms, q):.1f}" for q in (50, 95, 99)]


# -- 2. idle streams against /healthz ----------------------------------------------------------------------------


def streams(options: argparse.Namespace) -> str:
    count = options.streams
    with throwaway_database(options.postgres, "streams") as url:
        server_key, _ = prepare(url)
        with servers(url, count=1, workers=2, name="streams") as (server,):
            cids = start_conversations(server.port, server_key, count)
            hammer(server.port, options.clients, 1.0)  # warm both workers
            alone = hammer(server.port, options.clients, options.seconds)
            held = open_streams(server.port, server_key, cids)
            try:
                answered, answer_seconds = count_answered(held, wait=20.0)
                crowded = hammer(server.port, options.clients, options.seconds)
                still_open = sum(1 for stream in held if is_open(stream))
            finally:
                for stream in held:
                    stream.close()
    ratio = crowded.rate / alone.rate if alone.rate else 0.0
    met = ratio >= STREAMS_TARGET and answered == count and still_open == count
    rows = [
        ["/healthz alone (baseline)", 0, "", f"{alone.rate:,.0f}", "1.00x", alone.p99_ms, alone.failed, ""],
        ["/healthz with idle visitor streams", count, f"{answered} in {answer_seconds:.1f} s / {still_open}",
         f"{crowded.rate:,.0f}", f"{ratio:.2f}x", crowded.p99_ms, crowded.failed, "met" if met else "NOT met"],
    ]  # fmt: skip
    headers = ("salesbot serve --workers 2, PostgreSQL", "streams held", "first line received / still open",
               "healthz req/s", "vs alone", "p99 ms", f"failed ({REQUEST_TIMEOUT:.0f} s)",
               f"target >= {STREAMS_TARGET}x, all answered")  # fmt: skip
    title = f"2. {count} idle visitor streams, {options.clients} /healthz clients for {options.seconds:.0f} s each"
    return title + "\n" + tabulate(rows, headers, disable_numparse=True)


def start_conversations(port: int, server_key: str, count: int) -> list[str]:
    local = threading.local()

    def start(n: int) -> str:
        if not hasattr(local, "api"):
            local.api = Api(port, server_key)
        return local.api.post("/v1/conversations", {"visitor_id": f"idle-{n}"})["conversation_id"]

    with ThreadPoolExecutor(8) as pool:
        return list(tqdm(pool.map(start, range(count)), total=count, desc="streams: conversations", leave=False))


def open_streams(port: int, server_key: str, cids: list[str]) -> list[socket.socket]:
    held = []
    for cid in tqdm(cids, desc="streams: opening", leave=False):
        stream = socket.create_connection(("127.0.0.1", port))
        stream.sendall(f"GET /v1/conversations/{cid}/stream HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n"
                       f"Authorization: Bearer {server_key}\r\n\r\n".encode())  # fmt: skip
        held.append(stream)
    return held


def count_answered(held: list[socket.socket], *, wait: float) -> tuple[int, float]:
    """How many streams sent their first line (the greeting, seq 1) within `wait`, and how long the last took."""
    began = time.monotonic()
    deadline = began + wait
    answered, last = 0, 0.0
    for stream in held:
        received = b""
        try:
            while b"event: message" not in received:
                stream.settimeout(max(0.001, deadline - time.monotonic()))
                chunk = stream.recv(65536)
                if not chunk:
                    break
                received += chunk
        except OSError:
            pass
        if b"event: message" in received:
            answered += 1
            last = time.monotonic() - began
    return answered, last


def is_open(stream: socket.socket) -> bool:
    stream.settimeout(0.0)
    try:
        return stream.recv(65536, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def p99_ms(self) -> str:
        return f"{np.percentile(self.latencies, 99) * 1000:.1f}" if self.latencies else "-"


def hammer(port: int, clients: int, seconds: float) -> Load:
    """GET /healthz from `clients` threads, each on a keep-alive connection, for `seconds`."""
    load, lock = Load(), threading.Lock()
    ends = time.monotonic() + seconds

    def client() -> None:
        latencies, failed = [], 0
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        while time.monotonic() < ends:
            began = time.monotonic()
            try:
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    latencies.append(time.monotonic() - began)
                else:
                    failed += 1
            except (OSError, http.client.HTTPException):
                failed += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        connection.close()
        with lock:
            load.latencies += latencies
            load.failed += failed

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.seconds = time.monotonic() - began
    return load


# -- 3. routing under load ---------------------------------------------------------------------------------------

CAPACITIES = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]
AWAY = {2, 5, 8}  # capacities 3, 1 and 4: 22 places among the 7 online reps
ACCEPT_CHANCE = 0.5  # each step, each offer is accepted with this chance
RESOLVE_CHANCE = 0.03  # each step, each live conversation is resolved with this chance: a queue builds up
CHECKS = {
    "capacity": "no rep over capacity (assigned + live <= capacity)",
    "away": "no rep who is away offered or holding one",
    "kept": "every hand-off assigned, live, resolved or waiting (none lost, none to the bot)",
    "order": "first come, first served: nobody who handed off after a waiting one was given a rep",
    "room": "nobody waits while an online rep has room (checked after a route)",
}


@dataclass
class Ledger:
    """How often each invariant was checked and broken, the first breach of each, and the largest load seen."""

    checks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    broken: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    first: dict[str, str] = field(default_factory=dict)
    most_held: dict[str, int] = field(default_factory=dict)
    most_waiting: int = 0
    worst_over: tuple[int, str] = (0, "")  # the most conversations a rep held over their capacity, and who

    def count(self, name: str, problem: str | None) -> None:
        self.checks[name] += 1
        if problem is not None:
            self.broken[name] += 1
            self.first.setdefault(name, problem)


def routing(options: argparse.Namespace) -> str:
    rows: list[list[object]] = []
    with throwaway_database(options.postgres, "routing") as url:
        shop = routing_shop(url)
        try:
            team = hire(shop)
            empty = route_times(shop, 50)
            ledger, busy, summary = one_after_another(shop, team, options.handoffs)
            probe = accept_from_queue(shop, team)
        finally:
            shop.close()
    rows += ledger_rows(f"{options.handoffs} one after another", ledger)
    with throwaway_database(options.postgres, "routing_at_once") as url:
        shop = routing_shop(url)
        try:
            team = hire(shop)
            at_once = all_at_once(shop, team, threads=4, each=25)
        finally:
            shop.close()
    rows += ledger_rows("100 from 4 threads at once", at_once)
    expected = "refused (409): accept() takes from the queue 'when they have room'"
    rows.append(
        ["a full rep accepts from the queue", expected, probe, "", "met" if probe.startswith("refused") else "NOT met"]
    )
    empty_ms, busy_ms = np.array(empty) * 1000, np.array(busy) * 1000
    timing = [
        ["route(), queue empty (baseline)", len(empty_ms), *percentiles(empty_ms), ""],
        [f"route() during the {options.handoffs} hand-offs", len(busy_ms), *percentiles(busy_ms),
         f"{np.percentile(busy_ms, 99) / np.percentile(empty_ms, 99):.1f}x"],
    ]  # fmt: skip
    checks = tabulate(rows, ("hand-offs", "check", "breaches / checks", "first breach", "target: none"),
                      disable_numparse=True)  # fmt: skip
    per_rep = tabulate(summary, ("rep", "capacity", "presence", "most held at once", "offered", "accepted",
                                 "resolved"), disable_numparse=True)  # fmt: skip
    costs = tabulate(timing, ("handoffs.route", "calls", "p50 ms", "p95 ms", "p99 ms", "p99 vs empty"),
                     disable_numparse=True)  # fmt: skip
    title = "3. routing, in-process on PostgreSQL: 10 reps (capacity 1..5, 3 away)"
    return f"{title}\n{checks}\n\n{per_rep}\n\n{costs}"


def routing_shop(url: str) -> Salesbot:
    return bootstrap(Settings(database_url=url, embeddings="off", brain="rules", accept_seconds=3600,
                              presence_seconds=3600))  # fmt: skip


@dataclass(frozen=True)
class Member:
    rep_id: str
    name: str
    capacity: int
    online: bool


def hire(shop: Salesbot) -> list[Member]:
    team = []
    for n, capacity in enumerate(CAPACITIES):
        rep, _ = reps.create(uow=shop.uow(), name=f"Rep {n}", email=f"rep{n}@bench.example", capacity=capacity)
        online = n not in AWAY
        reps.set_presence(uow=shop.uow(), rep_id=rep.id, status="online" if online else "away", now=now())
        team.append(Member(rep.id, rep.name, capacity, online))
    return team


def route_times(shop: Salesbot, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        handoffs.route(uow=shop.uow(), settings=shop.settings, now=now())
        times.append(time.perf_counter() - began)
    return times


def hand_off(shop: Salesbot, visitor: str) -> str:
    cid = shop.conversations.start(customer_id=None, visitor_id=visitor, channel="web", page={})["conversation_id"]
    turn = shop.conversations.say(cid, HUMAN)
    if turn["conversation_status"] != "awaiting_human":
        raise RuntimeError(f"{cid} did not hand off: {turn['conversation_status']}")
    return cid


def one_after_another(shop: Salesbot, team: list[Member], count: int) -> tuple[Ledger, list[float], list[list]]:
    rng = random.Random(7)
    ledger, busy = Ledger(), []
    handed: list[str] = []
    accepted: dict[str, int] = dict.fromkeys((m.rep_id for m in team), 0)
    resolved = dict(accepted)
    for n in tqdm(range(count), desc="routing: hand-offs", leave=False):
        handed.append(hand_off(shop, f"routing-{n}"))  # say() routes it at once
        check(shop, team, handed, ledger, routed=True)
        rows = snapshot(shop)
        for member in team:
            for cid, state, rep_id, _since in rows:
                if rep_id != member.rep_id:
                    continue
                if state == "assigned" and rng.random() < ACCEPT_CHANCE:
                    handoffs.accept(uow=shop.uow(), conversation_id=cid, rep=rep_row(shop, member), by=None, now=now())
                    accepted[member.rep_id] += 1
                elif state == "live" and rng.random() < RESOLVE_CHANCE:
                    handoffs.resolve(uow=shop.uow(), conversation_id=cid, rep=rep_row(shop, member), by=None,
                                     now=now())  # fmt: skip
                    resolved[member.rep_id] += 1
        check(shop, team, handed, ledger, routed=False)  # places may be free until the route: no room check yet
        busy += route_times(shop, 1)
        check(shop, team, handed, ledger, routed=True)
    offered = offers_per_rep(shop)
    summary = [[m.name, m.capacity, "online" if m.online else "away", ledger.most_held.get(m.rep_id, 0),
                offered.get(m.rep_id, 0), accepted[m.rep_id], resolved[m.rep_id]] for m in team]  # fmt: skip
    summary.append(["(most waiting at once)", "", "", ledger.most_waiting, "", "", ""])
    return ledger, busy, summary


def all_at_once(shop: Salesbot, team: list[Member], *, threads: int, each: int) -> Ledger:
    """Hand-offs from several threads at once, as several API processes take them; a watcher checks as they go."""
    ledger, handed, lock, done = Ledger(), [], threading.Lock(), threading.Event()

    def visitors(thread: int) -> None:
        for n in range(each):
            cid = hand_off(shop, f"at-once-{thread}-{n}")
            with lock:
                handed.append(cid)

    def watch() -> None:
        while not done.is_set():
            with lock:
                seen = list(handed)
            check(shop, team, seen, ledger, routed=False, include_order=False)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(threads) as pool:
            list(tqdm(pool.map(visitors, range(threads)), total=threads, desc="routing: at once", leave=False))
    finally:
        done.set()
        watcher.join()
    route_times(shop, 1)
    check(shop, team, handed, ledger, routed=True)
    return ledger


def check(
    shop: Salesbot, team: list[Member], handed: list[str], ledger: Ledger, *, routed: bool, include_order: bool = True
) -> None:
    """Count every invariant once against the database as it is now."""
    rows = snapshot(shop)
    held: dict[str, int] = {}
    for _cid, state, rep_id, _since in rows:
        if state in handoffs.HOLDING and rep_id:
            held[rep_id] = held.get(rep_id, 0) + 1
    for member in team:
        ledger.most_held[member.rep_id] = max(ledger.most_held.get(member.rep_id, 0), held.get(member.rep_id, 0))
    over = [(held[m.rep_id] - m.capacity, f"{m.name} holds {held[m.rep_id]} of {m.capacity}") for m in team
            if held.get(m.rep_id, 0) > m.capacity]  # fmt: skip
    ledger.count("capacity", over[0][1] if over else None)
    ledger.worst_over = max([ledger.worst_over, *over])
    away = {m.rep_id: m.name for m in team if not m.online}
    given = [f"{cid} {state} with {away[rep_id]}" for cid, state, rep_id, _ in rows
             if state in handoffs.HOLDING and rep_id in away]  # fmt: skip
    ledger.count("away", given[0] if given else None)
    states = {cid: state for cid, state, _, _ in rows}
    lost = [f"{cid} is {states.get(cid)}" for cid in handed if states.get(cid) not in {"queued", *handoffs.HOLDING,
                                                                                        "resolved"}]  # fmt: skip
    ledger.count("kept", lost[0] if lost else None)
    waiting = [(since, cid) for cid, state, _, since in rows if state == "queued"]
    ledger.most_waiting = max(ledger.most_waiting, len(waiting))
    if include_order:
        oldest = min(waiting, default=None)
        jumped = [] if oldest is None else [
            f"{cid} is {state}, handed off {(since - oldest[0]).total_seconds() * 1000:.0f} ms after {oldest[1]}"
            for cid, state, _, since in rows if state in {*handoffs.HOLDING, "resolved"} and since > oldest[0]
        ]  # fmt: skip
        ledger.count("order", jumped[0] if jumped else None)
    if routed:
        room = [f"{m.name} holds {held.get(m.rep_id, 0)} of {m.capacity}" for m in team
                if m.online and held.get(m.rep_id, 0) < m.capacity]  # fmt: skip
        ledger.count("room", f"{len(waiting)} waiting while {room[0]}" if waiting and room else None)


def snapshot(shop: Salesbot) -> list[tuple[str, str, str | None, datetime | None]]:
    with shop.uow() as uow:
        found = select(Conversation.id, Conversation.handoff_state, Conversation.rep_id, Conversation.waiting_since)
        return [tuple(row) for row in uow.session.execute(found)]  # type: ignore[misc]


def offers_per_rep(shop: Salesbot) -> dict[str, int]:
    with shop.uow() as uow:
        found = select(HandoffChange.rep_id).where(HandoffChange.to_state == "assigned")
        offered: dict[str, int] = {}
        for rep_id in uow.session.scalars(found):
            offered[rep_id] = offered.get(rep_id, 0) + 1
        return offered


def rep_row(shop: Salesbot, member: Member):  # type: ignore[no-untyped-def]
    return reps.get(uow=shop.uow(), rep_id=member.rep_id)


def accept_from_queue(shop: Salesbot, team: list[Member]) -> str:
    """A rep with no room takes a waiting conversation straight from the queue (the inbox lists the queue)."""
    rows = snapshot(shop)
    waiting = sorted((since, cid) for cid, state, _, since in rows if state == "queued")
    held = {m.rep_id: sum(1 for _, s, r, _ in rows if r == m.rep_id and s in handoffs.HOLDING) for m in team}
    full = [m for m in team if m.online and held[m.rep_id] >= m.capacity]
    if not waiting or not full:
        return "not tried: nobody waiting or no full rep"
    member = full[0]
    try:
        handoffs.accept(uow=shop.uow(), conversation_id=waiting[0][1], rep=rep_row(shop, member), by=None, now=now())
    except Conflict as refused:
        return f"refused: {refused}"
    after = sum(1 for _, s, r, _ in snapshot(shop) if r == member.rep_id and s in handoffs.HOLDING)
    return f"accepted: {member.name} now holds {after} of {member.capacity}"


def ledger_rows(label: str, ledger: Ledger) -> list[list[object]]:
    rows = [
        [label if n == 0 else "", CHECKS[name], f"{ledger.broken[name]} / {ledger.checks[name]}",
         ledger.first.get(name, ""), "met" if ledger.checks[name] and not ledger.broken[name] else "NOT met"]
        for n, name in enumerate(name for name in CHECKS if ledger.checks[name])
    ]  # fmt: skip
    if ledger.worst_over[0]:
        rows[0][3] += f" (worst: {ledger.worst_over[1]})"
    return rows


# -- 4. an API process killed mid-stream -------------------------------------------------------------------------


def failover(options: argparse.Namespace) -> str:
    rows = []
    with throwaway_database(options.postgres, "failover") as url:
        server_key, rep_key = prepare(url, rep_capacity=10)
        with servers(url, count=2, name="failover") as (a, b):
            rep = Api(b.port, rep_key)
            rep.post("/v1/inbox/presence", {"status": "online"})
            rows.append(trickle(a, b, rep, server_key, options.replies, kill_after=None))
            rows.append(trickle(a, b, rep, server_key, options.replies, kill_after=15))
    headers = ("visitor stream on A, replies through B", "replies sent", "seqs expected", "seqs received",
               "missing", "repeated", "connections", "longest silence ms", "target: exactly 1..N")  # fmt: skip
    title = f"4. failover: {options.replies} rep replies one every 100 ms; A killed with SIGKILL mid-stream"
    return title + "\n" + tabulate(rows, headers, disable_numparse=True)


def trickle(a: Server, b: Server, rep: Api, server_key: str, replies: int, *, kill_after: int | None) -> list:
    visitor = Api(b.port, server_key)  # B lives throughout
    cid = visitor.post("/v1/conversations", {"visitor_id": f"failover-{kill_after}"})["conversation_id"]
    visitor.post(f"/v1/conversations/{cid}/messages", {"text": HUMAN})
    follower = Follower([a.port, b.port], server_key, cid)
    try:
        rep.post(f"/v1/conversations/{cid}/accept")
        if follower.wait(lambda e: e.data["author"] == "system", timeout=15) is None:
            raise RuntimeError("the stream on A never showed the rep joining")
        sent = 0
        for n in range(1, replies + 1):
            began = time.perf_counter()
            rep.post(f"/v1/conversations/{cid}/replies", {"text": f"Reply {n} of {replies}"})
            sent += 1
            if n == kill_after:
                a.kill()
            time.sleep(max(0.0, 0.1 - (time.perf_counter() - began)))
        last = visitor.get(f"/v1/conversations/{cid}/messages?after=0")[-1]["seq"]
        follower.wait(lambda e: e.seq >= last, timeout=15)
        time.sleep(0.5)  # anything sent twice arrives too
    finally:
        follower.close()
    seqs = [event.seq for event in follower.events]
    expected = list(range(1, last + 1))
    missing = sorted(set(expected) - set(seqs))
    repeated = len(seqs) - len(set(seqs))
    arrivals = [event.at for event in follower.events if event.data["author"] == "rep"]
    silence = max(np.diff(arrivals), default=0.0) * 1000
    label = "no kill (baseline)" if kill_after is None else f"A killed after reply {kill_after}, resumed on B"
    ports = " -> ".join("A" if port == a.port else "B" for port in follower.connected)
    return [label, sent, f"1..{last}", len(seqs), format_seqs(missing), repeated, ports, f"{silence:.0f}",
            "met" if seqs == expected else "NOT met"]  # fmt: skip


def format_seqs(seqs: list[int]) -> str:
    return "none" if not seqs else ", ".join(map(str, seqs[:10])) + (" ..." if len(seqs) > 10 else "")


# -- servers, clients and databases -------------------------------------------------------------------------------


@contextlib.contextmanager
def throwaway_database(server_url: str, purpose: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database on `server_url`, dropped on exit."""
    name = f"salesbot_live_{purpose}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        schema.upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(url: str, *, rep_capacity: int = 3) -> tuple[str, str]:
    """A server key and the key of a rep (Rita), made in the database the servers will use."""
    shop = bootstrap(Settings(database_url=url, embeddings="off", brain="rules"))
    try:
        _, server_key = keys.create(uow=shop.uow(), role="server", name="bench")
        _, rep_key = reps.create(uow=shop.uow(), name="Rita", email="rita@bench.example", capacity=rep_capacity)
    finally:
        shop.close()
    return server_key, rep_key


class Server:
    """`salesbot serve` on a free loopback port, in its own session so that it can be killed whole."""

    session_secret = secrets.token_hex(32)  # every server signs console cookies alike, as `salesbot serve` asks

    def __init__(self, url: str, *, workers: int, name: str, env: dict[str, str] | None = None) -> None:
        self.url, self.workers, self.name, self.extra_env = url, workers, name, env or {}
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {name: value for name, value in os.environ.items() if not name.startswith("SALESBOT_")}
        env.pop("OPENAI_API_KEY", None)
        env |= {
            "SALESBOT_DATABASE_URL": self.url,
            "SALESBOT_EMBEDDINGS": "off",
            "SALESBOT_BRAIN": "rules",
            "SALESBOT_RATE_LIMIT": GENEROUS,
            "SALESBOT_SITE_RATE_LIMIT": GENEROUS,
            "SALESBOT_CONVERSATION_RATE_LIMIT": GENEROUS,
            "SALESBOT_SESSION_SECRET": self.session_secret,
            "SALESBOT_LOG_LEVEL": "WARNING",
        }
        env |= self.extra_env
        command = [str(Path(sys.executable).parent / "salesbot"), "serve", "--port", str(self.port)]
        with open(SCRATCH / f"{self.name}.log", "wb") as log:
            self.process = subprocess.Popen([*command, "--workers", str(self.workers)], env=env, cwd=ROOT,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def wait_until_up(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {SCRATCH / (self.name + '.log')}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                status = connection.getresponse().status
                connection.close()
                if status == 200:
                    time.sleep(2.0 if self.workers > 1 else 0.2)  # every worker up, not just the first
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within 60 s")

    def kill(self) -> None:
        """SIGKILL to gunicorn's master and its workers at once: the process dies as in a crash."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            # gunicorn's quick shutdown; a worker still waits for its open streams' threads, so not for long
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=2)
        self.kill()


@contextlib.contextmanager
def servers(
    url: str, *, count: int, workers: int = 1, name: str, env: dict[str, str] | None = None
) -> Iterator[list[Server]]:
    started = [Server(url, workers=workers, name=f"{name}-{'ab'[n]}", env=env) for n in range(count)]
    try:
        for server in started:
            server.start()
        for server in started:
            server.wait_until_up()
        yield started
    finally:
        for server in started:
            if server.process is not None:
                server.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Api:
    """JSON requests with a key over one keep-alive connection to one server; one thread's client."""

    def __init__(self, port: int, secret: str) -> None:
        self.port, self.secret = port, secret
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.call("POST", path, body)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.secret}"}
        payload = None if body is None else json.dumps(body)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=payload, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                # gunicorn closed the idle keep-alive connection before this request reached it: send it again
                self.connection.close()
                if attempt:
                    raise
        if response.status not in (200, 201):
            raise RuntimeError(f"{method} {path} on :{self.port}: {response.status} {data[:300]!r}")
        return json.loads(data)


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str
    data: dict[str, Any]
    at: float  # time.perf_counter() when the client had read the whole event
    port: int


class Follower:
    """A visitor's SSE client on a thread, as a browser's EventSource: it keeps the events it reads and, when the
    connection drops, reconnects (to the next of `ports`, then staying on the last) with Last-Event-ID."""

    def __init__(self, ports: list[int], secret: str, cid: str) -> None:
        self.ports, self.secret, self.cid = ports, secret, cid
        self.events: list[Event] = []
        self.connected: list[int] = []  # the port of each connection made
        self._changed = threading.Condition()
        self._closing = False
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name=f"follower-{cid}", daemon=True)
        self._thread.start()

    def wait(self, predicate: Callable[[Event], bool], *, timeout: float) -> Event | None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((event for event in self.events if predicate(event)), None)
                left = deadline - time.monotonic()
                if found is not None or left <= 0:
                    return found
                self._changed.wait(left)

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError, AttributeError):
            self._socket.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
        self._thread.join(timeout=5)

    def _run(self) -> None:
        index = 0
        while not self._closing:
            port = self.ports[min(index, len(self.ports) - 1)]
            with contextlib.suppress(OSError, http.client.HTTPException, ValueError):
                self._follow(port)
            if self._closing:
                return
            index += 1  # the connection dropped: as a browser would, try again (a load balancer: another server)
            time.sleep(0.05)

    def _follow(self, port: int) -> None:
        last = self.events[-1].seq if self.events else 0
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=None)
        try:
            connection.connect()
            self._socket = connection.sock
            if self._closing:
                return
            headers = {"Authorization": f"Bearer {self.secret}", "Accept": "text/event-stream"}
            if last:
                headers["Last-Event-ID"] = str(last)
            connection.request("GET", f"/v1/conversations/{self.cid}/stream", headers=headers)
            response = connection.getresponse()
            if response.status != 200:
                raise OSError(f"stream answered {response.status}")
            self.connected.append(port)
            frame: dict[str, str] = {}
            while line := response.readline():
                line = line.rstrip(b"\r\n")
                if line:
                    name, _, value = line.decode().partition(":")
                    if name:  # a line starting with ':' is a comment (heartbeat)
                        frame[name] = value.removeprefix(" ")
                    continue
                if "data" in frame:
                    event = Event(int(frame["id"]), frame.get("event", "message"), json.loads(frame["data"]),
                                  time.perf_counter(), port)  # fmt: skip
                    with self._changed:
                        self.events.append(event)
                        self._changed.notify_all()
                frame = {}
        finally:
            connection.close()


def now() -> datetime:
    return datetime.now(UTC)


RUNS: dict[str, Callable[[argparse.Namespace], str]] = {
    "latency": latency,
    "streams": streams,
    "routing": routing,
    "failover": failover,
}


if __name__ == "__main__":
    main()
