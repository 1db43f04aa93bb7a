"""The HTTP API: `create_app()` builds the Flask app (`gunicorn 'api:create_app()'`)."""

from __future__ import annotations

import secrets
from typing import Any

import swagger_ui_bundle
from flask import Flask, send_from_directory
from threadpoolctl import threadpool_limits
from werkzeug.middleware.proxy_fix import ProxyFix

import salesbot
from api import (
    access,
    analytics,
    bodies,
    catalog,
    console,
    conversation,
    dashboard,
    demo,
    errors,
    experiments,
    feedback,
    health,
    inbox,
    leads,
    metrics,
    offers,
    recommender,
    requests,
    upkeep,
    webhooks,
    widget,
)
from salesbot.bootstrap import Salesbot, bootstrap
from salesbot.config import Settings
from salesbot.logs import configure_logging

BLUEPRINTS = (
    health.blp,
    recommender.recommendations,
    catalog.items,
    catalog.customers,
    catalog.events,
    recommender.models,
    conversation.conversations,
    conversation.qualification,
    conversation.faqs,
    webhooks.hooks,
    webhooks.sent,
    offers.blp,
    experiments.blp,
    inbox.blp,
    leads.blp,
    widget.triggers,
    analytics.blp,
    feedback.blp,
    upkeep.jobs,
    upkeep.faq_gaps,
)
DOCS_ASSETS = "/docs/assets/"


def create_app(settings: Settings | None = None, *, services: Salesbot | None = None) -> Flask:
    """The salesbot API for `settings` (default: read from the `SALESBOT_*` environment)."""
    # One request at a time per worker: BLAS threads would only fight the other workers for the cores
    # (measured: 75 -> 208 recommendation requests/s with 2 gunicorn workers on 2 cores).
    threadpool_limits(1, user_api="blas")
    services = services or bootstrap(settings)
    services.warm_up()  # the embedding model loads while the app is built, not on the first visitor's message
    configure_logging(level=services.settings.log_level, fmt=services.settings.log_format)
    app = Flask("salesbot")
    app.config.update(_flask_config(services.settings))
    app.extensions["salesbot"] = services
    if services.settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=services.settings.trusted_proxies)  # type: ignore[method-assign]
    metrics.install(app)  # first: its clock spans the other hooks
    requests.install(app)
    access.install(app)
    bodies.install(app)  # after the rate limiter, so floods of bad requests are counted too
    api = errors.ProblemApi(app, spec_kwargs={"components": {"securitySchemes": {"bearer": access.SECURITY_SCHEME}}})
    api.spec.options["security"] = [{"bearer": []}]
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(console.blp)  # pages for people, outside the API document
    app.register_blueprint(widget.pages)
    app.register_blueprint(demo.blp)
    app.register_blueprint(dashboard.blp)
    errors.register(app)
    app.add_url_rule(f"{DOCS_ASSETS}<path:filename>", "docs_assets", _docs_asset)
    return app


def _flask_config(settings: Settings) -> dict[str, Any]:
    return {
        # The rep console's session cookie: signed, HTTP-only, same-site; a per-process secret when none is set.
        "SECRET_KEY": settings.session_secret or secrets.token_hex(32),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Strict",
        "SESSION_COOKIE_NAME": "salesbot_session",
        "SESSION_COOKIE_SECURE": settings.public_url.startswith("https://"),
        "MAX_CONTENT_LENGTH": settings.max_body_bytes,
        "API_TITLE": "salesbot",
        "API_VERSION": salesbot.__version__,
        "OPENAPI_VERSION": "3.0.3",  # the bundled Swagger UI 4 renders 3.0 documents only
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": DOCS_ASSETS,
        "API_SPEC_OPTIONS": {
            "info": {
                "description": "Recommendations, lead qualification, offers and CRM webhooks for online stores. "
                "Send an API key as `Authorization: Bearer <key>`; errors are `application/problem+json`."
            }
        },
    }


def _docs_asset(filename: str):
    # Swagger UI ships inside a Python package, so /docs works without reaching a CDN.
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86_400)
