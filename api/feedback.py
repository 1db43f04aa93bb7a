"""Feedback on the bot's lines (reps who held the conversation, marketers, admins): rate a line up or down with a
reason, write the reply the bot should have given, withdraw it, list a conversation's; and each bot line's summary
in the transcripts the store's own keys read (never a site key)."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.access import requires
from api.wiring import uow
from salesbot.access.roles import Role
from salesbot.feedback import ratings, standing, summaries

blp = Blueprint(
    "feedback", __name__, url_prefix="/v1/conversations", description="Ratings of the bot's lines, and corrections"
)


class RatingIn(Schema):
    """Fields sent replace the key's own; fields left out keep their value; null clears one."""

    rating = fields.Str(allow_none=True, validate=validate.OneOf(list(ratings.RATINGS)),
                        metadata={"description": "up or down; needed unless a correction is sent"})  # fmt: skip
    reason = fields.Str(allow_none=True, validate=validate.OneOf(ratings.REASONS),
                        metadata={"description": "What was wrong, with a `down` rating only"})  # fmt: skip
    comment = fields.Str(allow_none=True, validate=validate.Length(min=1, max=ratings.LONGEST["comment"]))
    correction = fields.Str(
        allow_none=True, validate=validate.Length(min=1, max=ratings.LONGEST["correction"]),
        metadata={"description": "The reply the bot should have given: a rep who took the conversation over, or an "
                  "admin"},
    )  # fmt: skip


class CorrectionOut(Schema):
    text = fields.Str(required=True)
    role = fields.Str(required=True)
    rep_id = fields.Str(allow_none=True)
    at = fields.Str(required=True)


class MineOut(Schema):
    rating = fields.Str(allow_none=True)
    reason = fields.Str(allow_none=True)
    comment = fields.Str(allow_none=True)
    correction = fields.Str(allow_none=True)


class SummaryOut(Schema):
    """A bot line's feedback, for the store's own keys (never a site key's)."""

    up = fields.Int(required=True)
    down = fields.Int(required=True)
    reasons = fields.Dict(keys=fields.Str(), values=fields.Int(), required=True,
                          metadata={"description": "The reasons of the down ratings, counted"})  # fmt: skip
    corrections = fields.List(fields.Nested(CorrectionOut), required=True, metadata={"description": "Newest first"})
    mine = fields.Nested(MineOut, allow_none=True, metadata={"description": "The calling key's own feedback"})


class RatingOut(Schema):
    conversation_id = fields.Str(required=True)
    seq = fields.Int(required=True, metadata={"description": "The bot line rated"})
    line = fields.Str(required=True, metadata={"description": "What the bot said there"})
    rating = fields.Str(allow_none=True, metadata={"description": "up, down, or null (a correction alone)"})
    reason = fields.Str(allow_none=True)
    comment = fields.Str(allow_none=True)
    correction = fields.Str(allow_none=True)
    given_by = fields.Str(required=True, metadata={"description": "The API key's id"})
    rep_id = fields.Str(allow_none=True, metadata={"description": "The rep, when a rep's key gave it"})
    role = fields.Str(required=True, metadata={"description": "rep, marketer or admin"})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class GivenOut(RatingOut):
    feedback = fields.Nested(SummaryOut, required=True, metadata={"description": "The line's feedback now"})


def summary_field() -> fields.Nested:
    return fields.Nested(SummaryOut, metadata={"description": "Bot lines, for the store's own keys: their feedback"})


def with_feedback(conversation_id: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines with each bot line's feedback summary, for the store's own keys; a site key's lines as they are."""
    holder = g.key_holder
    if holder.role is Role.SITE:
        return lines
    return summaries.noted(uow=uow(), conversation_id=conversation_id, lines=lines, reader=holder.key_id)


def _giver() -> standing.Giver:
    return standing.giver(uow=uow(), key_id=g.key_holder.key_id, role=g.key_holder.role)


@blp.route("/<conversation_id>/messages/<int:seq>/rating")
class Rating(MethodView):
    @requires(Role.REP, Role.MARKETER)
    @blp.arguments(RatingIn)
    @blp.response(200, GivenOut)
    def post(self, body, conversation_id, seq):
        """Rate the bot's line `seq` up or down (with a reason), and/or write the reply it should have given; one
        per key and line: posting again changes it. Reps rate conversations they held; marketers and admins any"""
        return ratings.give(uow=uow(), conversation_id=conversation_id, seq=seq, who=_giver(), **body)

    @requires(Role.REP, Role.MARKETER)
    @blp.response(204)
    def delete(self, conversation_id, seq):
        """Withdraw my feedback on the line (withdrawing twice changes nothing)"""
        ratings.withdraw(uow=uow(), conversation_id=conversation_id, seq=seq, who=_giver())


@blp.route("/<conversation_id>/ratings")
class Ratings(MethodView):
    @requires(Role.REP, Role.MARKETER)
    @blp.response(200, RatingOut(many=True))
    def get(self, conversation_id):
        """Every rating and correction of the conversation's bot lines, by line"""
        return ratings.get_all(uow=uow(), conversation_id=conversation_id)
