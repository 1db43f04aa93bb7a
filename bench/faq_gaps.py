"""Are unanswered questions grouped as a marketer would group them?

    python bench/faq_gaps.py

Questions labelled with the question they ask, in four sets:
  - store A+A2 (tuning): bench/faq's tuning sets, our own visitors' words for the Kaggle e-commerce FAQ's questions
    (entries that say the same thing count as one question) and one-off off-topic messages;
  - Rasa train (tuning): the FAQ intents of the Rasa demo bot's NLU training data (../shared/datasets/, GPL-3.0, read
    here only, never copied);
  - store B (held out): bench/faq/held_out_b.json, written before any tuning and never tuned on;
  - Rasa test (held out): the FAQ and chit-chat intents of the Rasa demo's NLU test file (the chit-chat intents
    appear in no tuning set).
For each way of grouping (sentence embeddings of all-MiniLM-L6-v2; TF-IDF words), the cut (the average cosine
distance under which two groups merge) is swept on the tuning sets and the one with the best mean adjusted Rand index
there is kept; every set is then scored at that cut: adjusted Rand index, V-measure, and pairwise precision (pairs
put together that ask the same thing) and recall (pairs that ask the same thing put together).
Then the time to group 250 and 1,000 distinct real product questions (Amazon Q&A, Appliances; research use, read
here only) both ways, the largest window FAQ gaps groups (gaps.GROUP_AT_MOST).
"""

from __future__ import annotations

import ast
import gzip
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.metrics import adjusted_rand_score, v_measure_score
from sklearn.metrics.cluster import pair_confusion_matrix
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from salesbot.conversation.embeddings import LocalModel
from salesbot.upkeep import gaps, grouping

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parents[1] / "shared" / "datasets"
RASA = DATASETS / "rasa-demo-sales-form"
AMAZON = DATASETS / "amazon-qa-appliances" / "qa_Appliances.json.gz"
MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
CUTS = [round(cut, 2) for cut in np.arange(0.30, 0.96, 0.05)]


def store_set(*names: str) -> tuple[list[str], list[int]]:
    """Paraphrases labelled by the FAQ entries that answer them (entries listed together are one question); each
    off-topic message a question of its own."""
    cases = [case for name in names for case in json.loads((HERE / "faq" / name).read_text())["paraphrases"]]
    off = [text for name in names for text in json.loads((HERE / "faq" / name).read_text()).get("off_topic", [])]
    entries = sorted({entry for case in cases for entry in case["faq"]})
    at = {entry: n for n, entry in enumerate(entries)}
    pairs = [(at[case["faq"][0]], at[other]) for case in cases for other in case["faq"]]
    rows, cols = zip(*pairs, strict=True)
    graph = coo_matrix((np.ones(len(pairs)), (rows, cols)), shape=(len(entries), len(entries)))
    question = connected_components(graph, directed=False)[1]
    labels = [int(question[at[case["faq"][0]]]) for case in cases]
    return [case["text"] for case in cases] + off, labels + [len(entries) + n for n in range(len(off))]


def rasa_set(path: Path, prefixes: tuple[str, ...]) -> tuple[list[str], list[int]]:
    texts, labels, intents = [], [], {}
    for block in yaml.safe_load(path.read_text())["nlu"]:
        intent = block.get("intent", "")
        if not intent.startswith(prefixes):
            continue
        for line in block["examples"].splitlines():
            example = MARKUP.sub(r"\1", line.strip().removeprefix("- ").strip())
            if example:
                texts.append(example)
                labels.append(intents.setdefault(intent, len(intents)))
    return texts, labels


def scores(truth: list[int], found: np.ndarray) -> dict[str, float]:
    (_tn, fp), (fn, tp) = pair_confusion_matrix(truth, found)
    return {
        "ari": adjusted_rand_score(truth, found),
        "v": v_measure_score(truth, found),
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
    }


def main() -> None:
    sets = {
        "store A+A2 (tuning)": store_set("tuning_a.json", "tuning_a2.json"),
        "Rasa train (tuning)": rasa_set(RASA / "data" / "nlu" / "faq.yml", ("faq/",)),
        "store B (held out)": store_set("held_out_b.json"),
        "Rasa test (held out)": rasa_set(RASA / "tests" / "test_nlu.yml", ("faq/", "chitchat/")),
    }
    tuning = [name for name in sets if "tuning" in name]
    model = LocalModel()
    rows = []
    for method, embedder in (("all-MiniLM-L6-v2", model), (grouping.WORDS, None)):
        found = {
            name: {cut: grouping.group(texts, embedder=embedder, cut=cut).labels for cut in CUTS}
            for name, (texts, _labels) in sets.items()
        }
        sweep = {cut: np.mean([scores(sets[name][1], found[name][cut])["ari"] for name in tuning]) for cut in CUTS}
        best = max(sweep, key=lambda cut: sweep[cut])
        print(f"{method}: mean tuning ARI by cut " + ", ".join(f"{cut:.2f}: {ari:.3f}" for cut, ari in sweep.items()))
        for name, (texts, labels) in sets.items():
            figures = scores(labels, found[name][best])
            rows.append((method, f"{best:.2f}", name, len(texts), len(set(labels)), len(set(found[name][best])),
                         *(f"{figures[key]:.3f}" for key in ("ari", "v", "precision", "recall"))))  # fmt: skip
    headers = ("grouped by", "cut", "set", "questions", "true groups", "groups found", "ARI", "V-measure",
               "pair precision", "pair recall")  # fmt: skip
    print(tabulate(rows, headers=headers, tablefmt="github"))
    timing(model)


def timing(model: LocalModel) -> None:
    with gzip.open(AMAZON, "rt") as lines:
        questions = list(dict.fromkeys(ast.literal_eval(line)["question"] for line in lines))
    rows = []
    for size in (250, gaps.GROUP_AT_MOST):
        for method, embedder in (("all-MiniLM-L6-v2", model), (grouping.WORDS, None)):
            started = time.perf_counter()
            found = grouping.group(questions[:size], embedder=embedder)
            rows.append((size, method, f"{time.perf_counter() - started:.2f}", len(set(found.labels))))
    print(tabulate(rows, headers=("distinct questions", "grouped by", "seconds", "groups"), tablefmt="github"))


if __name__ == "__main__":
    main()
