"""How well and how fast does salesbot hold a sales conversation?

    python bench/conversations.py [--turns 400]

Prints, each next to a baseline measured in the same run:
  - field extraction accuracy per field on real lead-form answers (Rasa's sales demo, labelled), against
    taking the whole answer as the value;
  - FAQ retrieval on two sets of our own paraphrases of the e-commerce FAQ dataset (A tuned on, B held out):
    answered with a right FAQ (top-1), answered with a wrong one, off-topic messages refused, by meaning and
    words (now) against BM25 alone (before); the embedding model's load time, cost per message and memory;
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
import resource
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
from salesbot.conversation.embeddings import LocalModel
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
SETS = {  # our own paraphrases (set A tuned on; set B written before tuning, never tuned on) and off-topic messages
    "A (tuned on)": Path(__file__).resolve().parent / "faq" / "tuning_a.json",
    "A2 (tuned on, harder)": Path(__file__).resolve().parent / "faq" / "tuning_a2.json",
    "B (held out)": Path(__file__).resolve().parent / "faq" / "held_out_b.json",
}
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


def faq_retrieval() -> tuple[list[tuple], list[tuple]]:
    """Per set: top-1 (answered with a right FAQ), wrong answers, off-topic refused; words alone vs meaning."""
    entries = json.loads(FAQ_FILE.read_text(encoding="utf-8"))["questions"]
    chosen = {name: json.loads(path.read_text(encoding="utf-8")) for name, path in SETS.items()}
    with tempfile.TemporaryDirectory() as folder:
        shop = _shop(Path(folder))
        hybrid = shop.conversations.library
        started = time.perf_counter()
        ids = [faqs.create(uow=shop.uow(), question=e["question"], answer=e["answer"]).id for e in entries]
        hybrid.refresh()  # loads the model and embeds the FAQ once
        embedded = time.perf_counter() - started
        words = faqs.Library(shop.uow)  # the behaviour before: BM25 and the word-match threshold
        minimum = shop.settings.faq_min_match
        rows = []
        for name, cases in chosen.items():
            before = _scores(lambda q: words.search(q, k=1, min_match=minimum), cases, ids)
            now = _scores(lambda q: hybrid.search(q, k=1), cases, ids)
            rows.append((name, "BM25 alone (before)", *(f"{v:.1%}" for v in before), ""))
            ratios = f"{_ratio(now[0], before[0])} / {_ratio(now[1], before[1])}"
            rows.append((name, "meaning + words (now)", *(f"{v:.1%}" for v in now), ratios))
        texts = [case["text"] for cases in chosen.values() for case in cases["paraphrases"]]
        times = _embed_times(shop.embedder, texts)
        shop.close()
    costs = [
        ("model load, first use in the process (torch import included)", f"{LocalModel.load_seconds or 0:.1f} s"),
        (f"embedding the {len(entries)} FAQs once (two texts each) and storing them", f"{embedded:.1f} s"),
        ("embedding one message, p50 / p99", f"{np.percentile(times, 50):.1f} / {np.percentile(times, 99):.1f} ms"),
        (
            "process memory after loading (max RSS)",
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
        ),
    ]
    return rows, costs


def _scores(search, cases: dict, ids: list[str]) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    right = wrong = 0
    for case in cases["paraphrases"]:
        found = search(case["text"])
        if found:
            good = found[0].faq_id in {ids[n] for n in case["faq"]}
            right, wrong = right + good, wrong + (not good)
    refused = float(np.mean([not search(text) for text in cases["off_topic"]]))
    return right / len(cases["paraphrases"]), wrong / len(cases["paraphrases"]), refused


def _ratio(now: float, before: float) -> str:
    return f"{now / before:.2f}x" if before else "n/a"


def _embed_times(embedder, texts: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    inner = getattr(embedder, "inner", embedder)  # past the cache: every message is new to the model
    times = []
    for text in texts:
        started = time.perf_counter()
        inner.encode([text])
        times.append(time.perf_counter() - started)
    return np.array(times) * 1000


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
        retrieval, costs = faq_retrieval()
        headers = ("set", "FAQ retrieval", "top-1 right", "wrong answer", "off-topic refused", "ratio top-1 / wrong")
        print(tabulate(retrieval, headers=headers))
        print("targets on set B: top-1 >= 85%, wrong <= 5%, off-topic refused >= 95%\n")
        print(tabulate(costs, headers=("embedding model (all-MiniLM-L6-v2, CPU, one thread)", "")), "\n")
    qualified, timing, ours = conversations(args.turns)
    print(tabulate(qualified, headers=("scripted visitor", "turns to qualified", "one field per turn")), "\n")
    print(tabulate(timing, headers=("server time per turn", "p50 ms", "p99 ms")))
    print(f"target p99 <= 25 ms with the rules brain: {'met' if np.percentile(ours, 99) <= 25 else 'NOT met'}\n")
    print(tabulate(prompt_tokens(), headers=("LLM", "turns", "median", "max", "target max")))


if __name__ == "__main__":
    main()
