"""Where one recommendation request's time goes, stage by stage, timed inside the app as it answers real requests
in process, next to `/healthz` through the same app (a part of bench/serving.py)."""

from __future__ import annotations

import functools
import time
from collections import Counter

import flask.json.provider
import flask_limiter
import marshmallow
import webargs.core

import api
from api import access, bodies, metrics, requests
from salesbot.config import Settings
from salesbot.recommender.serving import Recommender

QUIET = {"SALESBOT_RATE_LIMIT": "100000000/minute", "SALESBOT_LOG_LEVEL": "WARNING", "SALESBOT_EMBEDDINGS": "off"}
RECOMMENDATIONS = "/v1/customers/c-{n}/recommendations?n=10&max_price=300"
FLASK = "Flask, werkzeug and the rest"
# (where, attribute, stage): what each stage of a request is, by the functions the app calls for it.
STAGES = (
    (access, "_authorise", "authentication (key, role, origin)"),
    (access, "act_for", "authentication (key, role, origin)"),
    (flask_limiter.Limiter, "_check_request_limit", "rate limiter"),
    (flask_limiter.Limiter, "_Limiter__inject_headers", "rate limiter"),
    (access, "_retry_after_when_limited", "rate limiter"),
    (access, "_charge_the_refused", "rate limiter"),
    (requests, "_begin", "request id, access log (api/requests.py)"),
    (requests, "_finish", "request id, access log (api/requests.py)"),
    (requests, "_forget", "request id, access log (api/requests.py)"),
    (bodies, "guard", "input guard (api/bodies.py)"),
    (metrics, "_start", "Prometheus histogram (api/metrics.py)"),
    (metrics, "_observe", "Prometheus histogram (api/metrics.py)"),
    (webargs.core.Parser, "parse", "query parsing (webargs)"),
    (Recommender, "current", "active model check"),
    (Recommender, "_history", "customer history read (database)"),
    (Recommender, "for_customer", "scoring, filters, reasons"),
    (marshmallow.Schema, "dump", "JSON answer"),
    (flask.json.provider.DefaultJSONProvider, "response", "JSON answer"),
)


class Stages:
    """Wall time spent in each stage while the app answers, each stage's own time only (a stage called inside
    another is taken out of the outer one), so that the stages add up to the whole request."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self._open: list[str] = []
        self._since = 0.0

    def wrap(self, owner: object, name: str, stage: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            self._enter(stage)
            try:
                return original(*args, **kwargs)
            finally:
                self._leave()

        setattr(owner, name, timed)

    def _enter(self, stage: str) -> None:
        now = time.perf_counter()
        if self._open:
            self.seconds[self._open[-1]] += now - self._since
        self._open.append(stage)
        self._since = now

    def _leave(self) -> None:
        now = time.perf_counter()
        self.seconds[self._open.pop()] += now - self._since
        self._since = now


def breakdown(url: str, secret: str, customers: int, requests_made: int) -> list[tuple]:
    """Microseconds per request in each stage, recommendations next to /healthz, through the app in process."""
    stages = Stages()
    for owner, name, stage in STAGES:  # before the app is built: its hooks are registered by reference
        stages.wrap(owner, name, stage)
    app = api.create_app(Settings.from_env(QUIET | {"SALESBOT_DATABASE_URL": url}))
    stages.wrap(app, "wsgi_app", FLASK)
    client, headers = app.test_client(), {"Authorization": f"Bearer {secret}"}
    spent: dict[str, Counter[str]] = {}
    for route, path in (("recommendations", RECOMMENDATIONS), ("/healthz", "/healthz")):
        for n in range(requests_made // 4):  # warm: the model loads, caches fill
            assert client.get(path.format(n=n % customers), headers=headers).status_code == 200
        stages.seconds.clear()
        for n in range(requests_made):
            client.get(path.format(n=(n * 7919) % customers), headers=headers)
        spent[route] = Counter({stage: seconds * 1e6 / requests_made for stage, seconds in stages.seconds.items()})
    app.extensions["salesbot"].close()
    order = [*dict.fromkeys(stage for _owner, _name, stage in STAGES), FLASK]
    total = {route: sum(spent[route].values()) for route in spent}
    rows = [
        (
            stage,
            f"{spent['recommendations'][stage]:,.0f}",
            f"{spent['recommendations'][stage] / total['recommendations']:.0%}",
            f"{spent['/healthz'][stage]:,.0f}" if spent["/healthz"][stage] else "",
        )
        for stage in order
    ]
    rows.append(("whole request, in the app", f"{total['recommendations']:,.0f}", "100%", f"{total['/healthz']:,.0f}"))
    return rows
