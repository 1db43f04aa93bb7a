"""Liveness and readiness for load balancers and orchestrators; no key needed."""

from __future__ import annotations

from flask_smorest import Blueprint

from api.schemas import HealthOut
from api.wiring import salesbot
from salesbot import schema

blp = Blueprint("health", __name__, description="Process and database health (no key needed)")


@blp.route("/healthz")
@blp.doc(security=[])
@blp.response(200, HealthOut)
def healthz():
    """The process is up"""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.doc(security=[], responses={"503": {"description": "Database unreachable or not migrated to head"}})
@blp.response(200, HealthOut)
def readyz():
    """The database answers and its schema is at the newest migration"""
    revision = schema.check_ready(salesbot().engine)
    return {"status": "ready", "schema_revision": revision}
