"""/v1/events: what customers and visitors did, sent live by the store's site and back end."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.access import requires
from api.catalog.schemas import EventBatchIn, EventReport
from api.wiring import salesbot, uow
from salesbot.access.roles import Role
from salesbot.catalog import events

blp = Blueprint("events", __name__, url_prefix="/v1/events", description="What customers and visitors did")


@blp.route("")
class Events(MethodView):
    @requires(Role.SERVER, Role.SITE)
    @blp.arguments(EventBatchIn)
    @blp.response(202, EventReport)
    def post(self, batch):
        """Record up to 1,000 events. Events with an `event_id` already recorded count as duplicates, so a
        retried request adds nothing; each bad event is reported by its index and never blocks the others"""
        policy = salesbot().event_policy
        if g.key_holder.role is Role.SITE:
            policy = policy.for_browser()
        return events.record(uow=uow(), events=batch["events"], policy=policy)
