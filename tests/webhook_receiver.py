"""A CRM on loopback: a real HTTP server that verifies every webhook with the `standardwebhooks` library and
deduplicates on `webhook-id`, as a careful receiver does. Its answers are scripted.

`script` steps (the last repeats): an int status, (status, headers), or a callable(request) -> one of those.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: str
    verified: bool
    payload: Any = None


@dataclass
class Receiver:
    secret: str | None = None
    script: list[Any] = field(default_factory=lambda: [200])
    requests: list[Received] = field(default_factory=list)
    processed: dict[str, Any] = field(default_factory=dict)  # webhook-id -> payload, each once

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/salesbot"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def deliveries_seen(self) -> Counter:
        return Counter(request.webhook_id for request in self.requests)

    def _take(self, received: Received) -> tuple[int, dict[str, str]]:
        with self._lock:
            self.requests.append(received)
            step = self.script[min(len(self.requests) - 1, len(self.script) - 1)]
            step = step(received) if callable(step) else step
            status, headers = step if isinstance(step, tuple) else (step, {})
            if 200 <= status < 300 and received.verified:
                self.processed.setdefault(received.webhook_id, received.payload)
            return status, headers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                headers = {name.lower(): value for name, value in self.headers.items()}
                received = Received(headers.get("webhook-id", ""), headers, body, verified=False)
                if receiver.secret:
                    try:
                        received.payload = Webhook(receiver.secret).verify(body, headers)
                        received.verified = True
                    except WebhookVerificationError:
                        received.payload = json.loads(body)
                status, extra = receiver._take(received)
                answer = b'{"ok": true}' if 200 <= status < 300 else b'{"error": "scripted"}'
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
