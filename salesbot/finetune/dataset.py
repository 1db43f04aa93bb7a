"""A conversation as the LLM saw it, rebuilt from its transcript and masked: the brain's system prompt (with the
prompt variant its experiment arm chose), then for each bot turn the data document the brain is sent (the visitor's
words, the last lines, the lead's fields, the FAQ passages, products and offer) and the answer in the brain's JSON
schema. A model trained on these lines answers the brain's own prompt, so it can serve in an experiment arm.

The document is rebuilt with `llm.prompt` itself from what the transcript stored. Three parts are not stored
per turn and are rebuilt as closely as the transcript allows: the FAQ passages and products are those the reply
used (not every one supplied), the lead's fields are their values now (of the fields learnt before that turn), and
fields the visitor declined are left out.

A turn is a visitor line answered by a bot line. The bot's part ends where a person's begins (a rep joining or
writing, or a visitor line the bot did not answer): what reps wrote is theirs, not the bot's, and is left out, with
everything after it (a conversation handed back to the bot would carry the rep's words in the lines it is sent).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from salesbot.conversation.brains import Context, Product, Turn
from salesbot.conversation.faqs import Passage
from salesbot.conversation.llm import prompt
from salesbot.finetune import formats
from salesbot.finetune.privacy import Masker
from salesbot.finetune.sources import Line, Transcript, Verdict
from salesbot.leads import qualification
from salesbot.leads.qualification import Schema

HISTORY = 6  # lines the brain is sent besides the visitor's message (`turns.HISTORY`)
PRODUCT_KEYS = {"item_id", "title", "price", "currency", "category"}
WORDS = re.compile(r"\[[a-z_]+\]|[^\W_]+")
MASKED_FIELDS = {"name": "[NAME]", "company": "[COMPANY]", "email": "[EMAIL]", "phone": "[PHONE]"}


@dataclass(frozen=True)
class Shop:
    """What every conversation's documents share: the store's categories and currency, and the FAQ texts."""

    categories: tuple[str, ...]
    currency: str
    faqs: dict[str, tuple[str, str]]  # id -> (question, answer), for the FAQs this batch's replies cited


@dataclass(frozen=True)
class BotTurn:
    seq: int  # the bot line's
    user: dict[str, Any]  # the document the brain was sent
    answer: dict[str, Any]  # the answer, in the brain's schema
    weight: int  # 0: the guard or a rep corrected it, or the staff rated it down
    key: str  # the visitor's message and the field asked before it: where a well-rated alternative must fit
    rating: int  # the staff's ratings summed
    correction: str | None  # the reply a rep said the bot should have given, masked

    @property
    def assistant(self) -> dict[str, Any]:
        return {"role": "assistant", "content": _json(self.answer), "weight": self.weight}


@dataclass(frozen=True)
class Seen:
    """One conversation as the LLM saw it: the system message and its bot turns."""

    conversation_id: str
    system: dict[str, Any]
    turns: tuple[BotTurn, ...]


def seen(transcript: Transcript, *, schema: Schema, shop: Shop, masker: Masker) -> Seen:
    types = {f.name: f.type for f in schema.fields}
    final = qualification.known(transcript.fields)
    lines, turns, learnt, system = transcript.lines, [], [], None
    for index, line in enumerate(lines):
        if line.author == "rep" or line.details.get("rep") or _unanswered(lines, index):
            break
        if line.author != "bot" or index == 0 or lines[index - 1].author != "visitor":
            continue
        known = {name: final[name] for name in learnt if name in final}
        context = _context(lines, index, schema=schema, known=known, shop=shop, masker=masker, types=types)
        messages = prompt(replace(context, prompt=transcript.variant))
        system = system or {"role": "system", "content": masker.text(messages[0]["content"])}
        verdict = transcript.feedback.get(line.seq, Verdict())
        answer = _answer(line, {n: final[n] for n in line.details.get("learnt") or () if n in final}, masker, types)
        correction = masker.text(verdict.correction.strip()) if verdict.correction else None
        turns.append(BotTurn(seq=line.seq, user=messages[1], answer=answer, weight=_weight(line, verdict),
                             key=_key(context.message, context.asked), rating=verdict.rating,
                             correction=correction))  # fmt: skip
        learnt += [name for name in line.details.get("learnt") or () if name not in learnt]
    return Seen(transcript.conversation_id, system or {}, tuple(turns))


def sft(conversation: Seen, *, max_tokens: int) -> tuple[dict[str, Any] | None, str | None]:
    """The conversation's SFT line, or None and why not. One longer than the limit keeps its first turns that fit."""
    if not conversation.turns:
        return None, "no bot turn answering the visitor"
    if not any(turn.weight for turn in conversation.turns):
        return None, "every bot turn corrected or rated down"
    messages = [conversation.system]
    for turn in conversation.turns:
        taken = [*messages, turn.user, turn.assistant]
        if formats.tokens(taken) > max_tokens:
            break
        messages = taken
    if len(messages) == 1:
        return None, "its first turn alone is over the token limit"
    if not any(m.get("weight") for m in messages[1:] if m["role"] == "assistant"):
        return None, "the turns within the token limit are all corrected or rated down"
    return {"messages": messages}, None


def pairs(conversation: Seen) -> list[tuple[BotTurn, dict[str, Any]]]:
    """(turn, preferred answer) for each bot turn a rep corrected: the correction replaces the reply."""
    return [
        (turn, turn.answer | {"reply": turn.correction})
        for turn in conversation.turns
        if turn.correction and turn.correction != turn.answer["reply"].strip()
    ]


def preference(conversation: Seen, turn: BotTurn, preferred: dict[str, Any]) -> dict[str, Any]:
    """A preference line: the brain's exact call for that turn (system prompt and the turn's document), the
    preferred answer and the bot's own."""
    return {
        "input": {"messages": [conversation.system, turn.user]},
        "preferred_output": [{"role": "assistant", "content": _json(preferred)}],
        "non_preferred_output": [{"role": "assistant", "content": _json(turn.answer)}],
    }


def fits(alternative: dict[str, Any], turn: BotTurn) -> bool:
    """Whether a well-rated answer from another conversation could have been given here: it shows, cites and
    offers only what this turn was supplied, and says something else."""
    document = json.loads(turn.user["content"])
    items = {p["item_id"] for p in document["untrusted_products"]}
    faqs = {f["faq_id"] for f in document["untrusted_faq_passages"]}
    offer = (document.get("offer") or {}).get("offer_id")
    return (
        set(alternative.get("item_ids") or ()) <= items
        and set(alternative.get("faq_ids") or ()) <= faqs
        and alternative.get("offer_id") in (None, offer)
        and alternative.get("reply") != turn.answer.get("reply")
    )


def _unanswered(lines: tuple[Line, ...], index: int) -> bool:
    """A visitor line the bot did not answer: a person had the conversation (or it broke off)."""
    return lines[index].author == "visitor" and (index + 1 == len(lines) or lines[index + 1].author != "bot")


def _context(
    lines: tuple[Line, ...], index: int, *, schema: Schema, known: dict, shop: Shop, masker: Masker, types: dict
) -> Context:
    said, bot = lines[index - 1], lines[index]
    details = bot.details
    cited = [(faq_id, shop.faqs[faq_id]) for faq_id in details.get("faq_ids") or () if faq_id in shop.faqs]
    return Context(
        message=masker.text(said.text, prices=False),
        schema=schema,
        known=_fields(known, masker, types),
        asked=_asked_before(lines, index),
        history=tuple(_said(m, masker) for m in lines[max(0, index - 1 - HISTORY) : index - 1]),
        faqs=tuple(Passage(faq_id, masker.text(q), masker.text(a), 0.0, 0.0) for faq_id, (q, a) in cited),
        products=tuple(_product(item, masker) for item in details.get("items") or () if item.get("item_id")),
        categories=tuple(masker.text(name) for name in shop.categories),
        offer=_offer(details.get("offer"), masker),
        today=bot.at.date() if bot.at else date.today(),
        currency=shop.currency,
        region="",
    )


def _said(line: Line, masker: Masker) -> Turn:
    """An earlier line as the brain was sent it; a visitor's amounts are theirs, not the store's prices."""
    return Turn(line.author, masker.text(line.text, prices=line.author != "visitor"))


def _product(item: dict[str, Any], masker: Masker) -> Product:
    shown = {key: item.get(key) for key in PRODUCT_KEYS}
    return Product(
        item_id=str(shown["item_id"]),
        title=masker.text(str(shown["title"] or "")),
        price="[PRICE]",
        currency=str(shown["currency"] or ""),
        category=masker.text(shown["category"]) if shown["category"] else None,
    )


def _offer(card: dict[str, Any] | None, masker: Masker) -> dict[str, Any] | None:
    if not card:
        return None
    shown = masker.value(card)
    if card.get("code"):
        shown["code"] = "[OFFER_CODE]"
    return shown


def _fields(values: dict[str, Any], masker: Masker, types: dict[str, str]) -> dict[str, Any]:
    """The lead's fields masked: a name, company, e-mail or phone is its placeholder; other text is masked."""
    return {
        name: MASKED_FIELDS.get(types.get(name, "")) or masker.value(value, prices=False)
        for name, value in values.items()
    }


def _answer(line: Line, learnt: dict[str, Any], masker: Masker, types: dict[str, str]) -> dict[str, Any]:
    details = line.details
    return {
        "reply": masker.text(line.text),
        "intent": details.get("intent") or "chat",
        "fields": _fields(learnt, masker, types),
        "asks": details.get("asks"),
        "faq_ids": list(details.get("faq_ids") or ()),
        "item_ids": [item["item_id"] for item in details.get("items") or () if item.get("item_id")],
        "offer_id": (details.get("offer") or {}).get("offer_id"),
        "quick_replies": [masker.text(reply) for reply in details.get("quick_replies") or ()],
    }


def _weight(line: Line, verdict: Verdict) -> int:
    """0 for a reply the guard or a rep corrected (rated or not, whatever others rated it), or the staff rated down."""
    return 0 if line.details.get("corrections") or verdict.correction or verdict.rating < 0 else 1


def _asked_before(lines: tuple[Line, ...], index: int) -> str | None:
    earlier = [m for m in lines[:index] if m.author == "bot"]
    return earlier[-1].details.get("asks") if earlier else None


def _key(message: str, asked: str | None) -> str:
    words = WORDS.findall(message.lower())
    return f"{asked or ''}|{' '.join(words)}"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
