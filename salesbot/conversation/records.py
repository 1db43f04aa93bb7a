"""A conversation's record beyond its turns: the transcript, its lines after a sequence number (for streams and
polling), the visitor's rating, and closing it. Mixed into `turns.Conversations`, whose unit of work, settings and
schemas it uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from models import Conversation, Lead, Message
from models.base import utcnow
from salesbot.config import Settings
from salesbot.conversation import answers, lines, offering
from salesbot.database import UnitOfWork
from salesbot.errors import NotFound
from salesbot.inbox import handoffs
from salesbot.inbox.notices import Notices
from salesbot.leads import crm
from salesbot.leads.qualification import Schema
from salesbot.offers import exposures


class Records:
    settings: Settings
    _uow: Callable[[], UnitOfWork]
    _schema: Callable[[int], Schema]
    _notices: Notices | None

    def transcript(self, conversation_id: str) -> dict[str, Any]:
        with self._uow() as uow:
            conversation = uow.session.get(Conversation, conversation_id)
            if conversation is None:
                raise NotFound(f"no conversation {conversation_id!r}")
            lead = uow.session.scalar(select(Lead).where(Lead.conversation_id == conversation_id))
            lines = uow.session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            ).all()
            schema = self._schema(conversation.schema_version)
            return {
                "conversation_id": conversation.id,
                "status": conversation.status,
                "handoff_reason": conversation.handoff_reason,
                "customer_id": conversation.customer_id,
                "visitor_id": conversation.visitor_id,
                "channel": conversation.channel,
                "schema_version": conversation.schema_version,
                "csat": conversation.csat,
                "created_at": conversation.created_at,
                "messages": [
                    {"seq": m.seq, "author": m.author, "text": m.text, "at": m.created_at, **answers.shown(m.details)}
                    for m in lines
                ],
                "lead": answers.lead_of(lead, schema),
            }

    def lines_after(self, conversation_id: str, after: int, *, limit: int = 200) -> list[dict[str, Any]]:
        """The transcript's lines after the seq `after`, as streams send them."""
        with self._uow() as uow:
            if uow.session.get(Conversation, conversation_id) is None:
                raise NotFound(f"no conversation {conversation_id!r}")
            return [lines.shown(line) for line in lines.after(uow.session, conversation_id, after, limit=limit)]

    def rate(self, conversation_id: str, *, score: int, comment: str | None) -> dict[str, Any]:
        with self._uow() as uow:
            conversation = self._get_for_update(uow, conversation_id)
            conversation.csat, conversation.csat_comment, conversation.updated_at = score, comment, utcnow()
            exposures.rated(uow.session, unit=offering.unit_of(conversation), csat=score)
            uow.commit()
        return self.transcript(conversation_id)

    def close(self, conversation_id: str) -> dict[str, Any]:
        """End the conversation; its streams hear it (a line saying so), so every open window of it asks for a
        rating and stops listening."""
        with self._uow() as uow:
            conversation = self._get_for_update(uow, conversation_id)
            ended = conversation.status != "closed"
            if ended:
                handoffs.closed(uow.session, conversation, now=utcnow())
                conversation.status, conversation.closed_at = "closed", utcnow()
                conversation.updated_at = conversation.closed_at
                lines.append(uow.session, conversation, author="system", text="The conversation has ended.",
                             details={"event": "closed"})  # fmt: skip
                lead = uow.session.scalar(select(Lead).where(Lead.conversation_id == conversation_id))
                crm.closed(uow.session, conversation, lead, link=self.settings.public_url)
            uow.commit()
        if ended and self._notices is not None:
            self._notices.notify(f"conversation:{conversation_id}")
            self._notices.notify("inbox")
        return self.transcript(conversation_id)

    @staticmethod
    def _get_for_update(uow: UnitOfWork, conversation_id: str) -> Conversation:
        conversation = lines.locked(uow.session, conversation_id)
        if conversation is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        return conversation
