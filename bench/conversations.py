"""How well and how fast does salesbot hold a sales conversation?

    python bench/conversations.py [--turns 400]

Prints, each next to a baseline measured in the same run:
  - field extraction accuracy per field on real lead-form answers (Rasa's sales demo, labelled), against
    taking the whole answer as the value;
  - FAQ retrieval top-1 accuracy on paraphrased questions (our own paraphrases of the e-commerce FAQ dataset),
    BM25 with stemming against plain word overlap, and how often off-topic questions are (rightly) not answered;
  - turns to a qualified lead for scripted visitors, against asking one field per turn;
  - server time per turn with the rules brain on a demo store with a trained model (p50/p99), against the
    trivial /healthz endpoint of the same app;
  - prompt tokens per LLM turn (about four characters a token), through the real openai client against a
    scripted OpenAI-compatible server on loopback.
The datasets are read from ../shared/datasets; a part whose data is absent is skipped.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api import create_app
from salesbot import schema
from salesbot.access import keys
from salesbot.bootstrap import bootstrap
from salesbot.catalog import demo
from salesbot.config import Settings
from salesbot.conversation import faqs
from salesbot.recommender import pipeline, versions
from tests.labelled import RASA, answers, extracted, is_right
from tests.llm_server import ScriptedLLM

FAQ_FILE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "datasets"
    / "ecommerce-faq-kaggle"
    / ("Ecommerce_FAQ_Chatbot_dataset.json")
)
PARAPHRASES = {  # our words -> index of the FAQ entry that answers them
    "how do I sign up for an account": 0,
    "can I pay with paypal or a credit card": 1,
    "where is my parcel, can I follow the delivery": 2,
    "what's the policy on returning things": 3,
    "I want to cancel what I ordered": 4,
    "how many days until my package arrives": 5,
    "do you deliver to other countries": 6,
    "my parcel arrived broken, what now": 7,
    "I moved, can I update the delivery address on my order": 8,
    "how do I reach your support team": 9,
    "can you wrap it as a present": 10,
    "will you match a lower price from a competitor": 11,
    "is it possible to place an order over the telephone": 12,
    "is my credit card information safe with you": 13,
    "the price dropped after I bought, can I get the difference": 14,
    "is there a rewards program for regular customers": 15,
    "can I check out as a guest without registering": 16,
    "do you give discounts for large wholesale orders": 17,
    "I want to remove one item from my order": 18,
    "where can I write a review of a product": 19,
    "can I combine two promo codes": 20,
    "you sent me the wrong product": 21,
    "is there faster express delivery": 22,
    "can I buy something that is currently out of stock": 23,
    "what do you send in your newsletter": 24,
    "I changed my mind, can I send it back": 25,
    "do you have a live chat with an agent": 26,
    "can I send a product to someone as a gift": 27,
    "my coupon code doesn't work": 28,
    "can I return items bought in the final sale": 29,
    "do you install the products for me": 30,
    "can I return something without the receipt": 32,
    "can I include a gift message": 34,
    "can I see a demo of the product before I buy it": 35,
    "I need an invoice for my purchase": 37,
    "do you make custom personalised products": 55,
    "I threw away the original box, can I still return it": 39,
    "can you fix or replace a damaged product": 46,
    "can I return a gift I received": 48,
    "the item isn't available in my size": 52,
}
OFF_TOPIC = [
    "what is the capital of france",
    "do you sell horses",
    "tell me a joke",
    "who won the football match yesterday",
    "what's the weather like in berlin",
    "can you write my homework essay",
    "how tall is mount everest",
    "what is your favourite colour",
    "recommend me a movie for tonight",
    "how do I bake sourdough bread",
]
VISITORS = {
    "says everything at once": [
        "Hi, I'm Maria from Acme, we need 40 tablets by March, budget about 10k EUR, I'm the head of purchasing",
        "maria@acme.example",
    ],
    "answers one thing at a time": ["we need laptops", "around 3000 EUR", "next month", "I'm the CTO", "cto@x.example"],
    "asks questions in between": [
        "looking for coffee machines",
        "how long does shipping take?",
        "my budget is 800 EUR",
        "within 2 weeks",
        "I'm the owner",
        "owner@cafe.example",
    ],
    "needs to be asked again": [
        "we need a new printer",
        "not sure, what do you think?",
        "1,500 EUR",
        "asap",
        "office manager, I decide",
        "om@firm.example",
    ],
}


def extraction() -> list[tuple]:
    rows = []
    by_field: dict[str, list[tuple[bool, bool]]] = {}
    for answer in answers():
        ours = is_right(answer, extracted(answer))
        whole = answer.text.strip().lower() == answer.span.strip().lower()  # the baseline: all of it is the value
        by_field.setdefault(answer.field, []).append((ours, whole))
    for field, results in sorted(by_field.items()):
        ours, whole = (sum(column) / len(results) for column in zip(*results, strict=True))
        rows.append((field, len(results), f"{ours:.1%}", f"{whole:.1%}"))
    return rows


def faq_retrieval() -> list[tuple]:
    entries = json.loads(FAQ_FILE.read_text(encoding="utf-8"))["questions"]
    with tempfile.TemporaryDirectory() as folder:
        shop = _shop(Path(folder))
        ids = [faqs.create(uow=shop.uow(), question=e["question"], answer=e["answer"]).id for e in entries]
        library = shop.conversations.library
        minimum = shop.settings.faq_min_match
        top1 = [(library.search(q, k=1) or [None])[0] for q in PARAPHRASES]
        right = [hit is not None and hit.faq_id == ids[n] for hit, n in zip(top1, PARAPHRASES.values(), strict=True)]
        answered = [bool(library.search(q, k=1, min_match=minimum)) for q in PARAPHRASES]
        refused = [not library.search(q, k=1, min_match=minimum) for q in OFF_TOPIC]
        shop.close()
    overlap = [_overlap_top1(q, entries) == n for q, n in PARAPHRASES.items()]
    return [
        ("paraphrases answered by the right FAQ (top-1)", f"{np.mean(right):.1%}", f"{np.mean(overlap):.1%}"),
        (f"paraphrases answered at all (match >= {minimum})", f"{np.mean(answered):.1%}", ""),
        ("off-topic questions not answered", f"{np.mean(refused):.1%}", ""),
    ]


def _overlap_top1(question: str, entries: list[dict]) -> int:
    words = set(re.findall(r"\w+", question.lower()))
    shared = [len(words & set(re.findall(r"\w+", e["question"].lower()))) for e in entries]
    return int(np.argmax(shared))


def conversations(turn_count: int) -> tuple[list[tuple], list[tuple], np.ndarray]:
    with tempfile.TemporaryDirectory() as folder:
        shop = _shop(Path(folder), demo_store=True)
        client = create_app(services=shop).test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + keys.create(uow=shop.uow(), role="server", name="b")[1]
        required = len(shop.conversations.start(customer_id=None, visitor_id="x", channel="web", page={})
                       ["lead"]["missing"])  # fmt: skip
        qualified = [(name, _turns_to_qualify(client, script), required) for name, script in VISITORS.items()]
        ours, trivial = _turn_times(client, turn_count)
        shop.close()
    rows = [(name, turns if turns else "not qualified", baseline) for name, turns, baseline in qualified]
    timing = [
        ("one turn, rules brain (POST /messages)", f"{np.percentile(ours, 50):.1f}", f"{np.percentile(ours, 99):.1f}"),
        ("trivial endpoint (GET /healthz)", f"{np.percentile(trivial, 50):.2f}", f"{np.percentile(trivial, 99):.2f}"),
    ]
    return rows, timing, ours


def _turns_to_qualify(client, script: list[str]) -> int | None:
    cid = client.post("/v1/conversations", json={"visitor_id": "scripted"}).json["conversation_id"]
    for turn, text in enumerate(script, start=1):
        answer = client.post(f"/v1/conversations/{cid}/messages", json={"text": text}).json
        if answer["lead"]["status"] == "qualified":
            return turn
    return None


def _turn_times(client, count: int) -> tuple[np.ndarray, np.ndarray]:
    lines = [line for script in VISITORS.values() for line in script]
    ours, trivial = [], []
    cid = None
    for n in range(count):
        if n % len(lines) == 0:
            cid = client.post("/v1/conversations", json={"visitor_id": f"timed-{n}"}).json["conversation_id"]
        started = time.perf_counter()
        client.post(f"/v1/conversations/{cid}/messages", json={"text": lines[n % len(lines)]})
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        client.get("/healthz")
        trivial.append(time.perf_counter() - started)
    return np.array(ours) * 1000, np.array(trivial) * 1000


def prompt_tokens() -> list[tuple]:
    server = ScriptedLLM().start()
    server.script = [{"reply": "Noted.", "intent": "ask", "fields": {}}]
    with tempfile.TemporaryDirectory() as folder:
        shop = _shop(Path(folder), demo_store=True, llm_base_url=server.base_url)
        if FAQ_FILE.exists():
            for entry in json.loads(FAQ_FILE.read_text(encoding="utf-8"))["questions"]:
                faqs.create(uow=shop.uow(), question=entry["question"], answer=entry["answer"])
        conversations = shop.conversations
        for name, script in VISITORS.items():
            cid = conversations.start(customer_id=None, visitor_id=name, channel="web", page={})["conversation_id"]
            for text in script:
                conversations.say(cid, text)
        shop.close()
    server.stop()
    tokens = np.array([sum(len(m["content"]) for m in r["messages"]) / 4 for r in server.requests])
    return [("prompt tokens per LLM turn", len(tokens), f"{np.median(tokens):,.0f}", f"{tokens.max():,.0f}", "2,000")]


def _shop(folder: Path, *, demo_store: bool = False, **settings):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{folder / 'bench.db'}"
    schema.upgrade(url)
    shop = bootstrap(Settings(database_url=url, conversation_rate_limit="100000/minute", **settings))
    if demo_store:
        size = demo.DemoSize(items=2_000, customers=1_000, sessions=20_000)
        for _part in demo.generate(uow=shop.uow, size=size, until=datetime.now(UTC), policy=shop.event_policy):
            pass
        plan = pipeline.Plan(params=pipeline.Params(epochs=5, components=32))
        version = pipeline.train(uow=shop.uow, plan=plan, weights=shop.settings.event_weights)
        versions.activate(uow=shop.uow(), version_id=version.id)
        faqs.create(uow=shop.uow(), question="How long does shipping take?", answer="Orders ship in 2 days.")
    return shop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=400, help="turns timed with the rules brain")
    args = parser.parse_args()
    if RASA.exists():
        print(tabulate(extraction(), headers=("field", "answers", "ours", "whole answer (baseline)")), "\n")
    if FAQ_FILE.exists():
        print(tabulate(faq_retrieval(), headers=("FAQ retrieval", "BM25 (ours)", "word overlap (baseline)")), "\n")
    qualified, timing, ours = conversations(args.turns)
    print(tabulate(qualified, headers=("scripted visitor", "turns to qualified", "one field per turn")), "\n")
    print(tabulate(timing, headers=("server time per turn", "p50 ms", "p99 ms")))
    print(f"target p99 <= 25 ms with the rules brain: {'met' if np.percentile(ours, 99) <= 25 else 'NOT met'}\n")
    print(tabulate(prompt_tokens(), headers=("LLM", "turns", "median", "max", "target max")))


if __name__ == "__main__":
    main()
