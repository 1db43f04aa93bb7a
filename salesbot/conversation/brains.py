"""What a brain is handed for one turn and what it must answer; the server checks the answer (see guard)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from salesbot.conversation.faqs import Passage
from salesbot.leads.qualification import Schema

INTENTS = ("ask", "answer_faq", "recommend", "offer", "handoff", "close", "chat")


@dataclass(frozen=True)
class Product:
    """A product the server chose for this visitor; the only ones a reply may show or price."""

    item_id: str
    title: str
    price: str
    currency: str
    category: str | None
    recommendation_id: str | None = None  # what a click on it sends back, so the recommender learns from it
    url: str | None = None  # the product's page and picture in the store (item attributes `url`, `image_url`)
    image_url: str | None = None


@dataclass(frozen=True)
class Turn:
    author: str  # visitor, bot
    text: str


@dataclass(frozen=True)
class Context:
    """Everything a brain may use for one turn, and nothing else: no other visitor's data is ever in it."""

    message: str
    schema: Schema
    known: dict[str, Any]  # the lead's fields so far (normalised)
    asked: str | None  # the field the bot asked for last
    history: tuple[Turn, ...]  # the last turns, oldest first
    faqs: tuple[Passage, ...]
    products: tuple[Product, ...]
    categories: tuple[str, ...]  # the catalog's categories, for matching a need
    offer: dict[str, Any] | None  # the one offer the server allows now, or None
    today: date
    currency: str
    region: str
    misunderstood: int = 0  # turns in a row the bot did not understand
    declined: tuple[str, ...] = ()  # fields the visitor chose not to give: never asked again
    last_learnt: tuple[str, ...] = ()  # fields the bot's last reply took in: what "actually, make it 50" corrects
    store: tuple[Product, ...] = ()  # a few popular items, when the visitor asks what the store sells
    unfit: str | None = None  # why a stated need found no product: "not carried" or "over budget"
    prompt: str | None = None  # the prompt variant an experiment's arm chose for the LLM (None: the default)
    llm_model: str | None = None  # the LLM model an experiment's arm chose (None: the configured one)


@dataclass(frozen=True)
class Decision:
    """A brain's answer for one turn."""

    reply: str
    intent: str
    fields: dict[str, Any] = field(default_factory=dict)  # newly learnt values, normalised
    asks: str | None = None  # the field the reply asks for
    faq_ids: tuple[str, ...] = ()
    item_ids: tuple[str, ...] = ()
    offer_id: str | None = None
    quick_replies: tuple[str, ...] = ()
    understood: bool = True
    declined: tuple[str, ...] = ()  # fields the visitor declined this turn
    wants_human: bool = False
    language: str = "en"
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Brain(Protocol):
    name: str

    def decide(self, context: Context) -> Decision: ...
