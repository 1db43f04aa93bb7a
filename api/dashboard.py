"""The dashboard at /app/dashboard for marketers and admins, signed in as in the rep console: every KPI with its
definition, charts of the main ones over time and by slice, the conversations behind a figure, and the CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Response, render_template, request, send_from_directory, url_for
from marshmallow import ValidationError

from api import upkeep
from api.access import signed_in
from api.analytics import BehindIn, KpisIn, prices, window_of
from api.console import DASHBOARD_ROLES, SECURITY_HEADERS, Pages, sign_in_page
from api.wiring import uow
from salesbot.access.roles import Role
from salesbot.analytics import export, kpis
from salesbot.analytics.figures import shown
from salesbot.errors import InvalidInput
from salesbot.upkeep.shown import in_words

CHARTED = ("conversations_started", "bot_resolution_rate", "handoff_rate", "csat_average", "lead_to_purchase_rate",
           "bot_reply_ms_p95", "recommendation_ctr", "llm_fallback_rate", "bot_lines_rated_up_share")  # fmt: skip
GROUPS = ("conversations", "speed", "satisfaction", "sales", "recommendations", "offers", "llm", "feedback",
          "webhooks")  # fmt: skip
FILTERS = ("from", "to", "granularity", "by", "purchase_days")
VENDOR = Path(__file__).resolve().parent / "static" / "vendor" / "chart.js"

blp = Pages(
    "dashboard",
    __name__,
    url_prefix="/app/dashboard",
    template_folder="templates",
    static_folder="static/dashboard",
    static_url_path="/static",
    description="The KPI dashboard for people (web pages, not API operations)",
)


@blp.after_request
def _secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@blp.route("/vendor/chart.umd.min.js", methods=["GET"])
def chart_library() -> Response:
    """Chart.js, vendored with its license under api/static/vendor/chart.js (no CDN)."""
    return send_from_directory(VENDOR, "chart.umd.min.js", mimetype="application/javascript", max_age=86400)


@blp.route("", methods=["GET"])
def overview():  # type: ignore[no-untyped-def]
    """Every KPI of the window the filters pick, grouped, with charts; a sign-in form for anyone else."""
    if not _may_look():
        return sign_in_page()
    filters = _filters()
    gaps = url_for("dashboard.faq_gaps", **{name: filters[name] for name in ("from", "to") if name in filters})
    try:
        query = KpisIn().load(filters)
        window = window_of(query)
    except (ValidationError, InvalidInput) as problem:
        return render_template("dashboard/overview.html", problem=_said(problem), filters=filters, groups=[],
                               jobs=_jobs(), gaps=gaps), 422  # fmt: skip
    report = kpis.report(uow=uow(), window=window, purchase_days=query["purchase_days"], prices=prices())
    return render_template(
        "dashboard/overview.html", problem=None, filters=filters, report=report, groups=_grouped(report, filters),
        charts=_charts(report), csv=f"/v1/kpis/conversations.csv?{_query(filters, drop=('granularity', 'by'))}",
        jobs=_jobs(), gaps=gaps,
    )  # fmt: skip


@blp.route("/conversations", methods=["GET"])
def conversations():  # type: ignore[no-untyped-def]
    """The conversations behind one figure, newest first."""
    if not _may_look():
        return sign_in_page()
    filters = _filters() | {name: request.args[name] for name in ("kpi", "period", "slice", "offset")
                            if request.args.get(name)}  # fmt: skip
    try:
        query = BehindIn().load(filters)
        found = export.behind(
            uow=uow(), window=window_of(query), kpi=query["kpi"], purchase_days=query["purchase_days"],
            period=query.get("period"), slice_=query.get("slice"), limit=query["page_size"], offset=query["offset"],
        )  # fmt: skip
    except (ValidationError, InvalidInput) as problem:
        return render_template("dashboard/conversations.html", problem=_said(problem), found=None, kpi=None), 422
    kpi = kpis.BY_NAME[query["kpi"]]
    later = query["offset"] + query["page_size"]
    more = url_for("dashboard.conversations", **(filters | {"offset": later})) if later < found["total"] else None
    back = url_for("dashboard.overview", **{name: filters[name] for name in FILTERS if name in filters})
    return render_template("dashboard/conversations.html", problem=None, found=found, kpi=kpi, more=more, back=back)


@blp.route("/faq-gaps", methods=["GET"])
def faq_gaps():  # type: ignore[no-untyped-def]
    """The questions the bot could not answer in the window, grouped, most asked first."""
    if not _may_look():
        return sign_in_page()
    filters = {name: request.args[name] for name in ("from", "to") if request.args.get(name)}
    back = url_for("dashboard.overview", **filters)
    try:
        found = upkeep.report(upkeep.GapsIn().load(filters))
    except (ValidationError, InvalidInput) as problem:
        return render_template("dashboard/gaps.html", problem=_said(problem), found=None, back=back), 422
    return render_template("dashboard/gaps.html", problem=None, found=found, back=back)


def _jobs() -> list[dict[str, str]]:
    """The scheduled jobs as people read them; a failed run's error only for admins."""
    holder = signed_in()
    admin = holder is not None and holder.role is Role.ADMIN
    return [in_words(job, now=datetime.now(UTC), errors=admin) for job in upkeep.standing()]


def _may_look() -> bool:
    holder = signed_in()
    return holder is not None and holder.role in DASHBOARD_ROLES


def _filters() -> dict[str, str]:
    return {name: request.args[name] for name in FILTERS if request.args.get(name)}


def _query(filters: dict[str, Any], drop: tuple[str, ...] = ()) -> str:
    return urlencode({name: value for name, value in filters.items() if name not in drop})


def _said(problem: Exception) -> str:
    if isinstance(problem, ValidationError):
        return "; ".join(f"{field}: {' '.join(map(str, why))}" for field, why in problem.normalized_messages().items())
    return str(problem)


def _grouped(report: dict[str, Any], filters: dict[str, str]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The figures by group, each with its value as people read it and a link to the conversations behind it."""
    groups: dict[str, list[dict[str, Any]]] = {group: [] for group in GROUPS}
    for figure in report["kpis"]:
        drill = kpis.BY_NAME[figure["name"]].drill
        link = url_for("dashboard.conversations", **filters, kpi=figure["name"]) if drill else None
        parts = [
            part | {"link": url_for("dashboard.conversations", **filters, kpi=figure["name"], slice=part["slice"])
                    if drill else None}
            for part in figure["slices"] or []
        ]  # fmt: skip
        shown_as = {"shown": shown(figure["value"], figure["unit"]), "link": link, "slices": parts}
        groups[figure["group"]].append(figure | shown_as)
    return [(group, figures) for group, figures in groups.items() if figures]


def _charts(report: dict[str, Any]) -> dict[str, Any]:
    """What the page's script draws: the main KPIs per period, and their slices when the report is cut by one."""
    figures = {figure["name"]: figure for figure in report["kpis"]}
    return {
        "periods": report["periods"],
        "by": report["by"],
        "series": [
            {"name": name, "title": figures[name]["title"], "unit": figures[name]["unit"],
             "values": [point["value"] for point in figures[name]["series"]],
             "slices": figures[name]["slices"]}
            for name in CHARTED if name in figures
        ],
    }  # fmt: skip
