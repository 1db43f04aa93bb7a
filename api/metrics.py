"""`GET /metrics` for Prometheus (no key; SALESBOT_METRICS_ALLOW_NETWORKS limits who may scrape), and the hooks
that time every request by its route template."""

from __future__ import annotations

import ipaddress
import time
from datetime import UTC, datetime

from flask import Flask, Response, current_app, g, request

from api.wiring import salesbot
from salesbot import metrics
from salesbot.errors import PermissionDenied
from salesbot.recommender import versions
from salesbot.webhooks import deliveries

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNMATCHED = "unmatched"  # 404s and 405s: any path may arrive, so none becomes a label
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def scrape() -> Response:
    """Every worker's metrics, and the webhook queue and active model as the database has them now."""
    _refuse_outsiders(current_app.extensions["salesbot.metrics_networks"])
    services = salesbot()
    database = metrics.Database(
        queue=lambda: deliveries.queue(uow=services.uow(), now=datetime.now(UTC)),
        active_model=lambda: versions.active_id(uow=services.uow()),
    )
    response = Response(metrics.exposition(database), content_type=metrics.CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def _refuse_outsiders(allowed: tuple[Network, ...]) -> None:
    if not allowed:
        return
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address is None or not any(address in network for network in allowed):
        raise PermissionDenied(f"{request.remote_addr} may not read the metrics (SALESBOT_METRICS_ALLOW_NETWORKS)")


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        method = request.method if request.method in METHODS else "other"  # a client cannot mint new series
        metrics.request_served(route=route, method=method, status=response.status_code,
                               seconds=time.perf_counter() - started)  # fmt: skip
    return response


def install(app: Flask) -> None:
    """Time every request (install first: its clock then spans the other hooks) and serve /metrics, outside the
    API document and the /v1 rate limits."""
    settings = app.extensions["salesbot"].settings
    app.extensions["salesbot.metrics_networks"] = tuple(
        ipaddress.ip_network(cidr, strict=False) for cidr in settings.metrics_allow_networks
    )
    app.before_request(_start)
    app.after_request(_observe)
    app.add_url_rule("/metrics", "metrics", scrape, methods=["GET"])
