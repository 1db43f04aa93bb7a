"""Catalog items' vectors: each item's title, category and description as the embedding model saw it, stored per
model in `item_vectors` and embedded again only when that text changed."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from models import Item
from models.conversation import ItemVector
from salesbot.conversation.embeddings import Embedder, to_bytes
from salesbot.database import UnitOfWork

log = logging.getLogger(__name__)
PAGE = 500  # items read, embedded and stored at a time: a worker that stops keeps what it stored
AT_MOST = 5_000  # items embedded in one run of the `reembed` job, so that a run stays inside its lease
LONGEST = 2000  # characters of the description: the models read a few hundred tokens at most


def text_of(title: str, category: str | None, description: str | None) -> str:
    """What an item is, in words: "Arcbook Laptop (laptops): 14-inch, 16 GB ..."."""
    shelf = f" ({category.replace('-', ' ')})" if category else ""
    about = f": {description[:LONGEST]}" if description else ""
    return f"{title}{shelf}{about}"


def embed_changed(*, new_uow: Callable[[], UnitOfWork], embedder: Embedder, at_most: int = AT_MOST) -> tuple[int, int]:
    """Embed the items whose text is new or changed since their vectors were stored, a page at a time, up to
    `at_most` a run (so that a run stays well inside its lease; the next run goes on from there); answers how many
    were embedded, of how many items looked at."""
    with new_uow() as uow:
        stamps = dict(uow.session.execute(
            select(ItemVector.item_id, ItemVector.text_sha256).where(ItemVector.model == embedder.name)
        ).all())  # fmt: skip
    embedded = total = 0
    after = ""
    while True:
        with new_uow() as uow:
            page = uow.session.execute(
                select(Item.item_id, Item.title, Item.category, Item.description)
                .where(Item.item_id > after).order_by(Item.item_id).limit(PAGE)
            ).all()  # fmt: skip
        if not page or embedded >= at_most:
            return embedded, total
        texts = {item_id: text_of(title, category, description) for item_id, title, category, description in page}
        changed = {item_id: text for item_id, text in texts.items() if stamps.get(item_id) != _stamp(text)}
        if changed:
            _save(new_uow(), embedder, changed)
        embedded, total, after = embedded + len(changed), total + len(page), page[-1][0]


def _stamp(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _save(uow: UnitOfWork, embedder: Embedder, texts: dict[str, str]) -> None:
    vectors = embedder.encode(list(texts.values()))
    try:
        with uow:
            uow.session.execute(
                delete(ItemVector).where(ItemVector.model == embedder.name, ItemVector.item_id.in_(list(texts)))
            )
            uow.session.add_all(
                ItemVector(item_id=item_id, model=embedder.name, text_sha256=_stamp(text), vector=to_bytes(vector))
                for (item_id, text), vector in zip(texts.items(), vectors, strict=True)
            )
            uow.commit()
    except IntegrityError:  # another worker stored them first, or an item was deleted meanwhile
        log.info("item vectors stored by another process")
