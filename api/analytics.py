"""/v1/kpis (marketer): what the bot, the recommendations and the offers earn, each figure with its definition and
the conversations behind it; and every conversation's outcome as CSV."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.access import requires
from api.wiring import salesbot, uow
from salesbot.access.roles import Role
from salesbot.analytics import export, kpis
from salesbot.analytics.window import GRANULARITIES, SLICES, Window

blp = Blueprint("kpis", __name__, url_prefix="/v1/kpis", description="KPIs, their definitions and drill-downs")


class WindowIn(Schema):
    from_ = fields.AwareDateTime(
        data_key="from", attribute="start", load_default=None, default_timezone=UTC,
        metadata={"description": "Start (ISO 8601, UTC when no zone is given); default 30 days before `to`"},
    )  # fmt: skip
    to = fields.AwareDateTime(
        attribute="end", load_default=None, default_timezone=UTC, metadata={"description": "End, excluded; default now"}
    )
    purchase_days = fields.Int(
        load_default=14, validate=validate.Range(min=1, max=365),
        metadata={"description": "How long after a conversation a purchase is credited to it"},
    )  # fmt: skip


class KpisIn(WindowIn):
    granularity = fields.Str(load_default="day", validate=validate.OneOf(GRANULARITIES))
    by = fields.Str(load_default=None, validate=validate.OneOf(SLICES), metadata={"description": "Slice by"})


class BehindIn(KpisIn):
    kpi = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    period = fields.Str(validate=validate.Length(max=10), metadata={"description": "One period, e.g. 2026-11-23"})
    slice = fields.Str(validate=validate.Length(max=300), metadata={"description": "One slice of `by`"})
    page_size = fields.Int(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Int(load_default=0, validate=validate.Range(min=0))


class FigureOut(Schema):
    name = fields.Str(required=True)
    group = fields.Str(required=True)
    title = fields.Str(required=True)
    unit = fields.Str(required=True)
    definition = fields.Str(required=True)
    numerator = fields.Str(required=True)
    denominator = fields.Str(allow_none=True)
    value = fields.Float(allow_none=True)
    numerator_value = fields.Float(allow_none=True)
    denominator_value = fields.Float(allow_none=True)
    series = fields.List(fields.Dict(), required=True, metadata={"description": "One figure per period"})
    slices = fields.List(fields.Dict(), allow_none=True, metadata={"description": "null: not cut by this slice"})
    breakdown = fields.Dict(metadata={"description": "Counts beside the figure (reasons, statuses, ratings)"})
    conversations = fields.Str(allow_none=True, metadata={"description": "The conversations behind the figure"})


class ReportOut(Schema):
    from_ = fields.DateTime(data_key="from", attribute="from", required=True)
    to = fields.DateTime(required=True)
    granularity = fields.Str(required=True)
    by = fields.Str(allow_none=True)
    purchase_days = fields.Int(required=True)
    periods = fields.List(fields.Str(), required=True)
    kpis = fields.List(fields.Nested(FigureOut), required=True)


class BehindOut(Schema):
    kpi = fields.Str(required=True)
    total = fields.Int(required=True)
    conversations = fields.List(fields.Dict(), required=True, metadata={"description": "Their outcomes"})


def window_of(query: dict[str, Any]) -> Window:
    return Window.of(
        start=query.get("start"), end=query.get("end"), granularity=query.get("granularity", "day"),
        by=query.get("by"),
    )  # fmt: skip


@blp.route("")
class Kpis(MethodView):
    @requires(Role.MARKETER)
    @blp.arguments(KpisIn, location="query")
    @blp.response(200, ReportOut)
    def get(self, query):
        """Every KPI over the window: its definition, figure, numerator and denominator, per period and per slice"""
        window = window_of(query)
        report = kpis.report(uow=uow(), window=window, purchase_days=query["purchase_days"], prices=prices())
        for figure in report["kpis"]:
            figure["conversations"] = _behind_link(figure["name"], window, query["purchase_days"])
        return report


@blp.route("/conversations")
class Behind(MethodView):
    @requires(Role.MARKETER)
    @blp.arguments(BehindIn, location="query")
    @blp.response(200, BehindOut)
    def get(self, query):
        """The conversations counted in a KPI's numerator, newest first, with their outcomes"""
        return export.behind(
            uow=uow(), window=window_of(query), kpi=query["kpi"], purchase_days=query["purchase_days"],
            period=query.get("period"), slice_=query.get("slice"), limit=query["page_size"], offset=query["offset"],
        )  # fmt: skip


@blp.route("/conversations.csv")
class Export(MethodView):
    @requires(Role.MARKETER)
    @blp.arguments(WindowIn, location="query")
    @blp.response(200, description="text/csv: one row per conversation started in the window, with its outcome")
    def get(self, query):
        """Every conversation of the window with its outcome, as CSV (a spreadsheet opens it)"""
        window = window_of(query)
        lines = export.csv_lines(uow=uow(), window=window, purchase_days=query["purchase_days"])
        name = f"conversations-{window.start:%Y%m%d}-{window.end:%Y%m%d}.csv"
        return Response(
            stream_with_context(lines), mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )  # fmt: skip


def prices() -> kpis.Prices:
    settings = salesbot().settings
    return kpis.Prices(prompt=settings.llm_price_prompt, completion=settings.llm_price_completion)


def _behind_link(name: str, window: Window, purchase_days: int) -> str | None:
    if kpis.BY_NAME[name].drill is None:
        return None
    query = {"kpi": name, "from": window.start.isoformat(), "to": window.end.isoformat(),
             "purchase_days": purchase_days}  # fmt: skip
    return f"/v1/kpis/conversations?{urlencode(query)}"
