"""The `reembed` job: FAQs and catalog items whose text changed since their vectors were made (an import, an edit
in another process, a new embedding model) embedded again, so that no visitor waits for it."""

from __future__ import annotations

from collections.abc import Callable

from salesbot.conversation import faqs, item_vectors
from salesbot.conversation.embeddings import Embedder
from salesbot.database import UnitOfWork
from salesbot.upkeep.runs import Done


def run(*, new_uow: Callable[[], UnitOfWork], embedder: Embedder | None) -> Done:
    if embedder is None:
        return Done(summary="no embedding model is configured (SALESBOT_EMBEDDINGS=off)", skipped=True)
    faqs_done, faq_count = faqs.embed_changed(uow=new_uow(), embedder=embedder)
    items_done, item_count = item_vectors.embed_changed(
        new_uow=new_uow, embedder=embedder, at_most=item_vectors.AT_MOST
    )
    details = {"model": embedder.name, "faqs": faqs_done, "of_faqs": faq_count, "items": items_done,
               "of_items": item_count}  # fmt: skip
    if not faqs_done and not items_done:
        return Done(f"{faq_count:,} FAQs and {item_count:,} items were up to date ({embedder.name})", details)
    more = "; more items next run" if items_done >= item_vectors.AT_MOST else ""
    return Done(f"re-embedded {faqs_done:,} FAQs and {items_done:,} items with {embedder.name}{more}", details)
