"""/v1/events: what customers and visitors did, sent live by the store's site and back end."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import requires, signed_in_customer
from api.catalog.schemas import EventBatchIn, EventReport
from api.wiring import salesbot, uow
from salesbot.access.roles import Role
from salesbot.catalog import events
from salesbot.offers import purchases

blp = Blueprint("events", __name__, url_prefix="/v1/events", description="What customers and visitors did")


@blp.route("")
class Events(MethodView):
    @requires(Role.SERVER, Role.SITE)
    @blp.arguments(EventBatchIn)
    @blp.response(202, EventReport)
    def post(self, batch):
        """Record up to 1,000 events. Events with an `event_id` already recorded count as duplicates, so a
        retried request adds nothing; each bad event is reported by its index and never blocks the others"""
        report = events.record(uow=uow(), events=batch["events"], policy=_policy(batch["events"]))
        refused = {rejection.index for rejection in report.rejected}
        accepted = [event for n, event in enumerate(batch["events"]) if n not in refused]
        purchases.follow(uow=uow(), events=accepted, now=datetime.now(UTC))
        return report


def _policy(rows: list) -> events.Policy:
    """The operator's policy; for a browser's public key, narrowed to what a browser may send."""
    policy = salesbot().event_policy
    if g.key_holder.role is not Role.SITE:
        return policy
    named = {row["customer_id"] for row in rows if isinstance(row, dict) and isinstance(row.get("customer_id"), str)}
    return policy.for_browser(signed_in=signed_in_customer(named))
