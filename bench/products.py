"""Do the products a conversation shows fit what the visitor wants?

    python bench/products.py

On the demo store's catalog (3,000 items in 14 categories), for each typed need of two sets (A, tuned on; B,
written before any tuning and never tuned on), each with the shelf that fits or none when the store carries
nothing that does, prints next to the turn's former behaviour (category matched by name, else popular items):
  - relevance: shown products on the shelf that fits, over all shown for needs that have one;
  - coverage: needs that have a shelf and got at least one product;
  - honesty: needs the store cannot serve that got no product at all;
  - time per pick (the first pick by meaning embeds the shelves; a visitor's need is embedded per pick).
"now" is shown with words alone (category names and title words) and with meaning as the fallback.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from salesbot import schema
from salesbot.bootstrap import bootstrap
from salesbot.catalog import demo, items
from salesbot.config import Settings
from salesbot.conversation import products
from salesbot.conversation.rules import match_category
from salesbot.recommender.serving import Filters

SETS = {"A (tuned on)": "needs_a.json", "B (held out)": "needs_b.json"}


def before(services, categories: tuple[str, ...], need: str) -> list[str]:
    """The turn before issue 11: the category named in the need, else the most popular items of the store."""
    found = services.recommender.popular(n=products.SHOWN, filters=Filters(category=match_category(need, categories)))
    return [suggestion.category for suggestion in found.items]


def now(services, aisles: products.Aisles, need: str) -> list[str]:
    said = {"need": {"text": need}}
    visitor = products.Visitor(customer_id=None, viewed=(), shown=frozenset())
    fit = products.pick(
        recommender=services.recommender, aisles=aisles, visitor=visitor, known=said, learnt=said, currency="EUR"
    )
    return [product.category for product in fit.products]


def score(cases: list[tuple[str, str | None]], shown_for) -> dict[str, float]:  # type: ignore[no-untyped-def]
    right = shown = covered = servable = honest = unservable = 0
    started = time.perf_counter()
    for need, shelf in cases:
        categories = shown_for(need)
        if shelf is None:
            unservable += 1
            honest += not categories
        else:
            servable += 1
            covered += bool(categories)
            shown += len(categories)
            right += sum(category == shelf for category in categories)
    elapsed = (time.perf_counter() - started) / len(cases)
    return {
        "relevance": right / max(shown, 1),
        "coverage": covered / max(servable, 1),
        "honesty": honest / max(unservable, 1),
        "ms per pick": elapsed * 1000,
    }


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'bench.db'}"
    schema.upgrade(url)
    services = bootstrap(Settings(database_url=url))
    shelf = demo.catalog(demo.DemoSize(), np.random.default_rng(7))
    with services.uow() as uow:
        items.rows.take(uow.session.connection(), shelf)
        uow.commit()
    categories = tuple(sorted(shelf.category.unique()))
    by_words = products.Aisles(services.uow)
    by_meaning = products.Aisles(services.uow, embedder=services.embedder)
    rows = []
    for name, file in SETS.items():
        cases = [tuple(case) for case in json.loads((Path(__file__).parent / "products" / file).read_text())["needs"]]
        old = score(cases, lambda need: before(services, categories, need))
        words = score(cases, lambda need: now(services, by_words, need))
        new = score(cases, lambda need: now(services, by_meaning, need))
        for metric in ("relevance", "coverage", "honesty", "ms per pick"):
            ratio = new[metric] / old[metric] if old[metric] else float("inf")
            row = [name, metric, f"{old[metric]:.3f}", f"{words[metric]:.3f}", f"{new[metric]:.3f}", f"{ratio:.2f}x"]
            rows.append(row)
    print(f"Products shown for a stated need, demo catalog ({len(shelf):,} items, {len(categories)} categories)")
    headers = ["set", "metric", "before", "now, words only", "now, words then meaning", "now / before"]
    print(tabulate(rows, headers=headers, tablefmt="github"))
    services.close()


if __name__ == "__main__":
    main()
