"""Short texts grouped by what they say: agglomerative clustering (scikit-learn; average linkage over cosine
distances, cut at a distance tuned on bench/faq's tuning sets) of their sentence embeddings, or of their TF-IDF
vectors over words and character n-grams when no embedding model answers. The one home of scikit-learn."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_distances
from sklearn.preprocessing import normalize

from salesbot.conversation import faqs
from salesbot.conversation.embeddings import Embedder, EmbeddingsUnavailable

log = logging.getLogger(__name__)
# Average cosine distance under which two groups are one question: the best mean adjusted Rand index on the tuning
# sets of bench/faq_gaps.py (bench/faq's sets A and A2, the Rasa demo's FAQ training examples); its held-out sets
# (bench/faq's set B, the Rasa demo's test file) only report.
MEANING_CUT = 0.45
WORDS_CUT = 0.85
WORDS = "tf-idf words and characters"


@dataclass(frozen=True)
class Grouping:
    labels: np.ndarray  # a group number per text
    distances: np.ndarray  # cosine distance of every text to every other
    method: str  # the embedding model's name, or WORDS

    def central(self, members: np.ndarray) -> int:
        """The member closest, on average, to the group's others: the group's most typical wording."""
        within = self.distances[np.ix_(members, members)].sum(axis=1)
        return int(members[int(np.argmin(within))])


def group(texts: Sequence[str], *, embedder: Embedder | None, cut: float | None = None) -> Grouping:
    """Texts that say the same thing share a label; by meaning with `embedder`, else (or when it fails) by words."""
    distances, method = _distances(texts, embedder)
    if len(texts) < 2:
        return Grouping(np.zeros(len(texts), dtype=int), distances, method)
    threshold = cut if cut is not None else (WORDS_CUT if method == WORDS else MEANING_CUT)
    clustering = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=threshold
    )
    return Grouping(clustering.fit_predict(distances), distances, method)


def _distances(texts: Sequence[str], embedder: Embedder | None) -> tuple[np.ndarray, str]:
    if embedder is not None:
        try:
            return cosine_distances(embedder.encode(list(texts))), embedder.name
        except EmbeddingsUnavailable as exc:
            log.warning("questions grouped by their words: %s", exc)
    return cosine_distances(_word_vectors(texts)), WORDS


def _word_vectors(texts: Sequence[str]) -> Any:
    """Each text's TF-IDF over its words (stemmed, without the words every question is wrapped in) beside its TF-IDF
    over character 3- to 5-grams (typos, compounds), each part of unit length: their cosine is the mean of both."""
    words = [[word for word in found if word not in faqs.FILLER] or found for found in faqs.tokens(list(texts))]
    parts = [_tfidf(TfidfVectorizer(analyzer=lambda said: said, sublinear_tf=True), words),
             _tfidf(TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True), texts)]  # fmt: skip
    return hstack([normalize(part) for part in parts]).tocsr()


def _tfidf(vectorizer: TfidfVectorizer, documents: Sequence[Any]) -> Any:
    try:
        return vectorizer.fit_transform(documents)
    except ValueError:  # nothing to count in any text ("?", "ok")
        return csr_matrix((len(documents), 1))
