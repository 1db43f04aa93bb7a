"""The rules brain: no network. Typed extractors read the message, BM25 finds FAQ answers, the schema's
questions come in order, and an answer that does not parse is asked again with what was expected."""

from __future__ import annotations

import re
from typing import Any

from salesbot.conversation import extract
from salesbot.conversation.brains import Context, Decision
from salesbot.conversation.qualification import Field

QUESTION = re.compile(
    r"\?\s*$|^\s*(how|what|when|where|why|which|who|whom|can|could|do|does|did|is|are|will|would|should|may)\b", re.I
)
NEED_CUE = re.compile(
    r"\b(?:need|needs|looking for|look for|want|wants|interested in|searching for|shopping for|buy|buying|"
    r"purchase|after|require|equip)\b",
    re.I,
)
EXPECTED = {
    "money": 'an amount, like "5,000 EUR" or "10-20k USD"',
    "timeline": 'a date or a horizon, like "by March", "next quarter" or "within 2 weeks"',
    "email": "an e-mail address, like name@company.com",
    "phone": "a phone number with its country code, like +49 30 1234567",
    "authority": 'your role, like "CTO" or "purchasing manager", and whether you decide',
    "company_size": 'a number of people, like "50" or "10-50 employees"',
    "name": "your name",
    "company": "the name of your company",
    "need": "what you are looking for",
    "text": "an answer",
}


class RulesBrain:
    name = "rules"

    def decide(self, context: Context) -> Decision:
        learnt = self.read(context)
        known = context.known | learnt
        if QUESTION.search(context.message) and not learnt:
            return self._answer_question(context, known)
        asked = context.schema.field(context.asked) if context.asked else None
        if asked is not None and asked.name not in learnt and not learnt:
            return self._ask_again(context, asked)
        return self._next(context, known, learnt)

    def read(self, context: Context) -> dict[str, Any]:
        """Every schema field the message gives a value for, not only the one asked for."""
        found = {}
        for spec in context.schema.fields:
            value = _extract(spec, context)
            if value is not None:
                found[spec.name] = value
        return found

    def _answer_question(self, context: Context, known: dict[str, Any]) -> Decision:
        upcoming = context.schema.next_question(known)
        follow_up = f" {upcoming.question}" if upcoming else ""
        if not context.faqs:
            return Decision(
                reply="I don't know that one, I'm afraid. I can bring in a colleague who does." + follow_up,
                intent="answer_faq",
                asks=upcoming.name if upcoming else None,
                quick_replies=("Talk to a person",),
            )
        best = context.faqs[0]
        return Decision(
            reply=best.answer + follow_up,
            intent="answer_faq",
            faq_ids=(best.faq_id,),
            asks=upcoming.name if upcoming else None,
            quick_replies=_quick_replies(upcoming, context),
        )

    def _ask_again(self, context: Context, asked: Field) -> Decision:
        return Decision(
            reply=f"Sorry, I didn't catch that. Could you give me {EXPECTED[asked.type]}?",
            intent="ask",
            asks=asked.name,
            understood=False,
            quick_replies=_quick_replies(asked, context),
        )

    def _next(self, context: Context, known: dict[str, Any], learnt: dict[str, Any]) -> Decision:
        parts = [_thanks(learnt)] if learnt else []
        shown = context.products[:3] if "need" in known else ()  # already fitted to what they said
        if shown:
            listed = ", ".join(f"{p.title} ({p.price} {p.currency})" for p in shown)
            parts.append(f"These could fit: {listed}.")
        upcoming = context.schema.next_question(known)
        if upcoming is None:
            parts.append("That's everything I need, thank you. A colleague will be in touch shortly.")
            return Decision(reply=" ".join(parts), intent="close", fields=learnt, item_ids=_ids(shown))
        parts.append(upcoming.question)
        return Decision(
            reply=" ".join(parts),
            intent="recommend" if shown else "ask",
            fields=learnt,
            asks=upcoming.name,
            item_ids=_ids(shown),
            quick_replies=_quick_replies(upcoming, context),
        )


def _extract(spec: Field, context: Context) -> Any:
    text, asked = context.message, spec.name == context.asked
    match spec.type:
        case "money":
            return extract.budget(text, asked=asked, currency=context.currency)
        case "timeline":
            return extract.timeline(text, today=context.today, asked=asked)
        case "email":
            return extract.email(text)
        case "phone":
            return extract.phone(text, region=context.region)
        case "authority":
            return extract.authority(text, asked=asked)
        case "company_size":
            return extract.company_size(text, asked=asked)
        case "name":
            return extract.name(text, asked=asked)
        case "company":
            return extract.company(text, asked=asked)
        case "need":
            return need(text, context.categories, asked=asked)
        case _:
            return text.strip()[:500] if asked else None


def need(text: str, categories: tuple[str, ...], *, asked: bool = False) -> dict | None:
    """`{text, category}`: what they are after, and the catalog category it matches (or None)."""
    cue = NEED_CUE.search(text)
    if cue is None and (not asked or QUESTION.search(text)):
        return None
    wanted = (text[cue.end() :] if cue else text).strip(" .!,:") or text.strip()
    return {"text": wanted[:300], "category": match_category(text, categories)}


def match_category(text: str, categories: tuple[str, ...]) -> str | None:
    """The category sharing the most words with the text (plurals folded), if any."""
    words = _stems(text)
    best, overlap = None, 0
    for category in categories:
        shared = len(words & _stems(category))
        if shared > overlap:
            best, overlap = category, shared
    return best


def _stems(text: str) -> set[str]:
    return {re.sub(r"(es|s)$", "", word) for word in re.findall(r"[a-zà-ÿ0-9]{3,}", text.lower())}


def _ids(shown: tuple) -> tuple[str, ...]:
    return tuple(product.item_id for product in shown)


def _thanks(learnt: dict[str, Any]) -> str:
    if "name" in learnt:
        return f"Thanks, {learnt['name']}."
    return "Got it, thanks."


def _quick_replies(spec: Field | None, context: Context) -> tuple[str, ...]:
    if spec is None:
        return ()
    if spec.type == "money":
        currency = context.currency
        return (f"under 1,000 {currency}", f"1,000-5,000 {currency}", f"over 5,000 {currency}")
    if spec.type == "timeline":
        return ("as soon as possible", "within a month", "this quarter", "just browsing")
    if spec.type == "authority":
        return ("I decide", "I recommend, someone else decides")
    if spec.type == "need":
        return context.categories[:4]
    return ()
