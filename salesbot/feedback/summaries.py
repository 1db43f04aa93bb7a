"""What the store's people see of feedback beside a transcript: each bot line's ups, downs, reasons for the downs,
corrections, and the reader's own feedback on it."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import MessageFeedback
from salesbot.database import UnitOfWork

NEWEST_FIRST = (MessageFeedback.updated_at.desc(), MessageFeedback.id.desc())


def noted(*, uow: UnitOfWork, conversation_id: str, lines: list[dict[str, Any]], reader: str) -> list[dict[str, Any]]:
    """`lines` (each with its `seq` and `author`) with a `feedback` summary on every bot line, as the key `reader`
    sees it (its own feedback under `mine`)."""
    bot = {line["seq"] for line in lines if line.get("author") == "bot" and line.get("seq") is not None}
    if not bot:
        return lines
    with uow:
        found = uow.session.scalars(
            select(MessageFeedback)
            .where(MessageFeedback.conversation_id == conversation_id, MessageFeedback.seq.in_(bot))
            .order_by(*NEWEST_FIRST)
        ).all()
    by_seq: dict[int, list[MessageFeedback]] = defaultdict(list)
    for row in found:
        by_seq[row.seq].append(row)
    return [line | {"feedback": summary(by_seq[line["seq"]], reader)} if line["seq"] in bot else line
            for line in lines]  # fmt: skip


def of_line(session: Session, conversation_id: str, seq: int, reader: str) -> dict[str, Any]:
    """One line's summary, read in the caller's transaction."""
    rows = session.scalars(
        select(MessageFeedback)
        .where(MessageFeedback.conversation_id == conversation_id, MessageFeedback.seq == seq)
        .order_by(*NEWEST_FIRST)
    ).all()
    return summary(list(rows), reader)


def summary(rows: list[MessageFeedback], reader: str) -> dict[str, Any]:
    """One line's feedback, newest first: counts, the reasons of the downs, the corrections, and the reader's own."""
    mine = next((row for row in rows if row.given_by == reader), None)
    return {
        "up": sum(row.rating == 1 for row in rows),
        "down": sum(row.rating == -1 for row in rows),
        "reasons": dict(Counter(row.reason for row in rows if row.rating == -1 and row.reason)),
        "corrections": [
            {"text": row.correction, "role": row.role, "rep_id": row.rep_id, "at": row.updated_at.isoformat()}
            for row in rows if row.correction
        ],
        "mine": None if mine is None else {
            "rating": rating_name(mine.rating), "reason": mine.reason, "comment": mine.comment,
            "correction": mine.correction,
        },
    }  # fmt: skip


def rating_name(rating: int | None) -> str | None:
    return {1: "up", -1: "down"}.get(rating) if rating is not None else None
