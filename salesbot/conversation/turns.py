"""Conversations and their turns (see "The conversation turn" in DESIGN.md).

A turn: guard the message, gather the context (lead, last turns, FAQ passages, products that fit what the
visitor said), ask the brain, check its decision, update and score the lead, store both lines, answer.
The brain is called outside any transaction: an LLM answering slowly never holds a database lock.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from models import Conversation, Lead, Message
from models.base import utcnow
from salesbot import metrics
from salesbot.config import Settings
from salesbot.conversation import answers, guard, intents, lines, locales, money, offering, products, settling
from salesbot.conversation.brains import Brain, Context, Decision, Product, Turn
from salesbot.conversation.faqs import Library, Passage
from salesbot.conversation.llm import INSTRUCTIONS
from salesbot.conversation.records import Records
from salesbot.conversation.rules import RulesBrain
from salesbot.database import UnitOfWork
from salesbot.errors import Conflict, InvalidInput, NotFound
from salesbot.inbox import handoffs
from salesbot.inbox.notices import Notices
from salesbot.leads import crm, progress, qualification
from salesbot.leads.qualification import Schema
from salesbot.offers import exposures
from salesbot.offers.decisions import Desk
from salesbot.recommender.serving import Filters, Recommender

log = logging.getLogger("salesbot.conversation")
HISTORY = 6
GREETING = "Hi! I'm the store's assistant. I can answer questions and find products that fit."
HANDOFF_ASKED = "Of course. I'm bringing in a colleague now; they will see everything we talked about."
HANDOFF_LOST = "I'm sorry I keep missing what you mean. I'm bringing in a colleague who can help."
HANDOFF_HOT = "A colleague will get in touch with you shortly."
ASKED = "the visitor asked for a person"
NOBODY_THERE = (
    "Our team isn't available right now. Leave your e-mail or phone number and a short message, and a colleague "
    "will get back to you."
)
STORE_ITEMS = 3  # popular items named when the visitor asks what the store sells


@dataclass
class Turning:
    """What one turn works out between reading and writing."""

    conversation_id: str
    context: Context
    decision: Decision
    brain: str
    problems: tuple[str, ...]
    handoff: str | None
    offering: offering.Offering | None = None


class Conversations(Records):
    """Starts conversations and runs their turns with the configured brain, falling back to rules."""

    def __init__(
        self,
        *,
        settings: Settings,
        uow: Callable[[], UnitOfWork],
        recommender: Recommender,
        library: Library,
        aisles: products.Aisles,
        llm: Brain | None,
        desk: Desk | None = None,
        notices: Notices | None = None,
    ) -> None:
        self.settings, self._uow, self._recommender, self.library = settings, uow, recommender, library
        self._aisles, self._desk, self._notices = aisles, desk, notices
        self._rules, self._llm = RulesBrain(), llm
        self._schemas: dict[int, Schema] = {}

    def start(self, *, customer_id: str | None, visitor_id: str | None, channel: str, page: dict) -> dict[str, Any]:
        if not (customer_id or visitor_id):
            raise InvalidInput.for_field("visitor_id", "send a visitor_id, or a customer_id for a signed-in customer")
        schema = qualification.current(uow=self._uow())
        first = schema.next_question({})
        token = secrets.token_urlsafe(32)  # the visitor's browser holds it; we keep only its hash
        conversation = Conversation(
            id="cv_" + secrets.token_urlsafe(18),
            token_hash=_token_hash(token),
            customer_id=customer_id,
            visitor_id=visitor_id,
            channel=channel,
            page=page,
            schema_version=schema.version,
            status="open",
            asked=first.name if first else None,
            misunderstood=0,
            tokens_used=0,
        )
        lead = Lead(id="ld_" + secrets.token_hex(8), conversation_id=conversation.id, customer_id=customer_id,
                    status="new", score=0.0, score_breakdown={}, fields={})  # fmt: skip
        greeting = f"{GREETING} {first.question}" if first else GREETING
        replies = self._aisles.shelves()[:4] if first and first.type == "need" else ()
        details = {"asks": conversation.asked, "quick_replies": list(replies), "items": [], "intent": "ask"}
        with self._uow() as uow:
            uow.session.add_all([conversation, lead])
            uow.session.flush()
            lines.append(uow.session, conversation, author="bot", text=greeting, details=details)
            uow.commit()
            return answers.turn_of(conversation, lead, schema, greeting, details) | {"conversation_token": token}

    def admit(self, conversation_id: str, *, token: str) -> None:
        """Nothing when `token` is the conversation's; else `NotFound`, as for a conversation that does not
        exist, so that a stolen id alone tells nobody whether it is real."""
        with self._uow() as uow:
            stored = uow.session.scalar(select(Conversation.token_hash).where(Conversation.id == conversation_id))
        if stored is None or not hmac.compare_digest(stored.encode(), _token_hash(token).encode()):
            raise NotFound(f"no conversation {conversation_id!r} goes with this conversation token")

    def say(self, conversation_id: str, text: Any) -> dict[str, Any]:
        """One turn: the visitor's message in, the bot's reply and the lead as it now stands out."""
        started = time.perf_counter()
        text = guard.clean_message(text, longest=self.settings.message_max_chars)
        with self._uow() as uow:
            state = uow.session.scalar(select(Conversation.handoff_state).where(Conversation.id == conversation_id))
        if state in handoffs.WITH_A_PERSON:
            return self._to_person(conversation_id, text)
        turning = self._think(conversation_id, text)
        metrics.turn_answered(turning.brain)
        answer = self._write(turning, text, latency_ms=(time.perf_counter() - started) * 1000)
        self._tell(conversation_id, handed_off=answer.get("queue") is not None)  # queued for a person just now
        return answer

    def _to_person(self, conversation_id: str, text: str) -> dict[str, Any]:
        """While a person has the conversation the bot is silent: the visitor's line is stored and pushed to the
        rep, and the answer says where things stand (`reply: null`)."""
        with self._uow() as uow:
            conversation = lines.locked(uow.session, conversation_id)
            if conversation.status == "closed":
                raise Conflict(f"conversation {conversation.id} is closed; start a new one")
            answer = self._silent_line(uow, conversation, text)
        self._tell(conversation_id, handed_off=False)
        return answer

    def _brief(self, conversation_id: str) -> None:
        """The LLM's three-line briefing for the rep, stored on the conversation; the extract stays when it fails."""
        with self._uow() as uow:
            said = [(m.author, m.text) for m in lines.after(uow.session, conversation_id, 0, limit=60)]
        try:
            briefing = self._llm.summarise(said)  # type: ignore[union-attr]
        except Exception as failure:  # BrainFailed, or anything odd: the rep still has the extractive summary
            log.warning("conversation %s: no LLM briefing (%s)", conversation_id, failure)
            return
        with self._uow() as uow:
            uow.session.execute(update(Conversation).where(Conversation.id == conversation_id)
                                .values(handoff_summary=briefing))  # fmt: skip
            uow.commit()
        if self._notices is not None:
            self._notices.notify("inbox")

    def _silent_line(self, uow: UnitOfWork, conversation: Conversation, text: str) -> dict[str, Any]:
        """Store the visitor's line only (a person has the conversation) and commit; the answer has no reply."""
        lines.append(uow.session, conversation, author="visitor", text=text, details={})
        conversation.updated_at = utcnow()
        lead = uow.session.scalar(select(Lead).where(Lead.conversation_id == conversation.id))
        uow.commit()
        return answers.silent(conversation, lead, self._schema(conversation.schema_version),
                              place=handoffs.place(uow.session, conversation, now=utcnow()))  # fmt: skip

    def _tell(self, conversation_id: str, *, handed_off: bool) -> None:
        """Wake the streams of this conversation and the reps' inbox; after a hand-off to a person, offer it to a
        rep now and have the LLM (where one is configured) brief them."""
        if handed_off:
            handoffs.route_soon(uow=self._uow(), settings=self.settings, now=utcnow())
            if self._llm is not None:  # the rep's briefing; the visitor's answer does not wait for it
                threading.Thread(target=self._brief, args=(conversation_id,), name="briefing", daemon=True).start()
        if self._notices is not None:
            self._notices.notify(f"conversation:{conversation_id}")
            self._notices.notify("inbox")

    # -- reading and deciding ---------------------------------------------------------------------------------

    def _think(self, conversation_id: str, text: str) -> Turning:
        conversation, lead, history = self._read(conversation_id)
        schema = self._schema(conversation.schema_version)
        context = self._context(conversation, lead, history, schema, text)
        offered = self._offering(conversation, lead, context)
        context = replace(context, offer=offered.card if offered else None)
        if guard.wants_human(text):
            decision = settling.settle(context, self._rules_decision(context))  # facts said with it still count
            decision = replace(decision, reply=HANDOFF_ASKED, intent="handoff", asks=None)
            return Turning(conversation_id, context, decision, "rules", (), ASKED)
        decision, brain, problems = self._decide(context, conversation)
        decision = settling.settle(context, decision)
        misunderstood = 0 if decision.understood else conversation.misunderstood + 1
        handoff = None
        if decision.wants_human:
            handoff = ASKED
        elif misunderstood >= 2:
            handoff = "the bot did not understand twice in a row"
            decision = replace(decision, reply=HANDOFF_LOST, intent="handoff", asks=None)
        return Turning(
            conversation_id, replace(context, misunderstood=misunderstood), decision, brain, problems, handoff, offered
        )

    def _read(self, conversation_id: str) -> tuple[Conversation, Lead, list[Message]]:
        with self._uow() as uow:
            conversation = uow.session.get(Conversation, conversation_id)
            if conversation is None:
                raise NotFound(f"no conversation {conversation_id!r}")
            if conversation.status == "closed":
                raise Conflict(f"conversation {conversation_id} is closed; start a new one")
            lead = uow.session.scalar(select(Lead).where(Lead.conversation_id == conversation_id))
            history = uow.session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id.desc())
                .limit(HISTORY)
            ).all()  # fmt: skip
            return conversation, lead, list(reversed(history))

    def _context(
        self, conversation: Conversation, lead: Lead, history: list[Message], schema: Schema, text: str
    ) -> Context:
        settings, known = self.settings, qualification.known(lead.fields)
        context = Context(
            message=text,
            schema=schema,
            known=known,
            asked=conversation.asked,
            history=tuple(Turn(m.author, m.text) for m in history),
            faqs=self._faqs(text),
            products=(),
            categories=self._aisles.shelves(),
            offer=None,  # the offer engine comes with the offers issue; until then the bot offers nothing
            today=datetime.now(UTC).date(),
            currency=settings.default_currency,
            region=self._region(conversation, known, history, text),
            misunderstood=conversation.misunderstood,
            declined=tuple(qualification.declined(lead.fields)),
            last_learnt=answers.last_learnt(history),
            store=self._store(text),
        )
        # Products fit what the visitor has said, this message included (the typed extractors are cheap).
        learnt = self._rules.read(context)
        fit = self._products(conversation, known | learnt, learnt, history)
        prompt, model = offering.variant(self._desk, conversation) if self._llm is not None else (None, None)
        shown, store = self._with_pages(fit.products), self._with_pages(context.store)
        return replace(context, products=shown, store=store, unfit=fit.nothing, prompt=prompt, llm_model=model)

    def _with_pages(self, chosen: tuple[Product, ...]) -> tuple[Product, ...]:
        if not chosen:
            return chosen
        with self._uow() as uow:
            return products.with_pages(uow.session, chosen)

    def _offering(self, conversation: Conversation, lead: Lead, context: Context) -> offering.Offering | None:
        """The offer the server allows now (see `offering`), when this turn is the moment for one."""
        if self._desk is None:
            return None
        known = context.known | self._rules.read(context)
        exposed = list(conversation.offers_shown or [])
        when = offering.moment(desk=self._desk, text=context.message, known=known, declined=context.declined,
                               exposed=exposed)  # fmt: skip
        if when is None:
            return None
        return offering.choose(desk=self._desk, uow=self._uow(), conversation=conversation, lead=lead, known=known,
                               exposed=exposed, more=when == "more", now=utcnow())  # fmt: skip

    def _faqs(self, text: str) -> tuple[Passage, ...]:
        """The FAQ passages for the message's questions. The rules brain answers only questions, so a plain
        answer ("3000 EUR") costs it no embedding; an LLM may draw on the FAQ for any message."""
        asked = intents.questions(text)
        if not asked and self._llm is None:
            return ()
        return tuple(self.library.search(asked or text, k=3, min_match=self.settings.faq_min_match))

    def _region(self, conversation: Conversation, known: dict, history: list[Message], text: str) -> str:
        """Where a phone number without its country code is from: what the visitor said, then the page."""
        budgets = [v for v in known.values() if isinstance(v, dict) and "currency" in v]
        budgets = budgets or [money.budget(text, currency=self.settings.default_currency) or {}]
        return locales.region(
            said=[m.text for m in history if m.author == "visitor"] + [text],
            currency=budgets[0].get("currency"),
            locale=(conversation.page or {}).get("locale"),
            default=self.settings.default_region,
        )

    def _store(self, text: str) -> tuple[Product, ...]:
        """A few popular items, only when the visitor asks what the store sells."""
        if not intents.asks_catalog(text):
            return ()
        found = self._recommender.popular(n=STORE_ITEMS, filters=Filters())
        return tuple(products.products_of(found))

    def _decide(self, context: Context, conversation: Conversation) -> tuple[Decision, str, tuple[str, ...]]:
        """The LLM's checked decision when it is configured, within budget and sound; else the rules brain's."""
        if self._llm is None:
            return self._rules_decision(context), "rules", ()
        if conversation.tokens_used >= self.settings.llm_token_budget:
            metrics.fell_back("budget")
            return self._rules_decision(context), "rules", ("token budget spent",)
        try:
            decision = self._llm.decide(context)
            verdict = guard.check(decision, context, instructions=INSTRUCTIONS)
        except Exception as failure:  # BrainFailed, or an answer odd enough to trip the guard itself
            log.warning("conversation %s: the LLM failed (%s); the rules brain answers", conversation.id, failure)
            metrics.fell_back("error")
            return self._rules_decision(context), "rules", (str(failure),)
        if verdict.problems:
            log.warning("conversation %s: the LLM's decision was corrected: %s", conversation.id, verdict.problems)
        if verdict.safe:
            return verdict.decision, "llm", verdict.problems
        metrics.fell_back("unsafe")
        spent = {"prompt_tokens": decision.prompt_tokens, "completion_tokens": decision.completion_tokens}
        return replace(self._rules_decision(context), **spent), "rules", verdict.problems

    def _rules_decision(self, context: Context) -> Decision:
        """The rules brain's decision; a reply that would repeat an unsafe claim from the data (a product title
        carrying an injected "50% off") becomes the schema's next question."""
        decision = self._rules.decide(context)
        # The rules brain's values come from the server's own extractors, so its reply may name them.
        facts = replace(context, known=context.known | decision.fields, products=context.products + context.store)
        verdict = guard.check(decision, facts, instructions=INSTRUCTIONS)
        if verdict.safe:
            return verdict.decision
        upcoming = context.schema.next_question(
            context.known | verdict.decision.fields | dict.fromkeys(context.declined + decision.declined, "declined")
        )
        text = upcoming.question if upcoming else "Thank you. A colleague will follow up shortly."
        return replace(verdict.decision, reply=text, asks=upcoming.name if upcoming else None)

    def _products(
        self, conversation: Conversation, known: dict[str, Any], learnt: dict[str, Any], history: list[Message]
    ) -> products.Fit:
        """Products that fit what the visitor said (see `products.pick`), none shown twice in a row."""
        shown = {item["item_id"] for line in history for item in (line.details or {}).get("items", [])}
        visitor = products.Visitor(
            customer_id=conversation.customer_id,
            viewed=tuple((conversation.page or {}).get("item_ids") or ()),
            shown=frozenset(shown),
        )
        return products.pick(
            recommender=self._recommender,
            aisles=self._aisles,
            visitor=visitor,
            known=known,
            learnt=learnt,
            currency=self.settings.default_currency,
        )

    def _schema(self, version: int) -> Schema:
        if version not in self._schemas:
            self._schemas[version] = qualification.get(uow=self._uow(), version=version)
        return self._schemas[version]

    # -- writing ---------------------------------------------------------------------------------------------

    def _write(self, turning: Turning, text: str, *, latency_ms: float) -> dict[str, Any]:
        decision, context = turning.decision, turning.context
        with self._uow() as uow:
            conversation = lines.locked(uow.session, turning.conversation_id)
            if conversation.status == "closed":  # closed while the brain was thinking
                raise Conflict(f"conversation {conversation.id} is closed; start a new one")
            if conversation.handoff_state in handoffs.WITH_A_PERSON:  # a rep took it while the brain was thinking
                return self._silent_line(uow, conversation, text)
            lead = uow.session.scalar(select(Lead).where(Lead.conversation_id == conversation.id).with_for_update())
            now, before = utcnow(), (lead.status, dict(lead.fields), conversation.status)
            verdict = progress.take_in(uow.session, lead, context.schema, learnt=decision.fields,
                                       declined=decision.declined, now=now)  # fmt: skip
            handoff = turning.handoff or (
                f"hot lead (score {verdict.score})" if verdict.score >= context.schema.thresholds.hot else None
            )
            reply = decision.reply
            if handoff and handoff.startswith("hot") and conversation.status == "open":
                reply = f"{reply} {HANDOFF_HOT}"
            moved = progress.move(uow.session, lead, verdict, handoff=handoff, now=now)
            if moved in ("qualified", "handed_off"):
                exposures.became(uow.session, unit=offering.unit_of(conversation), qualified=moved == "qualified",
                                 handed_off=moved == "handed_off")  # fmt: skip
            conversation.asked, conversation.misunderstood = decision.asks, context.misunderstood
            conversation.tokens_used += decision.prompt_tokens + decision.completion_tokens
            conversation.updated_at = now
            place = None
            if handoff and conversation.handoff_state in ("bot", "message") and conversation.status != "closed":
                conversation.handoff_reason = handoff
                previous = conversation.handoff_state
                state = handoffs.hand_off(uow.session, conversation, reason=handoff, settings=self.settings, now=now)
                if state == "message" and (previous != "message" or turning.handoff == ASKED):
                    reply = NOBODY_THERE
                place = handoffs.place(uow.session, conversation, now=now)
            details = answers.details_of(decision, context, turning.problems)
            if turning.brain == "llm" and self._desk is not None:  # prompt and model arms reach the visitor now
                offering.record_variant(uow.session, desk=self._desk, conversation=conversation, now=now)
            if turning.offering is not None and conversation.status == "open" and not handoff:
                offering.record(uow.session, conversation=conversation, offering=turning.offering, now=now)
                details["offer"] = offering.shown(turning.offering.card)
            lines.append(uow.session, conversation, author="visitor", text=text, details={})
            lines.append(uow.session, conversation, author="bot", text=reply, details=details, brain=turning.brain,
                         latency_ms=round(latency_ms, 2), prompt_tokens=decision.prompt_tokens or None,
                         completion_tokens=decision.completion_tokens or None)  # fmt: skip
            uow.session.flush()
            crm.tell(uow.session, conversation, lead, before=before, now=now, link=self.settings.public_url)
            uow.commit()
            return answers.turn_of(conversation, lead, context.schema, reply, details) | answers.queue_of(place)


def _token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (as for API keys).
    return hashlib.sha256(token.encode()).hexdigest()
