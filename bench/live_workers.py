"""Which gunicorn worker class can hold live streams? 500 idle SSE connections against /healthz's rate.

    python bench/live_workers.py [--streams 500] [--seconds 8] [--clients 16]

For each worker class (gthread with 64, 256 and 512 threads per worker, and gevent when it is installed; 2 workers
each) gunicorn serves a tiny WSGI app defined here: `/healthz` answers "ok", `/stream` is an SSE stream that
sends a comment at once and then one every 15 s, waiting on a `threading.Event` in between (gevent's worker
patches it to yield to other greenlets). The script measures `/healthz` requests/s and p99 from concurrent
keep-alive clients (threads + http.client), first with no streams, then while `--streams` raw sockets hold
`/stream` open, and prints both next to each other. Target: 500 idle streams while /healthz keeps at least
50% of its rate without them. A request unanswered within 2 s counts as failed.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

HEARTBEAT_SECONDS = 15.0
TARGET_RATIO = 0.5
REQUEST_TIMEOUT = 2.0
quiet = threading.Event()  # never set: streams wait on it, as a real stream waits on its notices


def app(environ, start_response):  # type: ignore[no-untyped-def]
    """The WSGI app gunicorn serves (`live_workers:app`)."""
    if environ["PATH_INFO"] == "/stream":
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        return heartbeats()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def heartbeats() -> Iterator[bytes]:
    yield b": connected\n\n"
    while not quiet.wait(HEARTBEAT_SECONDS):
        yield b": keep-alive\n\n"


CONFIGURATIONS = {
    "gthread, 2 x 64 threads": ["--worker-class", "gthread", "--threads", "64"],
    "gthread, 2 x 256 threads": ["--worker-class", "gthread", "--threads", "256"],
    "gthread, 2 x 512 threads": ["--worker-class", "gthread", "--threads", "512"],
    "gevent, 2 x 1000 connections": ["--worker-class", "gevent", "--worker-connections", "1000"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=500, help="idle SSE connections held open")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each /healthz measurement")
    parser.add_argument("--clients", type=int, default=16, help="concurrent /healthz clients")
    options = parser.parse_args()
    rows = []
    for name, flags in CONFIGURATIONS.items():
        if "gevent" in flags and importlib.util.find_spec("gevent") is None:
            print(f"{name}: skipped (gevent is not installed)", file=sys.stderr)
            continue
        print(f"{name} ...", file=sys.stderr, flush=True)
        rows += measure(name, flags, options)
    print_table(rows, options.streams)


def measure(name: str, flags: list[str], options: argparse.Namespace) -> list[list[object]]:
    with gunicorn(flags) as port:
        alone = hammer(port, options.clients, options.seconds)
        streams = open_streams(port, options.streams)
        try:
            answered = count_answered(streams, wait=2.0)
            crowded = hammer(port, options.clients, options.seconds)
            still_open = sum(1 for stream in streams if is_open(stream))
        finally:
            for stream in streams:
                stream.close()
    ratio = crowded.rate / alone.rate if alone.rate else 0.0
    return [
        [name, 0, "", f"{alone.rate:,.0f}", "1.00", alone.p99_ms, alone.failed, ""],
        [
            name,
            options.streams,
            f"{answered} / {still_open}",
            f"{crowded.rate:,.0f}",
            f"{ratio:.2f}",
            crowded.p99_ms,
            crowded.failed,
            "yes" if ratio >= TARGET_RATIO and answered == options.streams else "no",
        ],
    ]


class gunicorn:  # noqa: N801 (used as `with gunicorn(flags) as port`)
    """gunicorn serving this file's app with 2 workers on a free loopback port, stopped on exit."""

    def __init__(self, flags: list[str]) -> None:
        self.flags = flags
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", *self.flags]
        argv += ["--chdir", str(Path(__file__).parent), "--graceful-timeout", "1", "--log-level", "warning"]
        self.process = subprocess.Popen([*argv, "live_workers:app"], start_new_session=True)
        wait_until_up(port, self.process)
        return port

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(150):
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited at start")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            connection.close()
            time.sleep(1.0)  # both workers up, not just the first
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 30 s")


def open_streams(port: int, count: int) -> list[socket.socket]:
    streams = []
    for _ in range(count):
        stream = socket.create_connection(("127.0.0.1", port))
        stream.sendall(b"GET /stream HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
        streams.append(stream)
    return streams


def count_answered(streams: list[socket.socket], *, wait: float) -> int:
    """How many streams got their headers and first comment (a stream no thread serves gets nothing)."""
    deadline = time.monotonic() + wait
    answered = 0
    for stream in streams:
        received = b""
        try:
            while b": connected" not in received:
                stream.settimeout(max(0.001, deadline - time.monotonic()))
                chunk = stream.recv(65536)
                if not chunk:
                    break
                received += chunk
        except OSError:
            pass
        answered += b": connected" in received
    return answered


def is_open(stream: socket.socket) -> bool:
    stream.settimeout(0.0)
    try:
        return stream.recv(65536, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


class Load:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.failed = 0
        self.seconds = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def p99_ms(self) -> str:
        if not self.latencies:
            return "-"
        ordered = sorted(self.latencies)
        return f"{ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000:.1f}"


def hammer(port: int, clients: int, seconds: float) -> Load:
    """GET /healthz from `clients` threads with keep-alive connections for `seconds`."""
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
                if response.read() == b"ok":
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


def print_table(rows: list[list[object]], streams: int) -> None:
    from tabulate import tabulate

    headers = (
        "worker class",
        "idle streams held",
        "streams answered / open",
        "healthz req/s",
        "ratio to no streams",
        "p99 ms",
        "failed (2 s)",
        f"meets target ({streams} streams, >= {TARGET_RATIO:.0%})",
    )
    print(tabulate(rows, headers=headers, disable_numparse=True))


if __name__ == "__main__":
    main()
