"""FAQ gaps: the visitors' questions the bot could not answer, read from the transcript and grouped by similarity,
each group with its count, masked examples and when it was first and last asked, so a marketer can add the answer.

A question went unanswered when the bot's next line cited no FAQ and showed no product while it answered a question
(intent `answer_faq`, or `offer` for anything but a question about deals) or handed the visitor to a person without
being asked to (it did not understand them). Questions about the catalog and requests for a person are not gaps.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import aliased

from models import Conversation, Message
from salesbot.conversation import intents, offering
from salesbot.conversation.embeddings import Embedder
from salesbot.conversation.faqs import Library
from salesbot.database import UnitOfWork
from salesbot.logs import mask
from salesbot.upkeep import grouping

READ_AT_MOST = 20_000  # the newest unanswered questions read from a window
GROUP_AT_MOST = 1_000  # distinct wordings grouped (the most asked): about 10 s with the local model
EXAMPLES = 3
UNANSWERED = "no FAQ matched"
NOT_UNDERSTOOD = "not understood"
INTENTS = ("answer_faq", "offer", "handoff")


@dataclass(frozen=True)
class Question:
    text: str  # the question itself, e-mails and phone numbers masked
    conversation_id: str
    asked_at: datetime
    reason: str  # UNANSWERED or NOT_UNDERSTOOD


def report(
    *, uow: UnitOfWork, start: datetime, end: datetime, embedder: Embedder | None,
    answers: Callable[[str], str | None] | None = None, limit: int = 50,
) -> dict[str, Any]:  # fmt: skip
    """The unanswered questions of conversations started in [start, end), grouped, most asked first; `answers(text)`
    names the FAQ that answers a group's question now, if any (one added since)."""
    asked = unanswered(uow=uow, start=start, end=end)
    wordings = Counter(_plain(question.text) for question in asked)
    kept = [wording for wording, _count in wordings.most_common(GROUP_AT_MOST)]
    found = grouping.group(kept, embedder=embedder) if kept else None
    every = _groups(asked, kept, found) if found is not None else []
    groups = every[:limit]
    for group in groups:
        group["answered_by"] = answers(group["question"]) if answers is not None else None
    return {
        "from": start, "to": end, "questions": len(asked), "distinct": len(wordings),
        "grouped": len(kept), "grouped_by": found.method if found else None, "group_count": len(every),
        "groups": groups,
    }  # fmt: skip


def unanswered(*, uow: UnitOfWork, start: datetime, end: datetime) -> list[Question]:
    """Visitors' questions the bot's next line left unanswered, newest first (at most READ_AT_MOST)."""
    visitor, bot = aliased(Message), aliased(Message)
    query = (
        select(visitor.conversation_id, visitor.text, visitor.created_at, bot.details)
        .join(Conversation, Conversation.id == visitor.conversation_id)
        .join(bot, (bot.conversation_id == visitor.conversation_id) & (bot.seq == visitor.seq + 1))
        .where(Conversation.created_at >= start, Conversation.created_at < end)
        .where(visitor.author == "visitor", bot.author == "bot", bot.details["intent"].as_string().in_(INTENTS))
        .order_by(visitor.created_at.desc()).limit(READ_AT_MOST)
    )  # fmt: skip
    with uow:
        rows = uow.session.execute(query).all()
    found = []
    for conversation_id, text, asked_at, details in rows:
        question, reason = _gap(text, details or {})
        if question:
            found.append(Question(mask(question)[:500], conversation_id, asked_at, reason))
    return found


def _gap(text: str, details: dict[str, Any]) -> tuple[str, str]:
    """The question a visitor's line asked that the bot's reply (its `details`) left open, and why; "" if none."""
    intent, asked = details.get("intent"), intents.questions(text)
    if details.get("faq_ids") or details.get("items") or intents.wants_person(text) or intents.asks_catalog(text):
        return "", ""
    if intent == "handoff":
        return asked, NOT_UNDERSTOOD
    if intent == "offer" and offering.HESITATES.search(text):
        return "", ""  # a question about deals, which the offer answered
    return asked or (text if intent == "answer_faq" else ""), UNANSWERED


def _plain(text: str) -> str:
    """One wording for what differs only in case, spacing or the question mark."""
    return re.sub(r"\s+", " ", text).strip().strip("?!.").strip().lower()


def answered_by(library: Library, *, min_match: float) -> Callable[[str], str | None]:
    """The FAQ the bot would cite for a question now, as `report` asks."""

    def answers(text: str) -> str | None:
        found = library.search(text, k=1, min_match=min_match)
        return found[0].faq_id if found else None

    return answers


def _groups(asked: list[Question], kept: list[str], found: grouping.Grouping) -> list[dict[str, Any]]:
    label_of = dict(zip(kept, found.labels.tolist(), strict=True))
    members: dict[int, list[Question]] = {}
    for question in asked:
        label = label_of.get(_plain(question.text))
        if label is not None:
            members.setdefault(label, []).append(question)
    groups = []
    for label, questions in members.items():
        central = kept[found.central(np.flatnonzero(found.labels == label))]
        wordings = Counter(_plain(q.text) for q in questions)
        shown = {_plain(q.text): q.text for q in sorted(questions, key=lambda q: q.asked_at)}  # the latest wording
        groups.append({
            "question": shown[central],
            "count": len(questions),
            "conversations": len({q.conversation_id for q in questions}),
            "examples": [shown[wording] for wording, _n in wordings.most_common(EXAMPLES)],
            "first_seen": min(q.asked_at for q in questions),
            "last_seen": max(q.asked_at for q in questions),
            "reasons": dict(Counter(q.reason for q in questions).most_common()),
        })  # fmt: skip
    groups.sort(key=lambda group: (-group["count"], -group["last_seen"].timestamp()))
    return groups
