"""A scripted OpenAI-compatible chat-completions server on loopback, so the real `openai` client code runs.

Each request takes the next step of the script (the last step repeats):
  - a dict: the decision the "model" answers, JSON-encoded into the message content;
  - a str: the raw message content (for malformed answers);
  - Status(code, headers): an HTTP error;
  - Slow(seconds, step): wait, then answer `step` (for timeouts);
  - Refusal(text): a refusal instead of content;
  - a callable(request_body) -> any of the above (for a model that reads the prompt).

It also answers the fine-tuning API as OpenAI's does: `POST /v1/files` (multipart upload, kept in `files`),
`POST /v1/fine_tuning/jobs`, `GET /v1/fine_tuning/jobs[/{id}[/events]]` (kept in `jobs`). A job moves one step
along `tuning_steps` each time it is read; a training file whose lines do not suit the job's method fails the job.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
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


class _Tuning:
    """The fine-tuning half of `ScriptedLLM`: files and jobs as OpenAI's API keeps and answers them."""

    files: dict[str, dict[str, Any]]
    jobs: dict[str, dict[str, Any]]
    tuning_steps: list[str]
    _ids: Any

    def tuning_post(self, path: str, content_type: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        if path == "/v1/files":
            return self._upload(content_type, raw)
        if path == "/v1/fine_tuning/jobs":
            return self._create(json.loads(raw))
        return 404, _error("unknown path", "not_found")

    def tuning_get(self, path: str) -> tuple[int, dict[str, Any]]:
        route, _, query = path.partition("?")
        parts = route.strip("/").split("/")  # v1 fine_tuning jobs [id [events]]
        if parts[:3] != ["v1", "fine_tuning", "jobs"]:
            return 404, _error("unknown path", "not_found")
        if len(parts) == 3:
            newest = sorted(self.jobs.values(), key=lambda job: job["created_at"], reverse=True)
            limit = int(dict(p.split("=") for p in query.split("&") if "=" in p).get("limit", 20))
            return 200, {"object": "list", "data": [_public(job) for job in newest[:limit]], "has_more": False}
        job = self.jobs.get(parts[3])
        if job is None:
            return 404, _error(f"No fine-tuning job found with id {parts[3]!r}", "not_found")
        if len(parts) == 5 and parts[4] == "events":
            events = [_event(job, n, text) for n, text in enumerate(job["_events"])]
            return 200, {"object": "list", "data": events[::-1], "has_more": False}  # newest first, as the API
        self._advance(job)
        return 200, _public(job)

    def _upload(self, content_type: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        fields = {part.get_param("name", header="content-disposition"): part for part in parsed.iter_parts()}
        upload = fields["file"]
        file_id = f"file-{next(self._ids):06d}"
        content = upload.get_payload(decode=True)
        self.files[file_id] = {"filename": upload.get_filename(), "content": content,
                               "purpose": fields["purpose"].get_payload(decode=True).decode()}  # fmt: skip
        return 200, {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                     "filename": upload.get_filename(), "purpose": self.files[file_id]["purpose"],
                     "status": "processed"}  # fmt: skip

    def _create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for name in ("training_file", "validation_file"):
            if body.get(name) and body[name] not in self.files:
                return 400, _error(f"invalid {name}: {body[name]}", "invalid_request_error")
        job_id = f"ftjob-{next(self._ids):06d}"
        self.jobs[job_id] = {
            "id": job_id, "object": "fine_tuning.job", "created_at": int(time.time()), "error": None,
            "fine_tuned_model": None, "finished_at": None, "hyperparameters": {"n_epochs": "auto"},
            "model": body["model"], "organization_id": "org-scripted", "result_files": [], "seed": body.get("seed", 0),
            "status": self.tuning_steps[0], "trained_tokens": None, "training_file": body["training_file"],
            "validation_file": body.get("validation_file"), "method": body.get("method") or {"type": "supervised"},
            "metadata": body.get("metadata"), "_asked": body, "_step": 0, "_events": ["Created fine-tuning job"],
        }  # fmt: skip
        return 200, _public(self.jobs[job_id])

    def _advance(self, job: dict[str, Any]) -> None:
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return
        job["_step"] = min(job["_step"] + 1, len(self.tuning_steps) - 1)
        job["status"] = self.tuning_steps[job["_step"]]
        job["_events"].append(f"Job status: {job['status']}")
        if job["status"] == "running" and (problem := self._unsuitable(job)):
            job |= {"status": "failed", "error": {"code": "invalid_training_file", "message": problem, "param": None}}
            job["_events"].append(f"Training file is invalid: {problem}")
        if job["status"] in ("succeeded", "failed"):
            job["finished_at"] = int(time.time())
        if job["status"] == "succeeded":
            suffix = job["_asked"].get("suffix") or ""
            job["fine_tuned_model"] = f"ft:{job['model']}:scripted:{suffix}:{job['id'][-6:]}"
            job["trained_tokens"] = len(self.files[job["training_file"]]["content"]) // 4
            job["_events"].append(f"New fine-tuned model created: {job['fine_tuned_model']}")

    def _unsuitable(self, job: dict[str, Any]) -> str | None:
        """Why the training file does not suit the job's method, as OpenAI's validation would say it."""
        wanted = {"supervised": {"messages"}, "dpo": {"input", "preferred_output", "non_preferred_output"}}
        keys = wanted[job["method"]["type"]]
        for number, line in enumerate(self.files[job["training_file"]]["content"].decode().splitlines(), 1):
            if set(json.loads(line)) != keys:
                return f"line {number} is not a {job['method']['type']} example"
        return None


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in job.items() if not key.startswith("_")}


def _event(job: dict[str, Any], number: int, message: str) -> dict[str, Any]:
    level = "error" if "invalid" in message else "info"
    return {"id": f"ftevent-{job['id']}-{number}", "object": "fine_tuning.job.event", "created_at": job["created_at"]
            + number, "level": level, "message": message, "type": "message"}  # fmt: skip


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class ScriptedLLM(_Tuning):
    def __init__(self) -> None:
        self.script: list[Any] = []
        self.requests: list[dict[str, Any]] = []
        self.files: dict[str, dict[str, Any]] = {}  # id -> filename, purpose, content (bytes)
        self.jobs: dict[str, dict[str, Any]] = {}  # id -> the job as the API answers it, plus what was asked
        self.tuning_steps = ["validating_files", "queued", "running", "succeeded"]
        self._ids = itertools.count(1)
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
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path.startswith(("/v1/files", "/v1/fine_tuning/")):
                    self._send(*llm.tuning_post(self.path, self.headers.get("Content-Type", ""), raw))
                    return
                body = json.loads(raw)
                self._answer(llm.next_step(body), body)

            def do_GET(self) -> None:
                self._send(*llm.tuning_get(self.path))

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
