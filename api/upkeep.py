"""/v1/jobs (admin): the worker's scheduled jobs with their last run and outcome; /v1/faqs/gaps (marketer): the
visitors' questions the bot could not answer, grouped by similarity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.access import requires
from api.wiring import salesbot, uow
from salesbot.access.roles import Role
from salesbot.analytics.window import Window
from salesbot.upkeep import gaps, running

jobs = Blueprint("jobs", __name__, url_prefix="/v1/jobs", description="The worker's scheduled jobs and their runs")
faq_gaps = Blueprint("faq_gaps", __name__, url_prefix="/v1/faqs/gaps",
                     description="Questions the bot could not answer, grouped")  # fmt: skip


class RunOut(Schema):
    id = fields.Int(required=True)
    started_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(allow_none=True)
    outcome = fields.Str(required=True, metadata={"description": "running, ok, failed or skipped"})
    summary = fields.Str(allow_none=True, metadata={"description": "What it did, in a line"})
    details = fields.Dict(metadata={"description": "The same, for programs"})
    error = fields.Str(allow_none=True)
    worker = fields.Str(required=True, metadata={"description": "The host and process that ran it"})


class JobOut(Schema):
    name = fields.Str(required=True)
    description = fields.Str(required=True)
    every_seconds = fields.Float(allow_none=True, metadata={"description": "null: runs only when asked (see `off`)"})
    off = fields.Str(allow_none=True, metadata={"description": "Why it does not run on its own"})
    running = fields.Bool(required=True)
    last_run = fields.Nested(RunOut, allow_none=True)
    last_ok = fields.Nested(RunOut, allow_none=True, metadata={"description": "The newest run that did its work"})
    next_due_at = fields.DateTime(allow_none=True)


class GapsIn(Schema):
    from_ = fields.AwareDateTime(
        data_key="from", attribute="start", load_default=None, default_timezone=UTC,
        metadata={"description": "Conversations started from (ISO 8601, UTC when no zone is given); default 30 days "
                  "before `to`"},
    )  # fmt: skip
    to = fields.AwareDateTime(
        attribute="end", load_default=None, default_timezone=UTC, metadata={"description": "End, excluded; default now"}
    )
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=500), metadata={"description": "Groups"})


class GapOut(Schema):
    question = fields.Str(required=True, metadata={"description": "The group's most typical wording"})
    count = fields.Int(required=True, metadata={"description": "Times asked"})
    conversations = fields.Int(required=True)
    examples = fields.List(fields.Str(), required=True, metadata={"description": "Wordings, e-mails and phones masked"})
    first_seen = fields.DateTime(required=True)
    last_seen = fields.DateTime(required=True)
    reasons = fields.Dict(keys=fields.Str(), values=fields.Int(), required=True,
                          metadata={"description": "Times by why: no FAQ matched, or not understood"})  # fmt: skip
    answered_by = fields.Str(allow_none=True, metadata={"description": "The FAQ that answers it now, if one does"})


class GapsOut(Schema):
    from_ = fields.DateTime(data_key="from", attribute="from", required=True)
    to = fields.DateTime(required=True)
    questions = fields.Int(required=True, metadata={"description": "Unanswered questions in the window"})
    distinct = fields.Int(required=True, metadata={"description": "Their distinct wordings"})
    grouped = fields.Int(required=True, metadata={"description": "Wordings grouped (the most asked 1,000)"})
    grouped_by = fields.Str(allow_none=True, metadata={"description": "The embedding model, or TF-IDF words"})
    group_count = fields.Int(required=True)
    groups = fields.List(fields.Nested(GapOut), required=True)


@jobs.route("")
class Jobs(MethodView):
    @requires(Role.ADMIN)
    @jobs.response(200, JobOut(many=True))
    def get(self):
        """Every scheduled job: its period, whether it runs now, its last run and outcome, and when it runs next"""
        return standing()


@faq_gaps.route("")
class Gaps(MethodView):
    @requires(Role.MARKETER)
    @faq_gaps.arguments(GapsIn, location="query")
    @faq_gaps.response(200, GapsOut)
    def get(self, query):
        """Visitors' questions the bot could not answer in conversations of the window, grouped, most asked first"""
        return report(query)


def standing() -> list[dict[str, Any]]:
    return running.standing(uow=uow(), settings=salesbot().settings, now=datetime.now(UTC))


def report(query: dict[str, Any]) -> dict[str, Any]:
    """FAQ gaps of the window `query` names (`start`, `end`, `limit`), with the FAQ that answers each now."""
    window = Window.of(start=query.get("start"), end=query.get("end"))
    app = salesbot()
    answers = gaps.answered_by(app.conversations.library, min_match=app.settings.faq_min_match)
    return gaps.report(uow=uow(), start=window.start, end=window.end, embedder=app.embedder, answers=answers,
                       limit=query.get("limit", 50))  # fmt: skip
