"""Guards on both sides of the brain: the visitor's message going in, and the brain's decision coming out.

The LLM is untrusted. Its decision is checked against what the server supplied: field values must have their
type (and contact details must be ones the visitor actually typed), products and FAQs must be among those
supplied, the offer must be the server's, and the reply may state no price, percentage, code, link, e-mail or
phone number that is not in the supplied facts, promise no discount the server did not choose, and quote
nothing of its instructions. A decision that fails is replaced by the rules brain's.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from salesbot.conversation import extract, intents, money
from salesbot.conversation.brains import INTENTS, Context, Decision
from salesbot.conversation.rules import EXPECTED, match_category
from salesbot.errors import InvalidInput

CONTROL = {"Cc", "Cf", "Co", "Cs"}
HUMAN = re.compile(
    r"\b(human|real person|a person|someone real|live agent|an agent|(sales )?rep(resentative)?|operator|"
    r"talk to (someone|somebody|a person|sales|staff)|speak (to|with) (someone|somebody|a person|sales|staff)|"
    r"customer service|mensch|mitarbeiter|echte person|persona real|humano|agente|personne r[ée]elle|humain|"
    r"conseiller|operatore|persona vera)\b",
    re.I,
)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
OFFER_FIGURE = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(?:%|percent|[A-Z]{3}\b|[$\u20ac\u00a3])?\s*"
    r"(?=(?:off|discount|rabatt|descuento|de descuento)\b)"
    r"|(?<=discount of )(\d+(?:[.,]\d+)?)|(?<=save )(\d+(?:[.,]\d+)?)",
    re.I,
)
PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s*(?:%|percent|per cent|prozent|por ciento|pour cent)", re.I)
LINK = re.compile(r"\b(?:https?://|www\.)\S+|\b(?:[a-z0-9-]+\.)+[a-z]{2,}\b(?:/\S*)?", re.I)
CODE = re.compile(  # letters and digits mixed, or any word right after "code"/"coupon"
    r"\b(?=[a-z0-9-]*\d)(?=[a-z0-9-]*[a-z])[a-z0-9-]{4,}\b|\b(?:code|coupon|voucher|promo)\s*:?\s*([a-z0-9-]{3,})\b",
    re.I,
)
DEAL = re.compile(
    r"\b(discount|coupon|voucher|promo|rebate|% off|percent off|free of charge|for free|gratis|rabatt|descuento|"
    r"remise|réduction|sconto|gutschein)\b",
    re.I,
)
REPLY_LIMIT = 1200
ECHO_WORDS = 8  # this many words in a row from the instructions is a leak


@dataclass(frozen=True)
class Checked:
    decision: Decision
    problems: tuple[str, ...]  # why parts were dropped; `safe` False means the reply itself was refused
    safe: bool


def clean_message(text: Any, *, longest: int, field: str = "text") -> str:
    """The visitor's message (or a person's text in `field`) without control characters; 422 naming the field when
    empty or too long."""
    if not isinstance(text, str):
        raise InvalidInput.for_field(field, "must be text")
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in CONTROL).strip()
    if not text:
        raise InvalidInput.for_field(field, "must not be empty")
    if len(text) > longest:
        raise InvalidInput.for_field(field, f"must be at most {longest} characters (got {len(text)})")
    return text


def wants_human(text: str) -> bool:
    return HUMAN.search(text) is not None or intents.wants_person(text)


def check(decision: Decision, context: Context, *, instructions: str) -> Checked:
    """The decision with everything it may not do removed; `safe` False when its reply must be replaced."""
    problems: list[str] = []
    fields = _fields(decision.fields, context, problems)
    items = _supplied(decision.item_ids, {p.item_id for p in context.products}, "product", problems)
    faqs = _supplied(decision.faq_ids, {f.faq_id for f in context.faqs}, "FAQ", problems)
    offer = decision.offer_id
    if offer is not None and (context.offer is None or offer != context.offer.get("offer_id")):
        problems.append(f"offer {offer!r} is not the one the server chose")
        offer = None
    asks = decision.asks if decision.asks and context.schema.field(decision.asks) else None
    intent = decision.intent if decision.intent in INTENTS else "chat"
    refused = _unsafe_reply(decision.reply, context, instructions)
    problems += refused
    checked = replace(
        decision,
        fields=fields,
        item_ids=items,
        faq_ids=faqs,
        offer_id=offer,
        asks=asks,
        intent=intent,
        quick_replies=_safe_replies(decision.quick_replies, context, instructions, problems),
    )
    return Checked(decision=checked, problems=tuple(problems), safe=not refused)


def _safe_replies(
    replies: tuple[str, ...], context: Context, instructions: str, problems: list[str]
) -> tuple[str, ...]:
    """At most four short answers the visitor can tap, each held to the reply's rules."""
    kept = []
    for reply in replies[:4]:
        refused = _unsafe_reply(str(reply)[:60], context, instructions)
        if refused:
            problems.append(f"quick reply {str(reply)[:60]!r}: {refused[0]}")
        else:
            kept.append(str(reply)[:60])
    return tuple(kept)


def _supplied(ids: tuple[str, ...], allowed: set[str], what: str, problems: list[str]) -> tuple[str, ...]:
    invented = [each for each in ids if each not in allowed]
    if invented:
        problems.append(f"{what} ids not supplied: {invented}")
    return tuple(dict.fromkeys(each for each in ids if each in allowed))


def _fields(given: dict[str, Any], context: Context, problems: list[str]) -> dict[str, Any]:
    kept = {}
    for name, value in given.items():
        spec = context.schema.field(name)
        checked = None if spec is None or value is None else normalise(spec.type, value, context)
        if checked is None:
            if value is not None:
                problems.append(f"field {name!r}: {str(value)[:80]!r} is not a valid value")
            continue
        kept[name] = checked
    return kept


def normalise(kind: str, value: Any, context: Context) -> Any:
    """A brain's value for a field of type `kind` as the lead stores it, or None when it is not one.

    Text is parsed by the same extractors the rules brain uses; structured values are checked field by field.
    """
    if isinstance(value, str):
        return _from_text(kind, value, context)
    if not isinstance(value, dict):
        return None
    checker = STRUCTURED.get(kind)
    try:
        return checker(value, context) if checker else None
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def _from_text(kind: str, text: str, context: Context) -> Any:
    text = text.strip()[:500]
    said = context.message
    match kind:
        case "money":
            return money.budget(text, asked=True, currency=context.currency)
        case "timeline":
            return extract.timeline(text, today=context.today, asked=True)
        case "email":  # only an address the visitor typed: an LLM must not invent or fetch one
            found = extract.email(text)
            return found if found and found == extract.email(said) else None
        case "phone":
            found = extract.phone(text, region=context.region)
            return found if found and found == extract.phone(said, region=context.region) else None
        case "authority":
            return extract.authority(text, asked=True)
        case "company_size":
            return extract.company_size(text, asked=True)
        case "name" | "company":
            return text[:100] if text and not re.search(r"[@<>{}\d]", text) else None
        case "need":
            return {"text": text[:300], "category": match_category(text, context.categories)}
        case _:
            return text


def _finite(number: object) -> float:
    found = float(number)  # type: ignore[arg-type]
    if not math.isfinite(found):
        raise ValueError("not a finite number")
    return found


def _money(value: dict, context: Context) -> dict:
    amount = _finite(value["amount"])
    currency = str(value.get("currency") or context.currency).upper()
    period = value.get("period")
    if amount <= 0 or not re.fullmatch(r"[A-Z]{3}", currency) or period not in (None, "year", "month", "week"):
        raise ValueError("not a budget")
    found = {"amount": amount, "currency": currency, "period": period}
    if value.get("min") is not None and value.get("max") is not None:
        low, high = _finite(value["min"]), _finite(value["max"])
        if not 0 < low <= high:
            raise ValueError("not a range")
        found |= {"amount": high, "min": low, "max": high}
    if value.get("per_unit") is not None:  # a budget for a quantity: the price each unit may cost
        each, count = _finite(value["per_unit"]), int(_finite(value.get("quantity") or 1))
        if not 0 < each <= found["amount"] or count < 1:
            raise ValueError("not a per-unit budget")
        found |= {"quantity": count, "per_unit": each} if value.get("quantity") else {"per_unit": each}
    return found


def _timeline(value: dict, context: Context) -> dict:
    due = date.fromisoformat(str(value["due_date"]))
    if due < context.today:
        raise ValueError("in the past")
    return {"due_date": due.isoformat(), "days": (due - context.today).days}


def _authority(value: dict, context: Context) -> dict:
    role, decider = value.get("role"), value.get("decision_maker")
    if (role is not None and (not isinstance(role, str) or len(role) > 100)) or decider not in (None, True, False):
        raise ValueError("not a role")
    return {"role": role.lower() if role else None, "decision_maker": decider}


def _size(value: dict, context: Context) -> dict:
    low, high = int(_finite(value["min"])), int(_finite(value.get("max", value["min"])))
    if not 0 < low <= high:
        raise ValueError("not a size")
    return {"min": low, "max": high}


def _need(value: dict, context: Context) -> dict:
    text = str(value["text"])[:300]
    category = value.get("category")
    return {"text": text, "category": category if category in context.categories else None}


STRUCTURED = {"money": _money, "timeline": _timeline, "authority": _authority, "company_size": _size, "need": _need}


def _unsafe_reply(reply: str, context: Context, instructions: str) -> list[str]:
    """Why the reply may not be shown, if it may not."""
    reply = unicodedata.normalize("NFKC", reply)  # full-width digits and percent signs become plain ones
    if not reply.strip():
        return ["empty reply"]
    if len(reply) > REPLY_LIMIT:
        return [f"reply longer than {REPLY_LIMIT} characters"]
    store, products, visitor = _facts(context)
    claims = _claims(reply, store, products, visitor)
    problems = [f"states {what} {found!r}, which no supplied fact says" for what, found in claims]
    if DEAL.search(reply) and not DEAL.search(store):
        problems.append("promises a deal the server did not choose")
    problems += _offer_figures(reply, context.offer)
    if _echoes(reply, instructions):
        problems.append("quotes its instructions")
    return problems


def _offer_figures(reply: str, offer: dict | None) -> list[str]:
    """A discount stated next to "off" or "discount" must be the chosen offer's own figure (an LLM that says 15%
    for a 10% offer is corrected)."""
    if not offer or offer.get("value") is None or offer.get("kind") not in ("percent", "amount"):
        return []
    wanted = round(float(offer["value"]), 2)
    said = [_number(next(part for part in found if part)) for found in OFFER_FIGURE.findall(reply)]
    if offer["kind"] == "percent":  # with a percent offer, every percentage is read as its discount
        said += [_number(NUMBER.findall(found)[0]) for found in PERCENT.findall(reply)]
    return [f"states a discount of {figure:g} for an offer of {wanted:g}" for figure in dict.fromkeys(said)
            if figure != wanted]  # fmt: skip


def _facts(context: Context) -> tuple[str, str, str]:
    """(what the store itself says: FAQ answers, questions, the chosen offer; the products shown; what the
    visitor said and gave).

    Percentages, deals, codes and links may only come from the first: a visitor asking for "50% off", or a
    product title carrying an injected instruction, does not make a discount true.
    """
    store = [f"{f.question} {f.answer}" for f in context.faqs] + [field.question for field in context.schema.fields]
    store += [p.item_id for p in context.products] + list(EXPECTED.values())  # the rules brain's own hints
    if context.offer:
        store.append(str(context.offer.get("text", "")))
    products = [f"{p.title} {p.price} {p.currency} {p.category or ''}" for p in context.products]
    visitor = [context.message, *(str(value) for value in context.known.values())]
    return "\n".join(store), "\n".join(products), "\n".join(visitor)


def _claims(reply: str, store: str, products: str, visitor: str) -> list[tuple[str, str]]:
    """Percentages, figures, links, codes and e-mails in the reply that the facts lack."""
    anyone = "\n".join((store, products, visitor))
    store_numbers = {_number(n) for n in NUMBER.findall(store)}
    any_numbers = {_number(n) for n in NUMBER.findall(anyone)}
    store_text, any_text = store.lower(), anyone.lower()
    catalog_text = store_text + "\n" + products.lower()
    found = [("a percentage", p) for p in PERCENT.findall(reply) if _number(NUMBER.findall(p)[0]) not in store_numbers]
    found += [("a figure", n) for n in NUMBER.findall(reply) if _number(n) not in any_numbers]
    found += [("a link", link) for link in LINK.findall(reply) if link.lower().rstrip(".,)") not in store_text]
    for match in CODE.finditer(reply):
        # After "code"/"voucher" only the store's own text may say it; a model number may also be a product's.
        code, allowed = (match.group(1), store_text) if match.group(1) else (match.group(0), catalog_text)
        if code.lower() not in allowed:
            found.append(("a code", code))
    found += [("an e-mail", mail) for mail in extract.EMAIL.findall(reply) if mail.lower() not in any_text]
    return found


def _number(text: str) -> float:
    digits = re.sub(r"[.,](?=\d{3}\b)", "", text).replace(",", ".")
    try:
        return round(float(digits), 2)
    except ValueError:
        return float("nan")


def _echoes(reply: str, instructions: str) -> bool:
    words = re.findall(r"\w+", instructions.lower())
    said = " " + " ".join(re.findall(r"\w+", reply.lower())) + " "
    return any(
        " " + " ".join(words[start : start + ECHO_WORDS]) + " " in said
        for start in range(0, max(len(words) - ECHO_WORDS + 1, 0))
    )
