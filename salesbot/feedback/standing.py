"""Who may rate a conversation's bot lines and who may write the reply the bot should have given.

Marketers and admins may rate any conversation's lines; a rep only those of a conversation they hold or held (it is
offered to them or live with them, they were handed it, or they wrote in it). The reply the bot should have given
comes from a rep who took the conversation over (accepted it or wrote in it), or from an admin.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from models import Conversation, HandoffChange, Message
from salesbot.access.roles import Role
from salesbot.database import UnitOfWork
from salesbot.errors import PermissionDenied
from salesbot.inbox import reps

RATERS = (Role.REP, Role.MARKETER, Role.ADMIN)
HANDED = ("assigned", "live")  # the hand-off states that put a conversation in a rep's hands


@dataclass(frozen=True)
class Giver:
    """Who gives feedback: their key, its role, and the rep a rep's key belongs to."""

    key_id: str
    role: Role
    rep_id: str | None = None


def giver(*, uow: UnitOfWork, key_id: str, role: Role) -> Giver:
    """The caller as a giver of feedback; a rep key must belong to a rep, and browsers' and back ends' keys give
    none."""
    if role not in RATERS:
        raise PermissionDenied(f"a {role.value} key may not rate the bot's lines")
    if role is not Role.REP:
        return Giver(key_id=key_id, role=role)
    rep = reps.for_key(uow=uow, key_id=key_id)
    if rep is None:
        raise PermissionDenied("a rep key belongs to no rep; use the key `salesbot reps create` printed for them")
    return Giver(key_id=key_id, role=role, rep_id=rep.id)


def check(session: Session, conversation: Conversation, who: Giver, *, correcting: bool) -> None:
    """Refuse (403) a rep who never held the conversation, and a correction from anyone but a rep who took it over
    or an admin."""
    if who.role is Role.REP and not _held(session, conversation, who.rep_id):
        raise PermissionDenied(
            f"you never held conversation {conversation.id}: a rep rates the lines of conversations they took part in"
        )
    if not correcting or who.role is Role.ADMIN:
        return
    if who.role is not Role.REP or not _took_over(session, conversation.id, who.rep_id):
        raise PermissionDenied(
            "correction: only a rep who took this conversation over, or an admin, may write the reply the bot "
            "should have given"
        )


def _held(session: Session, conversation: Conversation, rep_id: str | None) -> bool:
    if rep_id is None:
        return False
    if conversation.rep_id == rep_id:
        return True
    handed = exists().where(
        HandoffChange.conversation_id == conversation.id, HandoffChange.rep_id == rep_id,
        HandoffChange.to_state.in_(HANDED),
    )  # fmt: skip
    return bool(session.scalar(select(or_(handed, _wrote(conversation.id, rep_id)))))


def _took_over(session: Session, conversation_id: str, rep_id: str | None) -> bool:
    accepted = exists().where(
        HandoffChange.conversation_id == conversation_id, HandoffChange.rep_id == rep_id,
        HandoffChange.to_state == "live",
    )  # fmt: skip
    return bool(session.scalar(select(or_(accepted, _wrote(conversation_id, rep_id)))))


def _wrote(conversation_id: str, rep_id: str | None):  # type: ignore[no-untyped-def]
    return exists().where(Message.conversation_id == conversation_id, Message.author == "rep",
                          Message.rep_id == rep_id)  # fmt: skip
