"""Who may call: bearer keys checked per view, CORS for browsers, rate limits per key."""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_cors import CORS
from flask_limiter import HeaderNames, Limiter
from flask_limiter.util import get_remote_address
from limits import parse
from werkzeug.exceptions import TooManyRequests

from api.wiring import salesbot, uow
from salesbot.access import keys
from salesbot.access.roles import Role, may
from salesbot.errors import PermissionDenied, Unauthenticated

View = TypeVar("View", bound=Callable[..., Any])
BEARER = "bearer "
LIMITER_RETRY_AFTER = "X-Salesbot-Limiter-Retry-After"
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "An API key from `salesbot keys create`"}


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[: len(BEARER)].lower() != BEARER:
        return None
    return header[len(BEARER) :].strip() or None


def requires(*roles: Role) -> Callable[[View], View]:
    """Let the view run only for a valid key whose role is in `roles` (admins always may)."""
    allowed = frozenset(roles)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            g.key_holder = _authorise(allowed)
            return view(*args, **kwargs)

        guarded.__doc__ = (
            f"{view.__doc__ or ''}\n\nRoles: {', '.join(sorted(r.value for r in allowed | {Role.ADMIN}))}."
        )
        return guarded  # type: ignore[return-value]

    return decorate


def _authorise(allowed: frozenset[Role]) -> keys.KeyHolder:
    token = bearer_token()
    if token is None:
        raise Unauthenticated("send your API key as `Authorization: Bearer <key>`")
    holder = keys.authenticate(uow=uow(), secret=token)
    origin = request.headers.get("Origin")
    if holder.role is Role.SITE and origin and origin not in salesbot().settings.cors_origins:
        raise PermissionDenied(f"origin {origin} may not use this key; the operator lists allowed origins")
    if not may(holder.role, allowed):
        raise PermissionDenied(f"a {holder.role.value} key may not do this")
    return holder


def rate_key() -> str:
    """Whose counter a request spends: the key's, and for site keys the key's per client address."""
    token = bearer_token()
    if token is None:
        return f"addr:{get_remote_address()}"
    digest = hashlib.sha256(token.encode()).hexdigest()[:24]
    if token.startswith(Role.SITE.key_prefix):
        return f"site:{digest}:{get_remote_address()}"
    return f"key:{digest}"


def rate_limit() -> str:
    settings = salesbot().settings
    token = bearer_token() or ""
    return settings.site_rate_limit if token.startswith(Role.SITE.key_prefix) else settings.rate_limit


def _retry_after_when_limited(response: Response) -> Response:
    """Only a 429 says when to come back (when the key's window resets); other answers keep their own."""
    seconds = response.headers.pop(LIMITER_RETRY_AFTER, None)
    if response.status_code == 429 and seconds:
        response.headers["Retry-After"] = seconds
    return response


def install(app: Flask) -> Limiter:
    """CORS for the configured origins and the rate limiter (Redis-backed when configured)."""
    settings = app.extensions["salesbot"].settings
    if settings.cors_origins:
        CORS(
            app,
            resources={r"/v1/*": {"origins": list(settings.cors_origins)}},
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"],
            max_age=600,
        )
    app.after_request(_retry_after_when_limited)  # registered first, so it runs after the limiter's own hook
    limiter = Limiter(
        rate_key,
        app=app,
        default_limits=[rate_limit],
        storage_uri=settings.redis_url or "memory://",
        headers_enabled=True,
        # flask-limiter sets Retry-After on every response; park it where _retry_after_when_limited looks.
        header_name_mapping={HeaderNames.RETRY_AFTER: LIMITER_RETRY_AFTER},
        swallow_errors=True,
        in_memory_fallback_enabled=bool(settings.redis_url),
    )
    limiter.request_filter(lambda: not request.path.startswith("/v1/") or request.method == "OPTIONS")
    app.extensions["salesbot.limiter"] = limiter
    return limiter


def spend(scope: str, key: str, rate: str) -> None:
    """Count one request against `rate` for one thing (a conversation's messages); 429 once it is spent."""
    limiter: Limiter = current_app.extensions["salesbot.limiter"]
    allowed = parse(rate)
    if not limiter.limiter.hit(allowed, scope, key):
        reset, _left = limiter.limiter.get_window_stats(allowed, scope, key)
        raise TooManyRequests(f"at most {rate} for one {scope}", retry_after=max(1, math.ceil(reset - time.time())))
