"""Adding a line to a conversation's transcript: each gets the conversation's next sequence number, which streams
resume from (the caller holds the conversation's row, so two writers never take the same number)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Conversation, Message


def locked(session: Session, conversation_id: str) -> Conversation | None:
    """The conversation's row, held for this transaction. PostgreSQL locks the row; SQLite ignores FOR UPDATE, so a
    first write takes its database lock before the row is read (a read first would let two writers take the same
    sequence number, or fail one of them when it tries to write)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Conversation).where(Conversation.id == conversation_id)
            .values(last_seq=Conversation.last_seq).execution_options(synchronize_session=False)
        )  # fmt: skip
    return session.get(Conversation, conversation_id, with_for_update=True, populate_existing=True)


def append(session: Session, conversation: Conversation, *, author: str, text: str, **values: Any) -> Message:
    conversation.last_seq = (conversation.last_seq or 0) + 1
    line = Message(conversation_id=conversation.id, seq=conversation.last_seq, author=author, text=text, **values)
    session.add(line)
    return line


def after(session: Session, conversation_id: str, seq: int, *, limit: int = 200) -> list[Message]:
    """The lines after `seq`, oldest first."""
    found = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.seq > seq)
        .order_by(Message.seq)
        .limit(limit)
    )
    return list(session.scalars(found))


def shown(line: Message) -> dict[str, Any]:
    """A line as streams and the polling endpoint send it."""
    details = line.details or {}
    return {
        "seq": line.seq,
        "author": line.author,
        "text": line.text,
        "at": line.created_at.isoformat() if line.created_at else None,
        "items": details.get("items", []),
        "offer": details.get("offer"),
        "quick_replies": details.get("quick_replies", []),
        "rep": details.get("rep"),
        "event": details.get("event"),
    }
