"""Which products a conversation shows: those that fit the stated need (its category, or items whose titles name
it), under the budget per unit, never the same ones twice; none, said honestly, when the store has nothing."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Item
from salesbot.conversation.brains import Product
from salesbot.conversation.embeddings import Embedder, EmbeddingsUnavailable
from salesbot.database import UnitOfWork
from salesbot.recommender.results import Recommendations
from salesbot.recommender.serving import Filters, Recommender

SHOWN = 3
CANDIDATES = 30  # the recommender's picks within the matched shelf, re-ranked so that title matches come first
CHECK_EVERY = 60.0
COMPOUND_USES = 3  # titles that must pair a word with the same neighbour before it counts as part of a compound
# A need that shares no word with any shelf still finds one by meaning at this cosine or more. Chosen on need set
# A (fitting needs 0.45-0.77, needs the demo store cannot serve 0.15-0.39); set B was never looked at for it.
MEANING_AT_LEAST = 0.42
DESCRIBED_BY = 6  # the shelf's most used product words that describe it
WORD = re.compile(r"[^\W\d_]{3,}")
# Words that say nothing about what is wanted ("I need something new for my home office").
_FILLER = (
    "the and for with that this some something anything need needs want wants looking look buy buying get new "
    "good best cheap nice great thing things stuff kind sort one ones our your you can could would like "
    "please about around maybe just also really very much more less few lot lots any all have has had from "
    "into over under"
)
FILLER = frozenset(_FILLER.split())


def words(text: str) -> list[str]:
    """Content words in order, plurals folded ("tablets" -> "tablet", "boxes" -> "box")."""
    found = []
    for word in WORD.findall(text.lower()):
        if word not in FILLER:
            found.append(_singular(word))
    return found


def _singular(word: str) -> str:
    if len(word) > 4 and re.search(r"(?:[sxz]|ch|sh)es$", word):
        return word[:-2]  # boxes, glasses, benches
    return word[:-1] if len(word) >= 4 and word.endswith("s") and not word.endswith("ss") else word


def stems(text: str) -> set[str]:
    return set(words(text))


@dataclass(frozen=True)
class Match:
    """Where a need leads in this store: categories by strength, and the title words it named."""

    categories: tuple[str, ...]
    title_words: frozenset[str]

    @property
    def found(self) -> bool:
        return bool(self.categories)


@dataclass(frozen=True)
class Fit:
    """What the turn may show, and why nothing when nothing."""

    products: tuple[Product, ...]
    nothing: str | None = None  # "not carried" or "over budget" when a stated need found no product


class Aisles:
    """The store's words: each category's name and the words its item titles use, re-read when the catalog
    changes (checked every minute), so a need finds its shelf even when it names a product, not a category."""

    def __init__(
        self, uow: Callable[[], UnitOfWork], *, embedder: Embedder | None = None, check_every: float = CHECK_EVERY
    ) -> None:
        self._uow, self._embedder, self._check_every = uow, embedder, check_every
        self._lock = threading.Lock()
        self._checked_at, self._version = -check_every, None
        self._names: dict[str, set[str]] = {}
        self._words: dict[str, Counter[str]] = {}  # category -> title word -> items using it
        self._sizes: Counter[str] = Counter()
        self._bound: dict[tuple[str, int], set[str]] = {}  # (word, side) -> the only words beside it in titles
        self._meanings: tuple[tuple[str, ...], np.ndarray] | None = None  # each shelf's vector, once per change

    def shelves(self) -> tuple[str, ...]:
        """The store's categories, by name."""
        self._refresh()
        return tuple(sorted(self._names))

    def match(self, need: str) -> Match:
        """The categories a need names, directly or through the titles of their items (best first)."""
        self._refresh()
        ordered = words(need)
        wanted = set(ordered)
        scores: Counter[str] = Counter()
        named_in_titles: set[str] = set()
        for category, names in self._names.items():
            if wanted & names:
                scores[category] += 10.0
            for word in wanted & set(self._words[category]):
                if self._specific(word) and not self._clashes(word, ordered):
                    scores[category] += 1.0 + self._words[category][word] / self._sizes[category]
                    named_in_titles.add(word)
        ranked = tuple(category for category, _score in scores.most_common())
        if not ranked:
            return Match(categories=self._by_meaning(need), title_words=frozenset())
        return Match(categories=ranked, title_words=frozenset(named_in_titles))

    def _by_meaning(self, need: str) -> tuple[str, ...]:
        """The shelf whose description (its name and the kinds of product its titles name) means what the need
        says, when no word of theirs is shared ("earphones" -> headphones); none below MEANING_AT_LEAST."""
        if self._embedder is None or not need.strip():
            return ()
        try:
            if not self._names:
                return ()
            if self._meanings is None:
                shelves = tuple(self._names)
                self._meanings = shelves, self._embedder.encode([self._description(s) for s in shelves])
            shelves, vectors = self._meanings
            similarity = vectors @ self._embedder.encode([need])[0]
        except EmbeddingsUnavailable:
            return ()  # words alone decide; the embeddings module has logged why
        best = int(np.argmax(similarity))
        return (shelves[best],) if similarity[best] >= MEANING_AT_LEAST else ()

    def _description(self, category: str) -> str:
        kinds = [word for word, _count in self._words[category].most_common() if self._specific(word)][:DESCRIBED_BY]
        return f"{category.replace('-', ' ')}: {', '.join(kinds)}"

    def _specific(self, word: str) -> bool:
        """A title word that names a kind of product, not a brand, colour or adjective used all over the store."""
        spread = sum(1 for counts in self._words.values() if word in counts)
        return spread <= max(1, len(self._words) // 5)

    def _clashes(self, word: str, need: list[str]) -> bool:
        """A word the titles only use in one compound ("car" in "Car Seat", "machine" in "Espresso Machine") does
        not match a need that puts another word in its partner's place ("car tyres", "washing machine")."""
        for at in (index for index, each in enumerate(need) if each == word):
            for side in (-1, 1):
                partners = self._bound.get((word, side))
                beside = at + side
                if partners and 0 <= beside < len(need) and need[beside] not in partners:
                    return True
        return False

    def _refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._checked_at < self._check_every:
                return
            self._checked_at = time.monotonic()
            with self._uow() as uow:
                version = uow.session.execute(select(func.count(Item.item_id), func.max(Item.updated_at))).one()
                if tuple(version) == self._version:
                    return
                rows = uow.session.execute(select(Item.category, Item.title).where(Item.category.is_not(None))).all()
            self._read(rows)
            self._version = tuple(version)

    def _read(self, rows: Iterable[tuple[str, str]]) -> None:
        names: dict[str, set[str]] = {}
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        sizes: Counter[str] = Counter()
        beside: dict[tuple[str, int], set[str | None]] = defaultdict(set)
        uses: Counter[str] = Counter()
        for category, title in rows:
            names.setdefault(category, stems(category.replace("-", " ")))
            in_title = words(title)
            counts[category].update(in_title)
            sizes[category] += 1
            uses.update(in_title)
            for at, word in enumerate(in_title):
                for side in (-1, 1):
                    beside[(word, side)].add(in_title[at + side] if 0 <= at + side < len(in_title) else None)
        self._names, self._words, self._sizes, self._meanings = names, dict(counts), sizes, None
        # Bound on a side: always the same one or two words there, never the end of the title.
        self._bound = {
            key: set(found)
            for key, found in beside.items()
            if None not in found and len(found) <= 2 and uses[key[0]] >= COMPOUND_USES
        }


def budget_per_unit(budget: dict[str, Any] | None, *, currency: str) -> float | None:
    """The most one unit may cost: the stated per-unit amount, or the total over the quantity ("25 monitors,
    10k total" -> 400). None when no budget is known or it is in another currency than the catalog's."""
    if not budget or budget.get("currency") != currency or budget.get("amount") is None:
        return None
    if budget.get("per_unit") is not None:
        return float(budget["per_unit"])
    quantity = budget.get("quantity") or 1
    return float(budget["amount"]) / max(float(quantity), 1.0)


@dataclass(frozen=True)
class Visitor:
    """Who the products are for: a signed-in customer, the items on the page, or nobody known."""

    customer_id: str | None
    viewed: tuple[str, ...]
    shown: frozenset[str]  # items this conversation has shown already


def pick(
    *,
    recommender: Recommender,
    aisles: Aisles,
    visitor: Visitor,
    known: dict[str, Any],
    learnt: dict[str, Any],
    currency: str,
) -> Fit:
    """The products that fit what the visitor said, in answer to this message saying what they want (its need or
    budget); nothing before a need is stated, and nothing again while they talk about other things."""
    need = (known.get("need") or {}).get("text")
    if not need or not {"need", "budget"} & set(learnt):
        return Fit(products=())
    match = aisles.match(need)
    if not match.found:
        return Fit(products=(), nothing="not carried")
    cap = budget_per_unit(known.get("budget"), currency=currency)
    # A new budget may show again what fits it; a restated need shows only what was not shown yet.
    hidden = frozenset() if "budget" in learnt else visitor.shown
    filters = Filters(category=match.categories[0], max_price=cap, exclude=hidden)
    found = _recommended(recommender, visitor, filters)
    if not found and cap is not None and _recommended(recommender, visitor, Filters(category=filters.category)):
        return Fit(products=(), nothing="over budget")
    ranked = sorted(found, key=lambda product: not (stems(product.title) & match.title_words))
    return Fit(products=tuple(ranked[:SHOWN]))


def _recommended(recommender: Recommender, visitor: Visitor, filters: Filters) -> list[Product]:
    if visitor.customer_id:
        found = recommender.for_customer(visitor.customer_id, n=CANDIDATES, filters=filters)
    elif visitor.viewed:
        found = recommender.for_session(list(visitor.viewed), n=CANDIDATES, filters=filters)
    else:
        found = recommender.popular(n=CANDIDATES, filters=filters)
    return products_of(found)


def products_of(found: Recommendations) -> list[Product]:
    """The recommender's picks as the conversation shows them, each carrying the recommendation it came from."""
    return [
        Product(s.item_id, s.title, f"{s.price:.2f}", s.currency, s.category, found.recommendation_id)
        for s in found.items
    ]


def with_pages(session: Session, chosen: tuple[Product, ...]) -> tuple[Product, ...]:
    """Each product with its page and picture in the store: the item's `url` and `image_url` attributes, kept only
    when they are web addresses (a `javascript:` link in a catalog must not become a link in a visitor's chat)."""
    if not chosen:
        return chosen
    ids = [product.item_id for product in chosen]
    attributes = dict(session.execute(select(Item.item_id, Item.attributes).where(Item.item_id.in_(ids))).all())
    return tuple(
        replace(product, url=_web_address(attributes.get(product.item_id), "url"),
                image_url=_web_address(attributes.get(product.item_id), "image_url"))
        for product in chosen
    )  # fmt: skip


def _web_address(attributes: dict[str, Any] | None, name: str) -> str | None:
    value = (attributes or {}).get(name)
    if not isinstance(value, str) or len(value) > 2000:
        return None
    return value if urlsplit(value).scheme in {"http", "https"} and urlsplit(value).netloc else None
