"""Ratings of the bot's lines: one key's feedback on a line (a rating up or down, a reason, a comment, the reply the
bot should have given), given or changed, withdrawn, and a conversation's listed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Conversation, Message, MessageFeedback
from salesbot.conversation.guard import clean_message
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput, NotFound
from salesbot.feedback import standing, summaries
from salesbot.feedback.standing import Giver
from salesbot.feedback.summaries import rating_name

RATINGS = {"up": 1, "down": -1}
REASONS = ("wrong_answer", "made_up", "off_topic", "wrong_product", "tone", "too_pushy", "missed_handoff", "other")
LONGEST = {"comment": 2000, "correction": 4000}  # a correction is a reply, as long as a rep's reply may be
LAST_SEQ = 2**31 - 1  # the column's largest number: a larger one names no line
AUTHORS = {"visitor": "the visitor's", "rep": "a rep's", "system": "a notice"}
KEEP: Any = object()  # a field not sent: it keeps its value


def give(
    *, uow: UnitOfWork, conversation_id: str, seq: int, who: Giver, rating: Any = KEEP, reason: Any = KEEP,
    comment: Any = KEEP, correction: Any = KEEP,
) -> dict[str, Any]:  # fmt: skip
    """The giver's feedback on the bot's line `seq`, created or changed (fields sent replace theirs, null clears one,
    fields not sent stay as they were), with the line's feedback summary as the giver now sees it."""
    sent = _cleaned(rating=rating, reason=reason, comment=comment, correction=correction)
    try:
        return _give(uow, conversation_id, seq, who, sent)
    except IntegrityError:  # the same key's first feedback on the line, sent twice at once: change the one stored
        return _give(uow, conversation_id, seq, who, sent)


def withdraw(*, uow: UnitOfWork, conversation_id: str, seq: int, who: Giver) -> None:
    """Remove the giver's feedback on the line (nothing to remove is fine: withdrawing twice changes nothing)."""
    with uow:
        _bot_line(uow.session, _conversation(uow.session, conversation_id), seq)
        uow.session.execute(delete(MessageFeedback).where(*_theirs(conversation_id, seq, who)))
        uow.commit()


def get_all(*, uow: UnitOfWork, conversation_id: str) -> list[dict[str, Any]]:
    """Every piece of feedback on the conversation's lines, by line, oldest first, with the line's text."""
    with uow:
        _conversation(uow.session, conversation_id)
        found = uow.session.execute(
            select(MessageFeedback, Message.text)
            .join(Message, (Message.conversation_id == MessageFeedback.conversation_id)
                  & (Message.seq == MessageFeedback.seq))
            .where(MessageFeedback.conversation_id == conversation_id)
            .order_by(MessageFeedback.seq, MessageFeedback.id)
        )  # fmt: skip
        return [shown(row, text) for row, text in found]


def shown(row: MessageFeedback, line: str) -> dict[str, Any]:
    return {
        "conversation_id": row.conversation_id, "seq": row.seq, "line": line, "rating": rating_name(row.rating),
        "reason": row.reason, "comment": row.comment, "correction": row.correction, "given_by": row.given_by,
        "rep_id": row.rep_id, "role": row.role, "created_at": row.created_at, "updated_at": row.updated_at,
    }  # fmt: skip


def _give(uow: UnitOfWork, conversation_id: str, seq: int, who: Giver, sent: dict[str, Any]) -> dict[str, Any]:
    with uow:
        session = uow.session
        conversation = _conversation(session, conversation_id)
        standing.check(session, conversation, who, correcting=sent.get("correction") is not None)
        line = _bot_line(session, conversation, seq)
        row = session.scalar(select(MessageFeedback).where(*_theirs(conversation_id, seq, who)))
        if row is None:
            row = MessageFeedback(conversation_id=conversation_id, seq=seq, given_by=who.key_id)
            session.add(row)
        row.rep_id, row.role = who.rep_id, who.role.value
        for name, value in sent.items():
            setattr(row, name, value)
        _settled(row, reason_sent="reason" in sent)
        uow.commit()
        return shown(row, line.text) | {"feedback": summaries.of_line(session, conversation_id, seq, who.key_id)}


def _cleaned(**fields: Any) -> dict[str, Any]:
    """The fields sent, checked: a known rating and reason, texts without control characters and within limits."""
    sent = {name: value for name, value in fields.items() if value is not KEEP}
    if sent.get("rating") is not None:
        if sent["rating"] not in RATINGS:
            raise InvalidInput.for_field("rating", "must be `up` or `down`")
        sent["rating"] = RATINGS[sent["rating"]]
    if sent.get("reason") is not None and sent["reason"] not in REASONS:
        raise InvalidInput.for_field("reason", f"must be one of {', '.join(REASONS)}")
    for name, longest in LONGEST.items():
        if sent.get(name) is not None:
            sent[name] = clean_message(sent[name], longest=longest, field=name)
    return sent


def _settled(row: MessageFeedback, *, reason_sent: bool) -> None:
    """A reason says what was wrong, so it goes with a down rating only (an old one goes when the rating changes);
    feedback says something: a rating, or a correction."""
    if row.reason is not None and row.rating != RATINGS["down"]:
        if reason_sent:
            raise InvalidInput.for_field("reason", "give a reason only with a `down` rating")
        row.reason = None
    if row.rating is None and row.correction is None:
        raise InvalidInput.for_field("rating", "send a rating (`up` or `down`), or a correction")


def _conversation(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id!r}")
    return conversation


def _bot_line(session: Session, conversation: Conversation, seq: int) -> Message:
    line = None
    if 1 <= seq <= LAST_SEQ:
        line = session.scalar(select(Message).where(Message.conversation_id == conversation.id, Message.seq == seq))
    if line is None:
        raise NotFound(f"conversation {conversation.id} has no line {seq}")
    if line.author != "bot":
        raise InvalidInput.for_field(
            "seq", f"line {seq} is {AUTHORS.get(line.author, line.author)}; only the bot's lines can be rated"
        )
    return line


def _theirs(conversation_id: str, seq: int, who: Giver) -> tuple[Any, ...]:
    return (MessageFeedback.conversation_id == conversation_id, MessageFeedback.seq == seq,
            MessageFeedback.given_by == who.key_id)  # fmt: skip
