"""The rep side (rep keys): presence, the inbox and its live stream, and taking over conversations."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Response, g, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.access import requires
from api.wiring import salesbot, uow
from salesbot import metrics
from salesbot.access.roles import Role
from salesbot.conversation import lines
from salesbot.errors import PermissionDenied
from salesbot.inbox import handoffs, packets, reps, streams

blp = Blueprint("inbox", __name__, url_prefix="/v1", description="Reps: the queue, presence and live conversations")

STREAM_SECONDS = 300  # a stream ends after this long; browsers reconnect with Last-Event-ID and miss nothing


class PresenceIn(Schema):
    status = fields.Str(required=True, validate=validate.OneOf(["online", "away"]))


class PresenceOut(Schema):
    rep_id = fields.Str(required=True)
    presence = fields.Str(required=True)


class InboxOut(Schema):
    rep = fields.Dict(required=True)
    queue = fields.List(fields.Dict(), required=True, metadata={"description": "Waiting, oldest first"})
    mine = fields.List(fields.Dict(), required=True, metadata={"description": "Offered to me or live with me"})


class ReplyIn(Schema):
    text = fields.Str(required=True, validate=validate.Length(min=1, max=4000))


class RepLineOut(Schema):
    seq = fields.Int(required=True)
    author = fields.Str(required=True)
    text = fields.Str(required=True)
    at = fields.Str(allow_none=True)
    items = fields.List(fields.Dict())
    offer = fields.Dict(allow_none=True)
    quick_replies = fields.List(fields.Str())
    rep = fields.Dict(allow_none=True)


class TransferIn(Schema):
    rep_id = fields.Str(validate=validate.Length(min=1, max=32))
    team = fields.Str(validate=validate.Length(min=1, max=100))


class HandoffOut(Schema):
    conversation_id = fields.Str(required=True, attribute="id")
    state = fields.Str(required=True, attribute="handoff_state")
    status = fields.Str(required=True)
    rep_id = fields.Str(allow_none=True)


def me():  # type: ignore[no-untyped-def]
    """The rep the calling key belongs to."""
    rep = reps.for_key(uow=uow(), key_id=g.key_holder.key_id)
    if rep is None:
        raise PermissionDenied(
            f"a {g.key_holder.role.value} key belongs to no rep, and this is a rep's action: use the key "
            "`salesbot reps create` printed for them"
        )
    reps.heard_from(uow=uow(), rep_id=rep.id, now=_now())
    return rep


def me_or_supervisor():  # type: ignore[no-untyped-def]
    """The calling rep, or None for an admin key acting as a supervisor (release, transfer, resolve anyone's)."""
    if g.key_holder.role is Role.ADMIN and reps.for_key(uow=uow(), key_id=g.key_holder.key_id) is None:
        return None
    return me()


def _now() -> datetime:
    return datetime.now(UTC)


def _changed(conversation_id: str) -> None:
    services = salesbot()
    services.notices.notify(f"conversation:{conversation_id}")  # the visitor first; routing may take a moment
    handoffs.route_soon(uow=services.uow(), settings=services.settings, now=_now())
    services.notices.notify("inbox")


@blp.route("/inbox")
class Inbox(MethodView):
    @requires(Role.REP)
    @blp.response(200, InboxOut)
    def get(self):
        """The queue (oldest first, each with its hand-off packet) and my conversations"""
        rep = me()
        handoffs.route_soon(uow=uow(), settings=salesbot().settings, now=_now())
        return packets.inbox(uow=uow(), rep=rep, now=_now())


@blp.route("/inbox/presence")
class Presence(MethodView):
    @requires(Role.REP)
    @blp.arguments(PresenceIn)
    @blp.response(200, PresenceOut)
    def post(self, body):
        """Online or away; presence expires when the console goes quiet (SALESBOT_PRESENCE_SECONDS)"""
        rep = reps.set_presence(uow=uow(), rep_id=me().id, status=body["status"], now=_now())
        if rep.presence == "online":
            handoffs.route_soon(uow=uow(), settings=salesbot().settings, now=_now())
            salesbot().notices.notify("inbox")
        return {"rep_id": rep.id, "presence": rep.presence}


@blp.route("/inbox/stream")
class InboxStream(MethodView):
    @requires(Role.REP)
    @blp.response(200, description="text/event-stream: `inbox` events (the inbox as GET /v1/inbox answers it)")
    def get(self):
        """Server-Sent Events: the inbox each time it changes, and a heartbeat; reconnect freely"""
        rep = me()
        services = salesbot()
        last: dict[str, str] = {}

        def read_after(after: int) -> list[tuple[int, str, dict]]:
            reps.heard_from(uow=services.uow(), rep_id=rep.id, now=_now())  # an open console keeps presence
            now = packets.inbox(uow=services.uow(), rep=rep, now=_now())
            same = json.dumps(now, sort_keys=True, default=str)
            if last.get("inbox") == same:
                return []
            last["inbox"] = same
            return [(after + 1, "inbox", now)]

        return stream(services, read_after, channels=("inbox",), after=0)


@blp.route("/conversations/<conversation_id>/accept")
class Accept(MethodView):
    @requires(Role.REP)
    @blp.response(200, HandoffOut)
    def post(self, conversation_id):
        """Take the conversation (offered to me, or from the queue): the bot goes silent, I speak"""
        taken = handoffs.accept(uow=uow(), conversation_id=conversation_id, rep=me(), by=g.key_holder.key_id,
                                now=_now())  # fmt: skip
        _changed(conversation_id)
        return taken


@blp.route("/conversations/<conversation_id>/replies")
class Replies(MethodView):
    @requires(Role.REP)
    @blp.arguments(ReplyIn)
    @blp.response(201, RepLineOut)
    def post(self, body, conversation_id):
        """Say something to the visitor (only the rep the conversation is live with)"""
        line = handoffs.reply(uow=uow(), conversation_id=conversation_id, rep=me(), text=body["text"], now=_now())
        _changed(conversation_id)
        return lines.shown(line)


@blp.route("/conversations/<conversation_id>/transfer")
class Transfer(MethodView):
    @requires(Role.REP)
    @blp.arguments(TransferIn)
    @blp.response(200, HandoffOut)
    def post(self, body, conversation_id):
        """Hand it to another rep (`rep_id`: online, with room) or back to the queue for a team (`team`); an admin
        key may do it for any conversation with a person"""
        moved = handoffs.transfer(uow=uow(), conversation_id=conversation_id, rep=me_or_supervisor(),
                                  to_rep=body.get("rep_id"), team=body.get("team"), by=g.key_holder.key_id,
                                  now=_now(), settings=salesbot().settings)  # fmt: skip
        _changed(conversation_id)
        return moved


@blp.route("/conversations/<conversation_id>/release")
class Release(MethodView):
    @requires(Role.REP)
    @blp.response(200, HandoffOut)
    def post(self, conversation_id):
        """Give the conversation back to the bot (an admin key may, for any conversation with a person)"""
        back = handoffs.release(uow=uow(), conversation_id=conversation_id, rep=me_or_supervisor(),
                                by=g.key_holder.key_id, now=_now())  # fmt: skip
        _changed(conversation_id)
        return back


@blp.route("/conversations/<conversation_id>/resolve")
class Resolve(MethodView):
    @requires(Role.REP)
    @blp.response(200, HandoffOut)
    def post(self, conversation_id):
        """Done: the conversation closes (an admin key may, for any conversation with a person)"""
        done = handoffs.resolve(uow=uow(), conversation_id=conversation_id, rep=me_or_supervisor(),
                                by=g.key_holder.key_id, now=_now())  # fmt: skip
        _changed(conversation_id)
        return done


def stream(services, read_after, *, channels, after: int) -> Response:  # type: ignore[no-untyped-def]
    """A Server-Sent Events response following `read_after` (see `streams.follow`)."""
    frames = streams.follow(read_after=read_after, channels=channels, notices=services.notices, after=after,
                            max_seconds=STREAM_SECONDS, stop=services.stopping.is_set)  # fmt: skip
    frames = metrics.open_stream(frames, kind=channels[0].partition(":")[0])  # `conversation`, never its id
    response = Response(stream_with_context(frames), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # proxies must not hold the stream back
    return response


def last_seen() -> int:
    return streams.last_event_id(request.headers.get("Last-Event-ID"), request.args.get("after"))
