"""The store's FAQ: questions and answers marketers keep, found for a visitor's message by meaning and by words.

Each process keeps the FAQ's vectors (embedded once per change and stored in `faq_vectors`) and a BM25 index,
and checks every few seconds whether the FAQ changed. Without an embedder, words alone decide (BM25, bm25s).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS
from sqlalchemy import delete as delete_rows
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from models import Faq
from models.conversation import FaqVector
from salesbot.catalog.rows import RowProblem, Upserts, optional_text, required_text
from salesbot.conversation.embeddings import Embedder, EmbeddingsUnavailable, from_bytes, to_bytes
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)
STEMMER = Stemmer.Stemmer("english")
# How much the share of the message's meaningful words an FAQ holds adds to its similarity in meaning. Tuned on
# the bench's set A only (bench/faq/tuning_a.json); reciprocal rank fusion with BM25 ranked worse there (85%
# against 95% top-1, more wrong answers), so words nudge the meaning instead of outvoting it.
WORD_BONUS = 0.1
# Ranking keeps most words ("out" of stock, "no" receipt); whether a passage answers at all counts only the
# words that carry meaning: NLTK's English stop words (as bm25s ships them), and those questions are wrapped in.
FILLER = set(STEMMER.stemWords(sorted(set(STOPWORDS_EN_PLUS) | {"could", "would", "may", "might", "please",
                                                                 "want", "like", "get", "tell"})))  # fmt: skip


@dataclass(frozen=True)
class Passage:
    faq_id: str
    question: str
    answer: str
    score: float  # similarity in meaning plus the word bonus; BM25 when words alone decide
    match: float  # share of the message's words (stemmed, no stop words) that the FAQ contains
    similarity: float | None = None  # cosine of the message and the FAQ (question, or question and answer)


def create(
    *, uow: UnitOfWork, question: str, answer: str, tags: list[str] | None = None, library: Library | None = None
) -> Faq:
    """A new FAQ; with `library`, embedded now, so the marketer's edit pays for it, not the next visitor."""
    faq = Faq(id="faq_" + secrets.token_hex(6), **_checked(question, answer, tags))
    with uow:
        uow.session.add(faq)
        uow.commit()
    if library is not None:
        library.refresh()
    return faq


def update(
    *,
    uow: UnitOfWork,
    faq_id: str,
    question: str,
    answer: str,
    tags: list[str] | None = None,
    library: Library | None = None,
) -> Faq:
    values = _checked(question, answer, tags)
    with uow:
        faq = _get(uow, faq_id)
        for name, value in values.items():
            setattr(faq, name, value)
        uow.commit()
    if library is not None:
        library.refresh()
    return faq


def get(*, uow: UnitOfWork, faq_id: str) -> Faq:
    with uow:
        return _get(uow, faq_id)


def get_all(*, uow: UnitOfWork) -> list[Faq]:
    with uow:
        return list(uow.session.scalars(select(Faq).order_by(Faq.created_at, Faq.id)))


def delete(*, uow: UnitOfWork, faq_id: str, library: Library | None = None) -> None:
    with uow:
        uow.session.delete(_get(uow, faq_id))
        uow.commit()
    if library is not None:
        library.refresh()


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
    """Finds the FAQ passages closest to a message; rebuilt when the FAQ changes.

    With an embedder, an FAQ answers when its similarity in meaning (the better of its question's and its
    question-and-answer's cosine) plus `WORD_BONUS` times its word match reaches `min_similarity`. Without one
    (`SALESBOT_EMBEDDINGS=off`, or the model failed), BM25 ranks and the word match decides, as `min_match`.
    """

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        *,
        embedder: Embedder | None = None,
        min_similarity: float = 0.5,
        check_every: float = 5.0,
    ) -> None:
        self._uow, self._embedder, self._min_similarity = uow, embedder, min_similarity
        self._check_every = check_every
        self._checked_at, self._stamp = -float("inf"), None
        self._index: bm25s.BM25 | None = None
        self._faqs: list[Faq] = []
        self._words: list[set[str]] = []
        self._vectors: np.ndarray | None = None  # (faqs, 2, dimensions): question; question and answer
        self._lock = threading.Lock()
        self._failing = False

    def search(self, text: str, *, k: int = 3, min_match: float = 0.0) -> list[Passage]:
        """The best `k` passages that answer the message, best first; none when nothing is close enough."""
        index, faqs, words, vectors = self._current()
        query = tokens([text])[0]
        if not faqs:
            return []
        match = _match(query, words)
        meaning = self._meaning(text, vectors)
        if meaning is None:
            return _by_words(index, faqs, query, match, k=k, min_match=min_match)
        score = meaning + WORD_BONUS * match
        best = np.argsort(-score, kind="stable")[:k]
        return [
            Passage(faqs[n].id, faqs[n].question, faqs[n].answer, round(float(score[n]), 3), round(float(match[n]), 3),
                    round(float(meaning[n]), 3))
            for n in best
            if score[n] >= self._min_similarity
        ]  # fmt: skip

    def refresh(self) -> None:
        """Read the FAQ again now (after an edit), embedding what changed, instead of within `check_every`."""
        with self._lock:
            self._checked_at = time.monotonic()
            self._reload_if_changed()

    def _meaning(self, text: str, vectors: np.ndarray | None) -> np.ndarray | None:
        if vectors is None or self._embedder is None:
            return None
        try:
            query = self._embedder.encode([text])[0]
        except EmbeddingsUnavailable as exc:
            if not self._failing:
                log.warning("FAQ answers fall back to word matching: %s", exc)
            self._failing = True
            return None
        self._failing = False
        return (vectors @ query).max(axis=1)

    def _current(self) -> tuple[bm25s.BM25 | None, list[Faq], list[set[str]], np.ndarray | None]:
        with self._lock:
            if time.monotonic() - self._checked_at >= self._check_every:
                self._checked_at = time.monotonic()
                self._reload_if_changed()
            return self._index, self._faqs, self._words, self._vectors

    def _reload_if_changed(self) -> None:
        with self._uow() as uow:
            stamp = tuple(uow.session.execute(select(func.count(Faq.id), func.max(Faq.updated_at))).one())
            if stamp == self._stamp:
                return
            faqs = list(uow.session.scalars(select(Faq).order_by(Faq.id)))
        self._faqs = faqs
        if not faqs:
            self._index, self._vectors, self._stamp = None, None, stamp
            return
        documents = tokens([f"{faq.question} {faq.question} {faq.answer}" for faq in faqs])  # questions count twice
        self._index, self._words = _bm25(documents), [set(document) for document in documents]
        self._vectors = self._vectors_of(faqs)
        self._stamp = stamp if self._vectors is not None or self._embedder is None else None  # retry a failure

    def _vectors_of(self, faqs: list[Faq]) -> np.ndarray | None:
        if self._embedder is None:
            return None
        try:
            return np.stack(store_vectors(uow=self._uow(), embedder=self._embedder, faqs=faqs))
        except EmbeddingsUnavailable as exc:
            log.warning("FAQ answers fall back to word matching until the FAQ is embedded: %s", exc)
            return None


def store_vectors(*, uow: UnitOfWork, embedder: Embedder, faqs: list[Faq]) -> list[np.ndarray]:
    """Each FAQ's vectors (its question; its question and answer), embedding only FAQs new or changed since
    their vectors were stored, and storing those. Any process may do it; the first to store wins."""
    kept, _changed = _stored(uow, embedder, faqs)
    return [kept[faq.id] for faq in faqs]


def embed_changed(*, uow: UnitOfWork, embedder: Embedder) -> tuple[int, int]:
    """Embed every FAQ new or changed since its vectors were stored (an import changes FAQs without a library
    noticing); answers how many were embedded, of how many FAQs."""
    every = get_all(uow=uow)
    return len(_stored(uow, embedder, every)[1]), len(every)


def _stored(uow: UnitOfWork, embedder: Embedder, faqs: list[Faq]) -> tuple[dict[str, np.ndarray], list[str]]:
    """The FAQs' vectors by id, and the ids embedded now because theirs were missing or stale."""
    texts = {faq.id: (faq.question, f"{faq.question} {faq.answer}") for faq in faqs}
    stamps = {faq_id: hashlib.sha256("\n".join(pair).encode()).hexdigest() for faq_id, pair in texts.items()}
    with uow:
        rows = uow.session.execute(
            select(FaqVector.faq_id, FaqVector.text_sha256, FaqVector.vector).where(FaqVector.model == embedder.name)
        ).all()
    kept = {faq_id: from_bytes(raw).reshape(2, -1) for faq_id, stamp, raw in rows if stamps.get(faq_id) == stamp}
    changed = [faq.id for faq in faqs if faq.id not in kept]
    if changed:
        fresh = embedder.encode([text for faq_id in changed for text in texts[faq_id]])
        made = {faq_id: fresh[2 * n : 2 * n + 2] for n, faq_id in enumerate(changed)}
        _save(uow, embedder.name, {faq_id: (stamps[faq_id], made[faq_id]) for faq_id in changed})
        kept |= made
    return kept, changed


def _save(uow: UnitOfWork, model: str, vectors: dict[str, tuple[str, np.ndarray]]) -> None:
    try:
        with uow:
            uow.session.execute(
                delete_rows(FaqVector).where(FaqVector.model == model, FaqVector.faq_id.in_(list(vectors)))
            )
            uow.session.add_all(
                FaqVector(faq_id=faq_id, model=model, text_sha256=stamp, vector=to_bytes(vector))
                for faq_id, (stamp, vector) in vectors.items()
            )
            uow.commit()
    except IntegrityError:  # another process stored them first (or an FAQ was deleted meanwhile): same vectors
        log.info("FAQ vectors stored by another process")


def _match(query: list[str], words: list[set[str]]) -> np.ndarray:
    """Per FAQ, the share of the message's meaningful words (stemmed, without stop words) that it contains.

    Unlike a BM25 score, a share means the same for an FAQ of 5 entries and of 5,000."""
    wanted = set(query) - FILLER or set(query)
    if not wanted:
        return np.zeros(len(words))
    return np.array([len(wanted & held) / len(wanted) for held in words])


def _bm25(documents: list[list[str]]) -> bm25s.BM25 | None:
    """The word index; none when no FAQ has a word it can index (an FAQ of "0" alone), which BM25 cannot weigh."""
    if not any(documents):
        return None
    index = bm25s.BM25()
    index.index(documents, show_progress=False)
    return index


def _by_words(
    index: bm25s.BM25 | None, faqs: list[Faq], query: list[str], match: np.ndarray, *, k: int, min_match: float
) -> list[Passage]:
    """BM25 ranks; the share of words decides whether a passage answers at all (the fallback without vectors)."""
    if index is None or not query:
        return []
    found, scores = index.retrieve([query], k=min(k, len(faqs)), show_progress=False, n_threads=1)
    return [
        Passage(faqs[n].id, faqs[n].question, faqs[n].answer, round(float(score), 3), round(float(match[n]), 3))
        for n, score in zip(found[0], scores[0], strict=True)
        if score > 0 and match[n] >= min_match
    ]
