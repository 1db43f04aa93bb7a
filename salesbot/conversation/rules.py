"""The rules brain: no network. The message's intent comes first (a question is answered, a decline skips the
field), typed extractors read its statements, the schema's questions come in order, and an answer that does not
parse is asked again with what was expected."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

from salesbot.conversation import extract, intents, money, offering
from salesbot.conversation.brains import Context, Decision
from salesbot.leads.qualification import Field

NEED_CUE = re.compile(
    r"\b(?:need|needs|looking for|look for|want|wants|interested in|searching for|shopping for|buy|buying|"
    r"purchase|after|require|equip)\b",
    re.I,
)
FREE_TEXT = ("need", "name", "company", "text")  # any words could be the answer, so a decline is a decline
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


DONT_KNOW = "I don't know that one, I'm afraid. Shall I get a colleague who does?"


class RulesBrain:
    name = "rules"

    def decide(self, context: Context) -> Decision:
        return _with_offer(self._decide(context), context)

    def _decide(self, context: Context) -> Decision:
        asked = context.schema.field(context.asked) if context.asked else None
        if asked is not None and _declines(asked, context):
            return self._declined(context, asked)
        learnt = self.read(context)
        if intents.questions(context.message) or intents.asks_catalog(context.message):
            return self._answer_question(context, learnt)
        if not learnt and intents.small_talk(context.message):
            return self._next(context, {}, opening=_small_talk(context.message))
        if asked is not None and not learnt:
            return self._ask_again(context, asked)
        return self._next(context, learnt)

    def read(self, context: Context) -> dict[str, Any]:
        """Every schema field the message's statements give a value for, not only the one asked for; its
        questions give none. A correction re-reads the fields the bot took in last turn."""
        # Beside a question, statements are its context ("I have a Maytag washer. Can you give me the specs?"):
        # they give only values said as such, never the free-text answer to the pending question.
        asking = bool(intents.questions(context.message))
        said = replace(context, message=intents.statements(context.message), asked=None if asking else context.asked)
        if not said.message:
            return {}
        found, correcting = {}, intents.corrects(said.message)
        for spec in context.schema.fields:
            value = _extract(spec, said, asked=spec.name in context.last_learnt) if correcting else _extract(spec, said)
            if value is not None:
                found[spec.name] = value
        return _per_unit(found, context.known)

    def _declined(self, context: Context, asked: Field) -> Decision:
        return self._next(context, {}, declined=(asked.name,), opening="No problem, let's skip that.")

    def _answer_question(self, context: Context, learnt: dict[str, Any]) -> Decision:
        upcoming = _upcoming(context, context.known | learnt)
        follow_up = f" {upcoming.question}" if upcoming else ""
        noted = f"{_noted(learnt)} " if learnt else ""
        asks = upcoming.name if upcoming else None
        if intents.asks_catalog(context.message) and (context.categories or context.store):
            return Decision(reply=noted + _store(context) + follow_up, intent="answer_faq", fields=learnt, asks=asks,
                            item_ids=_ids(context.store), quick_replies=context.categories[:4])  # fmt: skip
        if not context.faqs:
            return Decision(
                reply=noted + DONT_KNOW + follow_up,
                intent="answer_faq",
                fields=learnt,
                asks=asks,
                quick_replies=("Talk to a person",),
            )
        best = context.faqs[0]
        return Decision(
            reply=noted + best.answer + follow_up,
            intent="answer_faq",
            fields=learnt,
            faq_ids=(best.faq_id,),
            asks=asks,
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

    def _next(
        self, context: Context, learnt: dict[str, Any], *, declined: tuple[str, ...] = (), opening: str = ""
    ) -> Decision:
        known = context.known | learnt
        parts = [opening] if opening else []
        parts += [_noted(learnt)] if learnt else []
        shown = context.products[:3] if "need" in known else ()  # already fitted to what they said
        if shown:
            listed = ", ".join(f"{p.title} ({p.price} {p.currency})" for p in shown)
            parts.append(f"These could fit: {listed}.")
        elif context.unfit and {"need", "budget"} & set(learnt):
            parts.append(UNFIT[context.unfit])
        upcoming = _upcoming(replace(context, declined=context.declined + declined), known)
        if upcoming is None:
            parts.append("That's everything I need, thank you. A colleague will be in touch shortly.")
            return Decision(reply=" ".join(parts), intent="close", fields=learnt, item_ids=_ids(shown),
                            declined=declined)  # fmt: skip
        parts.append(upcoming.question)
        return Decision(
            reply=" ".join(parts),
            intent="recommend" if shown else "ask",
            fields=learnt,
            asks=upcoming.name,
            item_ids=_ids(shown),
            quick_replies=_quick_replies(upcoming, context),
            declined=declined,
        )


def _with_offer(decision: Decision, context: Context) -> Decision:
    """The server's offer, in its own words, before the next question (instead of "I don't know" when the
    visitor asked about deals)."""
    if not context.offer or decision.intent == "handoff":
        return decision
    said = context.offer["text"]
    asks_for_deals = offering.HESITATES.search(context.message) is not None
    reply = decision.reply.replace(DONT_KNOW, "") if asks_for_deals else decision.reply
    question = context.schema.field(decision.asks).question if decision.asks else None
    if question and reply.endswith(question):
        reply = f"{reply[: -len(question)].rstrip()} {said} {question}".strip()
    else:
        reply = f"{reply.rstrip()} {said}".strip()
    return replace(decision, reply=reply, offer_id=context.offer["offer_id"], intent="offer")


UNFIT = {
    "not carried": "I'm afraid we don't carry that. A colleague can check what we can do for you, just ask.",
    "over budget": "Nothing we have in that line fits that budget right now. A colleague can look at options.",
}


def _declines(asked: Field, context: Context) -> bool:
    """A refusal, not an answer: for free text and roles any words could be one, so the refusal wins there,
    except a plain "no" to "will you make the buying decision?"."""
    if not intents.declines(context.message):
        return False
    if asked.type == "authority":
        return extract.YES_NO.fullmatch(context.message) is None
    return asked.type in FREE_TEXT or _extract(asked, context) is None


def _upcoming(context: Context, known: dict[str, Any]) -> Field | None:
    """The next field to ask for: never one the visitor declined."""
    return context.schema.next_question(known | dict.fromkeys(context.declined, "declined"))


def _extract(spec: Field, context: Context, *, asked: bool | None = None) -> Any:
    text = context.message
    asked = spec.name == context.asked if asked is None else asked
    match spec.type:
        case "money":
            return money.budget(text, asked=asked, currency=context.currency, region=context.region)
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
            # Naming one of the store's shelves states a need, cue or not, while no shelf is known for it yet
            # ("a sofa" -> "we don't carry that" -> "ok, 3 laptops then").
            open_need = (context.known.get("need") or {}).get("category") is None
            named = open_need and match_category(text, context.categories) is not None
            return need(text, context.categories, asked=asked or named)
        case _:
            return text.strip()[:500] if asked else None


def _per_unit(found: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    """A budget said after the quantity ("we need 25 monitors", then "10k total") caps the price per unit."""
    wanted = (found.get("need") or known.get("need") or {}).get("quantity")
    budget = next((value for value in found.values() if isinstance(value, dict) and "per_unit" in value), None)
    for name, value in found.items():
        if wanted and budget is None and isinstance(value, dict) and {"amount", "currency"} <= value.keys():
            found[name] = money.per_unit(value, "", each=False, quantity=wanted)
    return found


def need(text: str, categories: tuple[str, ...], *, asked: bool = False) -> dict | None:
    """`{text, category}`: what they are after, and the catalog category it matches (or None)."""
    cue = NEED_CUE.search(text)
    if cue is None and (not asked or intents.questions(text)):
        return None
    wanted = (text[cue.end() :] if cue else text).strip(" .!,:") or text.strip()
    found = {"text": wanted[:300], "category": match_category(text, categories)}
    count = money.quantity(text)
    return found | {"quantity": count} if count else found


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


def _noted(learnt: dict[str, Any]) -> str:
    """One acknowledgement that names what was understood: "Thanks, Maria. 30,000 EUR, noted." """
    thanks = f"Thanks, {learnt['name']}." if "name" in learnt else ""
    said = [text for name, value in learnt.items() if name != "name" and (text := _said(value))]
    noted = f"{', '.join(said[:3])}, noted." if said else ("" if thanks else "Noted.")
    return " ".join(part for part in (thanks, noted[:1].upper() + noted[1:]) if part)


def _said(value: Any) -> str:
    if not isinstance(value, dict):
        return str(value)
    if "amount" in value:
        each = f" ({value['per_unit']:,.0f} each)" if value.get("per_unit") else ""
        period = f" a {value['period']}" if value.get("period") else ""
        return f"{value['amount']:,.0f} {value['currency']}{period}{each}"
    if "due_date" in value:
        return f"by {date.fromisoformat(value['due_date']):%-d %B %Y}"
    if "decision_maker" in value:
        decides = {True: "you decide", False: "someone else decides", None: ""}[value["decision_maker"]]
        return " and ".join(part for part in (value.get("role"), decides) if part)
    if "min" in value:
        return f"{value['min']} people" if value["min"] == value["max"] else f"{value['min']}-{value['max']} people"
    return str(value.get("category") or value.get("text") or "")[:60]


def _small_talk(message: str) -> str:
    return "You're welcome!" if re.search(r"\b(thanks?|thank you|thx|cheers)\b", message, re.I) else "Hello!"


def _store(context: Context) -> str:
    """What the store sells, from the catalog itself."""
    kinds = list(context.categories[:6])
    said = f"We carry {', '.join(kinds[:-1])} and {kinds[-1]}." if len(kinds) > 1 else ""
    said = said or (f"We carry {kinds[0]}." if kinds else "")
    if context.store:
        said += " Popular right now: " + ", ".join(p.title for p in context.store[:3]) + "."
    return said.strip()


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
