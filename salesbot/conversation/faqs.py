"""The store's FAQ: questions and answers marketers keep, found for a visitor's message by BM25 (bm25s).

Each process keeps a BM25 index of the FAQ and checks every few seconds whether the FAQ changed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bm25s
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS
from sqlalchemy import func, select

from models import Faq
from salesbot.catalog.rows import RowProblem, Upserts, optional_text, required_text
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput, NotFound

STEMMER = Stemmer.Stemmer("english")
# Ranking keeps most words ("out" of stock, "no" receipt); whether a passage answers at all counts only the
# words that carry meaning: NLTK's English stop words (as bm25s ships them), and those questions are wrapped in.
FILLER = set(STEMMER.stemWords(sorted(set(STOPWORDS_EN_PLUS) | {"could", "would", "may", "might", "please",
                                                                 "want", "like", "get", "tell"})))  # fmt: skip


@dataclass(frozen=True)
class Passage:
    faq_id: str
    question: str
    answer: str
    score: float  # BM25
    match: float  # share of the message's words (stemmed, no stop words) that the FAQ contains


def create(*, uow: UnitOfWork, question: str, answer: str, tags: list[str] | None = None) -> Faq:
    faq = Faq(id="faq_" + secrets.token_hex(6), **_checked(question, answer, tags))
    with uow:
        uow.session.add(faq)
        uow.commit()
        return faq


def update(*, uow: UnitOfWork, faq_id: str, question: str, answer: str, tags: list[str] | None = None) -> Faq:
    values = _checked(question, answer, tags)
    with uow:
        faq = _get(uow, faq_id)
        for name, value in values.items():
            setattr(faq, name, value)
        uow.commit()
        return faq


def get(*, uow: UnitOfWork, faq_id: str) -> Faq:
    with uow:
        return _get(uow, faq_id)


def get_all(*, uow: UnitOfWork) -> list[Faq]:
    with uow:
        return list(uow.session.scalars(select(Faq).order_by(Faq.created_at, Faq.id)))


def delete(*, uow: UnitOfWork, faq_id: str) -> None:
    with uow:
        uow.session.delete(_get(uow, faq_id))
        uow.commit()


def _get(uow: UnitOfWork, faq_id: str) -> Faq:
    faq = uow.session.get(Faq, faq_id)
    if faq is None:
        raise NotFound(f"no FAQ {faq_id!r}")
    return faq


def _checked(question: str, answer: str, tags: list[str] | None) -> dict[str, Any]:
    """The values of an FAQ sent through the API; a problem names its field (messages start with it)."""
    try:
        values = clean_row({"question": question, "answer": answer, "tags": tags or []})
    except RowProblem as problem:
        raise InvalidInput.for_field(str(problem).split(" ", 1)[0], str(problem)) from None
    values.pop("id")
    return values


def clean_row(row: dict[str, Any]) -> dict[str, Any]:
    """One FAQ from an imported row; its id comes from the question, so importing again updates, never doubles."""
    question = required_text(row, "question", longest=1000)
    answer = required_text(row, "answer", longest=5000)
    given = row.get("tags")
    if isinstance(given, str):
        given = [tag.strip() for tag in re.split(r"[|,;]", given) if tag.strip()]
    elif given is None or (not isinstance(given, list | tuple) and optional_text(row, "tags", longest=500) is None):
        given = []
    key = re.sub(r"\W+", " ", question.lower()).strip()
    return {
        "id": "faq_" + hashlib.sha256(key.encode()).hexdigest()[:12],
        "question": question,
        "answer": answer,
        "tags": [str(tag) for tag in given],
    }


rows = Upserts(table=Faq.__table__, key="id", clean_row=clean_row)


def tokens(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, stopwords="en", stemmer=STEMMER, return_ids=False, show_progress=False)


class Library:
    """Finds the FAQ passages closest to a message; rebuilt when the FAQ changes."""

    def __init__(self, uow: Callable[[], UnitOfWork], *, check_every: float = 5.0) -> None:
        self._uow, self._check_every = uow, check_every
        self._checked_at, self._stamp = -float("inf"), None
        self._index: bm25s.BM25 | None = None
        self._faqs: list[Faq] = []
        self._words: list[set[str]] = []
        self._lock = threading.Lock()

    def search(self, text: str, *, k: int = 3, min_match: float = 0.0) -> list[Passage]:
        """The best `k` passages by BM25 that contain at least `min_match` of the message's words, best first.

        BM25 ranks; the share of words decides whether a passage answers at all, which, unlike a BM25 score,
        means the same for an FAQ of 5 entries and of 5,000.
        """
        index, faqs, words = self._current()
        query = tokens([text])[0]
        if index is None or not query:
            return []
        found, scores = index.retrieve([query], k=min(k, len(faqs)), show_progress=False, n_threads=1)
        wanted = set(query) - FILLER or set(query)
        passages = []
        for n, score in zip(found[0], scores[0], strict=True):
            match = len(wanted & words[n]) / len(wanted)
            if score > 0 and match >= min_match:
                faq = faqs[n]
                passages.append(Passage(faq.id, faq.question, faq.answer, round(float(score), 3), round(match, 3)))
        return passages

    def _current(self) -> tuple[bm25s.BM25 | None, list[Faq], list[set[str]]]:
        with self._lock:
            if time.monotonic() - self._checked_at >= self._check_every:
                self._checked_at = time.monotonic()
                self._reload_if_changed()
            return self._index, self._faqs, self._words

    def _reload_if_changed(self) -> None:
        with self._uow() as uow:
            stamp = tuple(uow.session.execute(select(func.count(Faq.id), func.max(Faq.updated_at))).one())
            if stamp == self._stamp:
                return
            faqs = list(uow.session.scalars(select(Faq).order_by(Faq.id)))
        self._stamp, self._faqs = stamp, faqs
        if not faqs:
            self._index = None
            return
        documents = tokens([f"{faq.question} {faq.question} {faq.answer}" for faq in faqs])  # questions count twice
        index = bm25s.BM25()
        index.index(documents, show_progress=False)
        self._index, self._words = index, [set(document) for document in documents]
