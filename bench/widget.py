"""What the chat widget costs a store's page, and how fast it feels to a visitor, in headless Chromium.

    .venv/bin/python bench/widget.py [--runs 20] [--turns 3]

`salesbot serve --workers 2` (rules brain, SALESBOT_EMBEDDINGS=off) on a fresh SQLite database with 24 products,
a site key for the demo store and a server key. The store's pages are reached at localhost, the API at 127.0.0.1
(two origins, as on a real store). Prints four tables:

  1. size: the loader (api/static/widget/loader.js) raw, gzipped and as /widget.js serves it to a browser that
     accepts gzip, against the 8 KB (8,192 bytes) gzipped target; the chat page (its HTML, chat.js, chat.css),
     which the loader fetches only when the visitor opens the chat.
  2. page load: `loadEventEnd` of /demo in a fresh browser context per run, with the widget tag and without it
     (the same response with its widget.js <script> cut out). Both come through the same small proxy in this
     process, so the ratio compares like with like (page.route would stop every picture at the driver and cost
     more than the widget); the page straight from the server is shown too, which tells the proxy's share.
  3. open to greeting: from the launcher's click to the first bot line painted in the chat frame.
  4. a chat turn as the visitor sees it: from Enter to the bot's reply painted (the widget's POST /messages, its
     GET /messages?after= and the render), against the API's own time for the same kind of turn: POST /messages
     over loopback with a server key (urllib), and the server's `duration_ms` for the widget's POST in its log.
Times are taken in the pages (performance.timeOrigin + performance.now(), a MutationObserver, painted = the task
after the next animation frame), median and p90 over --runs; the first run warms up and is not counted.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tabulate import tabulate
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loopback import free_port, wait_for

from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.catalog import items
from salesbot.catalog.demo import CATEGORIES
from salesbot.config import Settings

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "api" / "static" / "widget"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOADER_TARGET = 8 * 1024  # bytes, gzipped
GENEROUS = "1000000/minute"
WITHIN = 15_000  # ms a browser step may take before the run fails
SCRIPT = ["I need a laptop for my work", "my budget is 1000 EUR", "within 2 weeks", "I'm the owner", "me@shop.example"]
WIDGET_TAG = re.compile(rb"<script[^>]*widget\.js[^>]*>\s*</script>\s*")
# Runs in every frame: the host page notes the launcher's click, the chat frame each Enter and each new bot line,
# painted once the frame holding it is on screen (the task after the next animation frame).
MARKS = """(() => {
  const now = () => performance.timeOrigin + performance.now();
  const marks = window.__bench = { clicked: null, enter: [], bot: [] };
  document.addEventListener("click", () => { if (marks.clicked === null) marks.clicked = now(); }, true);
  document.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) marks.enter.push(now()); }, true);
  let seen = 0;
  new MutationObserver(() => {
    const count = document.querySelectorAll(".line.bot").length;
    if (count <= seen) return;
    seen = count;
    requestAnimationFrame(() => setTimeout(() => marks.bot.push({ count, painted: now() }), 0));
  }).observe(document, { childList: true, subtree: true });
})();"""
LOADED = "performance.getEntriesByType('navigation')[0].loadEventEnd"
COMPARED = ("median ms", "p90 ms", "median ratio", "median +ms")
POSTS = "performance.getEntriesByType('resource').filter(e => e.name.endsWith('/messages')).map(e => e.duration)"


@dataclass
class Store:
    port: int
    proxy_port: int
    site_key: str
    site_key_id: str
    server_key: str
    server_key_id: str
    log: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def page_url(self) -> str:
        return f"http://localhost:{self.port}/demo"

    def proxied(self, *, widget: bool) -> str:
        return f"http://localhost:{self.proxy_port}/demo?widget={'on' if widget else 'off'}"


@dataclass
class Timings:
    loads: dict[str, list[float]] = field(default_factory=lambda: {"without": [], "with": [], "direct": []})
    greeting: list[float] = field(default_factory=list)
    turns: list[float] = field(default_factory=list)
    posts: list[float] = field(default_factory=list)  # the chat frame's POST /messages, by Resource Timing
    api_turns: list[float] = field(default_factory=list)


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[Store]:
    """`salesbot serve --workers 2` on a fresh database with a small catalog; stopped on the way out."""
    port, proxy_port = free_port(), free_port()
    url = f"sqlite:///{folder / 'salesbot.db'}"
    env = os.environ | {"SALESBOT_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "salesbot", "db", "upgrade"], env=env, check=True, capture_output=True)
    site, site_key, server, server_key = _stock(url, f"http://127.0.0.1:{port}")
    env |= {
        "SALESBOT_DEMO_SITE_KEY": site_key,
        "SALESBOT_CORS_ORIGINS": f"http://localhost:{port},http://localhost:{proxy_port}",
        "SALESBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SALESBOT_EMBEDDINGS": "off",
        "SALESBOT_BRAIN": "rules",
        "SALESBOT_LOG_FORMAT": "json",
        "SALESBOT_RATE_LIMIT": GENEROUS,
        "SALESBOT_SITE_RATE_LIMIT": GENEROUS,
        "SALESBOT_CONVERSATION_RATE_LIMIT": GENEROUS,
        "GUNICORN_CMD_ARGS": "--graceful-timeout 5",
    }
    log = folder / "server.log"
    command = [sys.executable, "-m", "salesbot", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with log.open("w") as output:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_for(port)
            with stripping(proxy_port, port):
                yield Store(port, proxy_port, site_key, site.id, server_key, server.id, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _stock(url: str, api: str):  # type: ignore[no-untyped-def]
    """24 products on the demo store's shelves, its site key and a server key."""
    services = bootstrap(Settings(database_url=url, embeddings="off"))
    try:
        for n in range(24):
            kind = CATEGORIES[n % len(CATEGORIES)]
            item_id = f"sku-{n:05d}"
            pages = {"url": f"{api}/demo/items/{item_id}", "image_url": f"{api}/demo/pictures/{item_id}.svg"}
            title = f"{kind.brands[n % len(kind.brands)]} {kind.nouns[n % len(kind.nouns)]} {n}"
            items.put(uow=services.uow(), item_id=item_id, title=title, price=f"{kind.median_price + n}.00",
                      currency="EUR", category=kind.name, attributes=pages)  # fmt: skip
        site, site_key = keys.create(uow=services.uow(), role="site", name="demo widget")
        server, server_key = keys.create(uow=services.uow(), role="server", name="the shop")
    finally:
        services.close()
    return site, site_key, server, server_key


def fetch(url: str, headers: dict[str, str] | None = None, body: dict | None = None) -> tuple[bytes, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"} | (headers or {})
    request = urllib.request.Request(url, data=data, headers=sent, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read(), dict(response.headers)


def sizes(store: Store) -> tuple[list[tuple], int]:
    """One row per file the widget loads (raw, gzip -9, the bytes sent to a browser that accepts gzip) and the
    loader's bytes on the wire."""
    chat_query = urllib.parse.urlencode({"key": store.site_key, "origin": f"http://localhost:{store.port}"})
    files = {
        "loader: /widget.js": f"{store.api}/widget.js",
        "chat page: /widget/chat (HTML)": f"{store.api}/widget/chat?{chat_query}",
        "chat page: chat.js": f"{store.api}/widget/static/chat.js",
        "chat page: chat.css": f"{store.api}/widget/static/chat.css",
    }
    weights = {}
    for name, url in files.items():
        plain = fetch(url)[0]
        sent, headers = fetch(url, {"Accept-Encoding": "gzip"})
        zipped = headers.get("Content-Encoding") == "gzip"
        weights[name] = (len(plain), len(gzip.compress(plain, compresslevel=9, mtime=0)), len(sent), zipped)
    rows = [
        (name, f"{plain:,}", f"{packed:,}", f"{sent:,} ({'gzip' if zipped else 'not compressed'})",
         "on every store page" if name.startswith("loader") else "when opened")
        for name, (plain, packed, sent, zipped) in weights.items()
    ]  # fmt: skip
    chat = [sum(column) for column in zip(*(w[:3] for n, w in weights.items() if n.startswith("chat")), strict=True)]
    rows.append(("chat page, all three", *(f"{total:,}" for total in chat), "when opened"))
    plain, packed, sent, zipped = weights["loader: /widget.js"]
    return rows, sent if zipped else packed


def measure(store: Store, runs: int, turns: int) -> Timings:
    from playwright.sync_api import sync_playwright

    timings = Timings()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for run in tqdm(range(runs + 1), desc="browser runs (first warms up)", unit="run", file=sys.stderr):
                kept = timings if run else Timings()  # the first run warms both workers and Chromium up
                one_run(browser, store, kept, turns, order=run % 2)
                kept.api_turns += api_turns(store, SCRIPT[:turns], visitor=f"api-{run}")
        finally:
            browser.close()
    return timings


def one_run(browser, store: Store, timings: Timings, turns: int, *, order: int) -> None:  # type: ignore[no-untyped-def]
    """Both page variants (their order alternating from run to run), then open the chat and hold a few turns."""
    for name, widget in [("without", False), ("with", True)][:: 1 if order else -1]:
        context = browser.new_context()
        try:
            page = context.new_page()
            timings.loads[name].append(load(page, store.proxied(widget=widget)))
            if page.locator("script[src$='/widget.js']").count() != widget:
                raise RuntimeError(f"the page {name} the widget tag has {'none' if widget else 'one'}")
        finally:
            context.close()
    context = browser.new_context()
    try:
        context.add_init_script(MARKS)
        page = context.new_page()
        timings.loads["direct"].append(load(page, store.page_url))
        timings.greeting.append(open_chat(page))
        frame = page.locator("#salesbot-widget iframe").element_handle().content_frame()
        for text in SCRIPT[:turns]:
            timings.turns.append(say(frame, text))
        timings.posts += frame.evaluate(POSTS)
    finally:
        context.close()


def load(page, url: str) -> float:  # type: ignore[no-untyped-def]
    """ms from navigation to the end of the load event."""
    page.goto(url, wait_until="load")
    page.wait_for_function(f"() => {LOADED} > 0")
    return page.evaluate(LOADED)


class Stripping(http.server.BaseHTTPRequestHandler):
    """Passes the store's GETs on to the API server; with `?widget=off` cuts the widget's <script> out of the page."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the browser has it with the server itself
    disable_nagle_algorithm = True  # headers and body go out as two writes: no waiting on a delayed ACK between
    upstream = 0  # the server's port

    def do_GET(self) -> None:
        if not hasattr(self, "connection_up"):  # one upstream connection per browser connection, kept open
            self.connection_up = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=10)
        self.connection_up.request("GET", self.path, headers=dict(self.headers))
        answer = self.connection_up.getresponse()
        body = answer.read()
        if "widget=off" in self.path:
            body = WIDGET_TAG.sub(b"", body)
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in {"content-length", "transfer-encoding", "connection", "date", "server"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@contextlib.contextmanager
def stripping(proxy_port: int, upstream: int) -> Iterator[None]:
    handler = type("Handler", (Stripping,), {"upstream": upstream})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", proxy_port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def open_chat(page) -> float:  # type: ignore[no-untyped-def]
    """ms from the launcher's click (in the store's page) to the first bot line painted (in the chat frame)."""
    page.locator("#salesbot-widget .launch").click()
    frame = page.locator("#salesbot-widget iframe").element_handle(timeout=WITHIN).content_frame()
    frame.wait_for_function("() => window.__bench && window.__bench.bot.length > 0", timeout=WITHIN)
    clicked = page.evaluate("window.__bench.clicked")
    return frame.evaluate("window.__bench.bot[0].painted") - clicked


def say(frame, text: str) -> float:  # type: ignore[no-untyped-def]
    """ms from Enter to the reply's bot line painted."""
    before = frame.evaluate("document.querySelectorAll('.line.bot').length")
    box = frame.locator("textarea").first
    box.fill(text)
    box.press("Enter")
    frame.wait_for_function(f"() => window.__bench.bot.some(b => b.count > {before})", timeout=WITHIN)
    marks = frame.evaluate("window.__bench")
    painted = next(b["painted"] for b in marks["bot"] if b["count"] > before)
    return painted - marks["enter"][-1]


def api_turns(store: Store, script: list[str], *, visitor: str) -> list[float]:
    """The same turns straight to the API: ms per POST /messages over loopback, with a server key."""
    key = {"Authorization": f"Bearer {store.server_key}"}
    started = json.loads(fetch(f"{store.api}/v1/conversations", key, {"visitor_id": visitor, "channel": "web"})[0])
    path = f"{store.api}/v1/conversations/{started['conversation_id']}/messages"
    times = []
    for text in script:
        began = time.perf_counter()
        fetch(path, key, {"text": text})
        times.append((time.perf_counter() - began) * 1000)
    return times


def logged_turns(store: Store, skip: int) -> dict[str, list[float]]:
    """The server's own duration_ms of each POST /messages, by key id, from its JSON access log (past the first
    `skip` of each key: the warm-up run's)."""
    times: dict[str, list[float]] = {store.site_key_id: [], store.server_key_id: []}
    for line in store.log.read_text(encoding="utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("method") == "POST" and str(entry.get("path", "")).endswith("/messages"):
                times.setdefault(entry.get("key_id"), []).append(float(entry["duration_ms"]))
    return {key: found[skip:] for key, found in times.items()}


def spread(values: list[float]) -> tuple[str, str]:
    return f"{np.percentile(values, 50):.1f}", f"{np.percentile(values, 90):.1f}"


def row(name: str, values: list[float], baseline: list[float]) -> tuple[str, ...]:
    """A name, the median and p90 of `values`, their median against the baseline's, and the difference."""
    more = np.median(values) - np.median(baseline)
    return name, *spread(values), f"{np.median(values) / np.median(baseline):.2f}x", f"{more:+.1f}"


def print_tables(timings: Timings, logged: dict[str, list[float]], store: Store, runs: int) -> None:
    loads = timings.loads
    rows = [
        row("without the widget tag (baseline; via the stripping proxy)", loads["without"], loads["without"]),
        row("with the widget tag (via the same proxy)", loads["with"], loads["without"]),
        row("with the widget tag, straight from the server (no proxy)", loads["direct"], loads["without"]),
    ]
    print(tabulate(rows, headers=(f"/demo load event, fresh context, {runs} runs", *COMPARED)))
    print()
    greeting = [("launcher click -> first bot line painted", *spread(timings.greeting))]
    print(tabulate(greeting, headers=(f"open to greeting, {runs} runs", "median ms", "p90 ms")))
    print()
    api = timings.api_turns
    rows = [
        row("API's own time: POST /messages over loopback (urllib, server key)", api, api),
        row("- the server's duration_ms for those (access log)", logged[store.server_key_id], api),
        row("visitor: Enter -> reply painted (POST + GET ?after= + render)", timings.turns, api),
        row("- the chat frame's POST /messages (Resource Timing)", timings.posts, api),
        row("- the server's duration_ms for the widget's POST (access log)", logged[store.site_key_id], api),
    ]
    print(tabulate(rows, headers=(f"a chat turn, {len(timings.turns)} turns", *COMPARED)))


def browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (.venv/bin/pip install playwright)"
    if not shutil.which(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="browser runs counted (one more warms up)")
    parser.add_argument("--turns", type=int, default=3, choices=range(1, len(SCRIPT) + 1), help="chat turns per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, serving(Path(folder)) as store:
        rows, loader = sizes(store)
        print(tabulate(rows, headers=("widget file", "raw bytes", "gzip -9 bytes", "sent (Accept-Encoding: gzip)",
                                      "loaded")))  # fmt: skip
        verdict = "met" if loader <= LOADER_TARGET else "NOT met"
        print(f"loader target: <= {LOADER_TARGET:,} bytes gzipped: {verdict} ({loader / LOADER_TARGET:.2f}x of it)\n")
        missing = browser_missing()
        if missing:
            print(f"browser tables skipped: {missing}")
            return
        timings = measure(store, args.runs, args.turns)
        print_tables(timings, logged_turns(store, skip=args.turns), store, args.runs)


if __name__ == "__main__":
    main()
