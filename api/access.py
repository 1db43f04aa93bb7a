"""Who may call: bearer keys checked per view, what a public site key must prove, CORS, rate limits per key."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, after_this_request, current_app, g, request, session
from flask_cors import CORS
from flask_limiter import HeaderNames, Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from werkzeug.exceptions import TooManyRequests

from api.wiring import salesbot, uow
from salesbot.access import identity, keys
from salesbot.access.roles import Role, may
from salesbot.config import Settings
from salesbot.errors import PermissionDenied, Unauthenticated

log = logging.getLogger("api.access")
View = TypeVar("View", bound=Callable[..., Any])
BEARER = "bearer "
LIMITER_RETRY_AFTER = "X-Salesbot-Limiter-Retry-After"
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "An API key from `salesbot keys create`"}
CUSTOMER_HASH = identity.HEADER
CONVERSATION_TOKEN = "X-Conversation-Token"
KEY_BUDGET_IN_VIEW = "salesbot_key_budget_in_view"
SESSION_KEY, CSRF_KEY, CSRF_HEADER = "key_id", "csrf", "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}  # marks views that spend the key's budget themselves


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
        holder = signed_in()  # the console's session cookie
        if holder is None:
            raise Unauthenticated("send your API key as `Authorization: Bearer <key>`")
    else:
        holder = keys.authenticate(uow=uow(), secret=token, remember_for=keys.REMEMBERED_FOR)
    origin = request.headers.get("Origin")
    if holder.role is Role.SITE and origin and not may_embed(origin):
        raise PermissionDenied(f"origin {origin} may not use this key; the operator lists allowed origins")
    if not may(holder.role, allowed):
        raise PermissionDenied(f"a {holder.role.value} key may not do this")
    return holder


def may_embed(origin: str) -> bool:
    """A site key works from the origins the operator lists, and from the API's own pages (the chat widget's frame
    and the demo store are served from here)."""
    settings = salesbot().settings
    return origin in settings.cors_origins or origin in own_origins(settings.public_url)


def own_origins(public_url: str) -> tuple[str, str]:
    """This server's own origin, as the operator published it (`SALESBOT_PUBLIC_URL`, right behind a TLS proxy) and as
    the request reached it."""
    public = urlsplit(public_url)
    return f"{public.scheme}://{public.netloc}", request.host_url.rstrip("/")


def signed_in() -> keys.KeyHolder | None:
    """The key a console session signed in with (`console.sign_in`), still valid; state-changing requests must
    echo the session's CSRF token in `X-CSRF-Token`, so another site cannot act with the cookie."""
    key_id = session.get(SESSION_KEY)
    if not key_id:
        return None
    holder = keys.holder(uow=uow(), key_id=key_id)
    if holder is None:
        session.clear()
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, session.get(CSRF_KEY, "")):
            raise PermissionDenied(f"send the page's CSRF token in {CSRF_HEADER}")
    return holder


def act_for(customer_id: str | None) -> None:
    """A site key acts for a customer only with the customer's identity hash (`X-Customer-Hash`); the store's own
    keys always may. Call it in views that take a customer id, after `requires`."""
    holder: keys.KeyHolder = g.key_holder
    if customer_id and holder.role is Role.SITE:
        proof = request.headers.get(CUSTOMER_HASH)
        try:
            identity.verify(secret=holder.identity_secret, customer_id=customer_id, proof=proof)
        except PermissionDenied:
            _refused_identity(holder, customer_id, proof)
            raise


def _refused_identity(holder: keys.KeyHolder, customer_id: str, proof: str | None) -> None:
    """A browser that claims a customer without their hash is worth an operator's look: a forged or stale page."""
    log.warning(
        "refused site key %s acting for customer %r: %s",
        holder.key_id,
        customer_id,
        "no identity hash" if not proof else "the identity hash is not theirs",
    )


def signed_in_customer(candidates: Iterable[Any]) -> str | None:
    """Which of `candidates` a site key proved it acts for with `X-Customer-Hash`; None when none."""
    holder: keys.KeyHolder = g.key_holder
    proof = request.headers.get(CUSTOMER_HASH)
    if not proof or holder.identity_secret is None:
        return None
    claimed = [customer_id for customer_id in candidates if isinstance(customer_id, str) and customer_id]
    for customer_id in claimed:
        with contextlib.suppress(PermissionDenied):
            identity.verify(secret=holder.identity_secret, customer_id=customer_id, proof=proof)
            return customer_id
    if claimed:
        _refused_identity(holder, claimed[0], proof)
    return None


def conversation_visitor(view: View) -> View:
    """A site key reaches a conversation only with the token its start answered (`X-Conversation-Token`); the
    store's own keys always do. Put it under `requires`, so that nothing is read before the key is checked."""

    @functools.wraps(view)
    def admitted(*args: Any, **kwargs: Any) -> Any:
        if g.key_holder.role is Role.SITE:
            token = request.headers.get(CONVERSATION_TOKEN)
            if not token:
                raise PermissionDenied(
                    f"a site key must send the conversation's token in {CONVERSATION_TOKEN}: the "
                    "conversation_token that POST /v1/conversations answered"
                )
            salesbot().conversations.admit(kwargs["conversation_id"], token=token)
        return view(*args, **kwargs)

    return admitted  # type: ignore[return-value]


def limited_per(scope: str, *, by: str, rate: Callable[[Settings], str]) -> Callable[[View], View]:
    """A narrower limit (`rate` per `scope`, counted by the view's argument `by`) checked before the key's own budget
    is spent: a request it refuses costs the key nothing, so one runaway conversation cannot lock out every other
    caller of the key. The view is left out of the limiter's default check and spends the key's budget here
    (a request refused before it, say for a wrong conversation token, spends it in `_charge_the_refused`)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            budget, whose = _key_budget()
            limiter: Limiter = current_app.extensions["salesbot.limiter"]
            if limiter.enabled:
                with _counters_may_fail():
                    if not limiter.limiter.test(budget, *whose):
                        _refuse(limiter, budget, whose, f"at most {budget} for this key")
                    g.key_budget_settled = True  # from here on, refused or not, the key's budget is dealt with here
                    spend(scope, kwargs[by], rate(salesbot().settings))
                    if not limiter.limiter.hit(budget, *whose):
                        _refuse(limiter, budget, whose, f"at most {budget} for this key")
                    _tell_budget(limiter, budget, whose)
            return view(*args, **kwargs)

        setattr(limited, KEY_BUDGET_IN_VIEW, True)
        return limited  # type: ignore[return-value]

    return decorate


@contextlib.contextmanager
def _counters_may_fail() -> Iterator[None]:
    """Counting in a shared store (Redis) that fails lets the request through, as the limiter's own checks do
    (`swallow_errors`): an outage of the counters must not answer 500 to every visitor."""
    try:
        yield
    except TooManyRequests:
        raise
    except Exception:
        log.warning("rate-limit counters unavailable; the request is let through", exc_info=True)


def _key_budget() -> tuple[RateLimitItem, tuple[str, str]]:
    """The key's budget and the counter the limiter's default check would spend for this route."""
    return parse(rate_limit()), (rate_key(), request.endpoint or "")


def _charge_the_refused(response: Response) -> Response:
    """A request to a `limited_per` route that was refused before its narrower limit was looked at (a wrong token,
    a role that may not) still spends the key's budget, as on every other route."""
    limiter: Limiter = current_app.extensions["salesbot.limiter"]
    if limiter.enabled and _key_budget_in_view() and not g.get("key_budget_settled"):
        budget, whose = _key_budget()
        with _counters_may_fail():
            limiter.limiter.hit(budget, *whose)
    return response


def _refuse(limiter: Limiter, limit: RateLimitItem, whose: tuple[str, ...], detail: str) -> None:
    reset, _left = limiter.limiter.get_window_stats(limit, *whose)
    raise TooManyRequests(detail, retry_after=max(1, math.ceil(reset - time.time())))


def _tell_budget(limiter: Limiter, limit: RateLimitItem, whose: tuple[str, ...]) -> None:
    """The same X-RateLimit-* headers the limiter sends on every other route."""
    reset, left = limiter.limiter.get_window_stats(limit, *whose)

    @after_this_request
    def headers(response: Response) -> Response:
        response.headers["X-RateLimit-Limit"] = str(limit.amount)
        response.headers["X-RateLimit-Remaining"] = str(left)
        response.headers["X-RateLimit-Reset"] = str(int(reset))
        return response


def _key_budget_in_view() -> bool:
    if bearer_token() is None or request.method == "OPTIONS":
        return False  # no key: the limiter's default check counts it by address, as everywhere
    view = current_app.view_functions.get(request.endpoint or "")
    handler = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    return bool(getattr(handler, KEY_BUDGET_IN_VIEW, False))


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


class SweptMemoryStorage(MemoryStorage):
    """limits' in-process counters, with expired windows swept once a second rather than every 10 ms: its sweeper
    thread, started anew on most hits, cost more than the rest of a recommendation (bench/serving.py). A counter
    whose window has passed is still dropped when it is next read, so every limit holds as before."""

    STORAGE_SCHEME = ["salesbot-memory"]
    SWEEP_EVERY = 1.0  # seconds

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (the parent's private hook, run on every hit)
        if not self.timer.is_alive():
            sweep = self._MemoryStorage__expire_events  # type: ignore[attr-defined]
            self.timer = threading.Timer(self.SWEEP_EVERY, sweep)
            self.timer.daemon = True  # a pending sweep must not hold the process at exit
            self.timer.start()


def install(app: Flask) -> Limiter:
    """CORS for the configured origins and the rate limiter (Redis-backed when configured)."""
    settings = app.extensions["salesbot"].settings
    if settings.cors_origins:
        CORS(
            app,
            resources={r"/v1/*": {"origins": list(settings.cors_origins)}},
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", CUSTOMER_HASH, CONVERSATION_TOKEN],
            expose_headers=["X-Request-ID", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"],
            max_age=600,
        )
    app.after_request(_retry_after_when_limited)  # registered first, so it runs after the limiter's own hook
    app.after_request(_charge_the_refused)
    limiter = Limiter(
        rate_key,
        app=app,
        default_limits=[rate_limit],
        default_limits_exempt_when=_key_budget_in_view,
        storage_uri=settings.redis_url or "salesbot-memory://",
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
    """Count one request against `rate` for one thing (a conversation's messages); 429 once it is spent.
    Views call it through `limited_per`, which spends the key's own budget after it."""
    limiter: Limiter = current_app.extensions["salesbot.limiter"]
    allowed = parse(rate)
    if not limiter.limiter.hit(allowed, scope, key):
        reset, _left = limiter.limiter.get_window_stats(allowed, scope, key)
        raise TooManyRequests(f"at most {rate} for one {scope}", retry_after=max(1, math.ceil(reset - time.time())))
