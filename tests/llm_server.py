"""A scripted OpenAI-compatible chat-completions server on loopback, so the real `openai` client code runs.

Each request takes the next step of the script (the last step repeats):
  - a dict: the decision the "model" answers, JSON-encoded into the message content;
  - a str: the raw message content (for malformed answers);
  - Status(code, headers): an HTTP error;
  - Slow(seconds, step): wait, then answer `step` (for timeouts);
  - Refusal(text): a refusal instead of content;
  - a callable(request_body) -> any of the above (for a model that reads the prompt).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Status:
    code: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Slow:
    seconds: float
    step: Any


@dataclass(frozen=True)
class Refusal:
    text: str


class ScriptedLLM:
    def __init__(self) -> None:
        self.script: list[Any] = []
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def next_step(self, body: dict[str, Any]) -> Any:
        self.requests.append(body)
        step = self.script[min(len(self.requests) - 1, len(self.script) - 1)] if self.script else {}
        return step(body) if callable(step) else step

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        llm = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self._answer(llm.next_step(body), body)

            def _answer(self, step: Any, body: dict[str, Any]) -> None:
                if isinstance(step, Slow):
                    time.sleep(step.seconds)
                    step = step.step
                if isinstance(step, Status):
                    self._send(step.code, {"error": {"message": "scripted", "type": "server_error"}}, step.headers)
                    return
                self._send(200, completion(step, body))

            def _send(self, code: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def completion(step: Any, body: dict[str, Any]) -> dict[str, Any]:
    refusal = step.text if isinstance(step, Refusal) else None
    content = None if refusal else step if isinstance(step, str) else json.dumps(step)
    prompt_chars = sum(len(message["content"]) for message in body["messages"])
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_chars // 4,
            "completion_tokens": len(content or "") // 4,
            "total_tokens": prompt_chars // 4 + len(content or "") // 4,
        },
    }
