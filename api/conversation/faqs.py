"""/v1/faqs: the questions and answers the bot answers from."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.access import requires
from api.wiring import salesbot, uow
from salesbot.access.roles import Role
from salesbot.conversation import faqs

blp = Blueprint("faqs", __name__, url_prefix="/v1/faqs", description="Questions and answers the bot answers from")


class FaqIn(Schema):
    question = fields.Str(required=True, validate=validate.Length(min=1, max=1000))
    answer = fields.Str(required=True, validate=validate.Length(min=1, max=5000))
    tags = fields.List(fields.Str(validate=validate.Length(max=100)), load_default=list)


class FaqOut(FaqIn):
    id = fields.Str(required=True)
    updated_at = fields.DateTime(required=True)


@blp.route("")
class Faqs(MethodView):
    @requires(Role.MARKETER)
    @blp.response(200, FaqOut(many=True))
    def get(self):
        """Every FAQ"""
        return faqs.get_all(uow=uow())

    @requires(Role.MARKETER)
    @blp.arguments(FaqIn)
    @blp.response(201, FaqOut)
    def post(self, body):
        """Add a question and its answer"""
        return faqs.create(uow=uow(), library=salesbot().conversations.library, **body)


@blp.route("/<faq_id>")
class OneFaq(MethodView):
    @requires(Role.MARKETER)
    @blp.response(200, FaqOut)
    def get(self, faq_id):
        """One FAQ"""
        return faqs.get(uow=uow(), faq_id=faq_id)

    @requires(Role.MARKETER)
    @blp.arguments(FaqIn)
    @blp.response(200, FaqOut)
    def put(self, body, faq_id):
        """Replace a question and its answer"""
        return faqs.update(uow=uow(), faq_id=faq_id, library=salesbot().conversations.library, **body)

    @requires(Role.MARKETER)
    @blp.response(204)
    def delete(self, faq_id):
        """Delete an FAQ"""
        faqs.delete(uow=uow(), faq_id=faq_id, library=salesbot().conversations.library)
