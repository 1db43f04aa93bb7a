"""Per-request bookkeeping: a request id on every log line and response, one access-log line each."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from salesbot.logs import request_id

log = logging.getLogger("api.access")
ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LOGGED_PATH_CHARACTERS = 300


def _loggable(path: str) -> str:
    """A path as one safe log line: control characters escaped (no forged lines), long ones cut."""
    shown = CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", path[:LOGGED_PATH_CHARACTERS])
    return shown + ("..." if len(path) > LOGGED_PATH_CHARACTERS else "")


def _begin() -> None:
    offered = request.headers.get("X-Request-ID", "")
    g.request_id = offered if ACCEPTED_REQUEST_ID.match(offered) else uuid.uuid4().hex
    g.request_id_token = request_id.set(g.request_id)
    g.started = time.perf_counter()


def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "-")
    holder = g.get("key_holder")
    path = _loggable(request.path)
    log.info(
        "%s %s %s",
        request.method,
        path,
        response.status_code,
        extra={
            "method": request.method,
            "path": path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
            "key_id": holder.key_id if holder else None,
            "client": request.remote_addr,
        },
    )
    return response


def _forget(_exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        request_id.reset(token)


def install(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_forget)
