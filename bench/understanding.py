"""Does the bot understand what visitors mean? Questions, declines, requests for a person, local formats.

    python bench/understanding.py [--baseline b60e818]

Runs the same cases through the API twice, in separate processes: once on this tree and once on the code as it
was before issue 11 (the `--baseline` commit, unpacked with `git archive`), and prints each figure next to
today's. Two case sets: `tuned` (written first and used while building) and `held out` (written at the same time,
before any tuning, and never looked at while tuning: real shoppers' questions from Amazon's appliance Q&A and
Rasa's "talk to a human" examples, plus hand-written visitors). The datasets are read from ../shared/datasets.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
AMAZON = DATASETS / "amazon-qa-appliances" / "qa_Appliances.json.gz"
RASA_NLU = DATASETS / "rasa-demo-sales-form" / "data" / "nlu" / "nlu.yml"
STOCK = [
    ("tab-1", "Tablet Lite", "tablets", "199"), ("tab-2", "Tablet Pro", "tablets", "649"),
    ("lap-1", "Laptop Air", "laptops", "999"), ("lap-2", "Laptop Studio", "laptops", "2499"),
    ("mon-1", "Monitor 24 inch", "monitors", "189"), ("mon-2", "Monitor 32 inch 4K", "monitors", "549"),
    ("prn-1", "Laser Printer", "printers", "329"), ("prn-2", "Office Inkjet", "printers", "149"),
]  # fmt: skip
FAQS = [
    ("How long does shipping take?", "Orders ship within 2 days."),
    ("Can I return a product?", "Yes, within 30 days, for free."),
    ("Do you sell gift cards?", "Yes, gift cards from 10 to 500 EUR."),
]
# Where the question is typed: the answers given before it (so the bot is asking for need, budget, ...).
MID_FORM = [[], ["we need laptops"], ["we need laptops", "3000 EUR"], ["we need laptops", "3000 EUR", "next month"],
            ["we need laptops", "3000 EUR", "next month", "I'm the CTO, I decide"]]  # fmt: skip

TUNED_QUESTIONS = [
    "can I sign up for your newsletter?", "do you have student discounts?", "what do you sell?",
    "how long does shipping take?", "can I return a product?", "do you ship to Austria?",
    "is there a warranty on laptops?", "what payment methods do you accept?", "can I pay by invoice?",
    "do you offer installation?", "who decides on refunds?", "can I talk about my budget later?",
    "is the CEO discount still on?", "are you a real person?", "how much is the Tablet Pro?",
    "do you have anything under 500 EUR?", "can I order 50 tablets by March?", "what's your phone number?",
    "could you email me at anna@example.com?", "is 3000 EUR enough for a laptop?",
    "where are you based?", "when do you open?", "do I need an account to order?", "can my boss approve it later?",
    "what is the delivery time to the UK?", "do you sell refurbished monitors?", "will prices drop next quarter?",
    "how do I track my order?", "can we get a quote for 20 employees?", "does the laptop come with Windows?",
    "what's the biggest monitor you have?", "do you price match?", "is there a discount for businesses?",
    "Can I pay in USD?", "Do you deliver on weekends?", "what if I'm not the decision maker?",
    "how many people work at your store?", "can I reach sales at +49 30 1234567?",
    "why do you need my email?", "what do you do with my data?",
]  # fmt: skip
TUNED_DECLINES = [
    "prefer not to say", "dunno", "skip that", "not telling", "I'd rather not say", "no idea",
    "pass", "none of your business", "I don't want to share that", "skip", "not sure", "can't say",
    "let's skip this one", "I'll keep that to myself", "no comment",
]  # fmt: skip
TUNED_HUMANS = [
    "Ich möchte mit einem Menschen sprechen", "quiero hablar con una persona", "Je voudrais parler à quelqu'un",
    "agent please", "can I talk to a human?", "real person please", "put me through to sales",
    "I want to speak to someone", "Kann ich mit jemandem sprechen?", "operator",
]  # fmt: skip
HELD_OUT_DECLINES = [
    "rather not say", "whatever", "I'd rather not share that", "no thanks", "nah", "n/a", "don't know",
    "I'd prefer not to answer", "not gonna tell you", "next question", "that's private", "i don't know yet",
    "no clue", "won't say", "move on",
]  # fmt: skip
HELD_OUT_HUMANS_EXTRA = [
    "Vorrei parlare con un operatore", "Quero falar com um atendente", "Ik wil een medewerker spreken",
    "connect me to support staff", "can a salesperson call me?", "möchte mit jemandem reden",
]  # fmt: skip

# (name, page, messages, expected final status, expected values: "a.b" paths in the lead; "declined" a subset)
TUNED_VISITORS = [
    ("hot, all at once", {}, ["Hi, I'm Maria from Acme, we need 40 tablets by March, budget about 10k EUR, "
                              "I'm the head of purchasing", "maria@acme.example"],
     "qualified", {"name": "Maria", "company": "Acme", "need.category": "tablets", "budget.amount": 10000.0,
                   "email": "maria@acme.example"}),
    ("one at a time", {}, ["we need laptops", "around 3000 EUR", "next month", "I'm the CTO", "cto@x.example"],
     "qualified", {"need.category": "laptops", "budget.amount": 3000.0, "authority.decision_maker": True}),
    ("GBP and a UK phone", {}, ["looking for monitors", "£2,000", "within 2 weeks", "I'm the owner, I decide",
                                "tom@shop.example", "07911 123456"],
     "qualified", {"budget.currency": "GBP", "phone": "+447911123456", "need.category": "monitors"}),
    ("USD and a US phone", {}, ["we want printers", "about 5k bucks", "asap", "office manager and I make the decision",
                                "jane@firm.example", "(212) 555-0100"],
     "qualified", {"budget.currency": "USD", "budget.amount": 5000.0, "phone": "+12125550100"}),
    ("decliner, browsing", {}, ["just looking at laptops", "prefer not to say", "no rush, just browsing",
                                "not telling", "skip that"],
     "nurture", {"declined": ["budget", "authority", "email"], "need.category": "laptops"}),
    ("cold student", {}, ["I'm a student, just browsing tablets", "maybe 150 euros", "some day",
                          "my parents decide", "stud@uni.example"],
     "nurture", {"budget.amount": 150.0, "authority.decision_maker": False, "email": "stud@uni.example"}),
    ("questions mid-form", {}, ["looking for monitors", "can I sign up for your newsletter?",
                                "do you have student discounts?", "800 EUR", "within 2 weeks", "I'm the owner",
                                "owner@cafe.example"],
     "qualified", {"authority.role": "owner", "budget.amount": 800.0, "need.category": "monitors"}),
    ("corrects the budget", {}, ["need 20 monitors", "budget 4000 EUR", "actually, make it 5000", "next quarter",
                                 "I'm the CEO", "ceo@corp.example"],
     "qualified", {"budget.amount": 5000.0, "need.category": "monitors"}),
    ("no overwrite by later answers", {}, ["we need ergonomic laptops for the whole team", "10k EUR",
                                           "by the end of next month, the decision is mine", "a@b.example"],
     "qualified", {"need.category": "laptops", "authority.decision_maker": True}),
    ("CHF and a Swiss phone", {}, ["laptops for our office", "budget CHF 12'000", "in 3 weeks",
                                   "head of IT, I sign off", "it@firma.example", "044 668 18 00"],
     "qualified", {"budget.currency": "CHF", "phone": "+41446681800"}),
    ("per-unit budget", {}, ["25 monitors, 10k total", "next month", "I'm the buyer and I decide", "buy@x.example"],
     "qualified", {"budget.amount": 10000.0, "budget.per_unit": 400.0, "need.category": "monitors"}),
    ("asks for a person in German", {}, ["Ich möchte mit einem Menschen sprechen"], "handed_off", {}),
    ("PLN and a Polish phone", {}, ["tablets", "5 000 zł", "asap", "owner, I decide", "o@x.example",
                                    "512 345 678"],
     "qualified", {"budget.currency": "PLN", "phone": "+48512345678"}),
]  # fmt: skip
HELD_OUT_VISITORS = [
    ("hot, one long message", {}, ["hello, Sam Okafor here from Brightline Ltd. We want 12 laptops before June, "
                                   "roughly 18,000 euro, and I'm the COO so it's my decision",
                                   "sam.okafor@brightline.example"],
     "qualified", {"need.category": "laptops", "budget.amount": 18000.0, "email": "sam.okafor@brightline.example"}),
    ("NOK and a Norwegian phone", {}, ["we're after tablets for a school", "around 30 000 NOK", "this quarter",
                                       "I'm the principal and I decide", "rektor@skole.example", "412 34 567"],
     "qualified", {"budget.currency": "NOK", "phone": "+4741234567"}),
    ("yen", {}, ["printers please", "¥300,000", "within a month", "purchasing manager, I approve", "buyer@kk.example"],
     "qualified", {"budget.currency": "JPY", "budget.amount": 300000.0}),
    ("decliner, monitors", {}, ["monitors", "rather not say", "whenever", "I'd rather not share that", "no thanks"],
     "nurture", {"declined": ["budget"], "need.category": "monitors"}),
    ("decliner, unsure", {}, ["hmm, maybe a laptop", "dunno", "dunno", "n/a", "no"], "nurture",
     {"need.category": "laptops"}),
    ("asks what the store sells", {}, ["we need monitors for a design studio", "what do you sell?",
                                       "is delivery free?", "2500 EUR", "asap", "i'm the founder", "hi@studio.example"],
     "qualified", {"need.category": "monitors", "budget.amount": 2500.0}),
    ("dollars and a US phone", {}, ["laptops for the sales team", "$8,000 max", "next month",
                                    "VP of sales, final say is mine", "vp@co.example", "212-555-0187"],
     "qualified", {"budget.currency": "USD", "phone": "+12125550187"}),
    ("says sorry, I meant", {}, ["tablets", "3000 EUR", "sorry, I meant 6000 EUR", "within 3 weeks", "owner",
                                 "x@y.example"],
     "qualified", {"budget.amount": 6000.0}),
    ("UK page locale, UK phone", {"locale": "en-GB"}, ["monitors", "1500", "asap", "director, I decide",
                                                       "d@uk.example", "020 7946 0958"],
     "qualified", {"phone": "+442079460958"}),
    ("asks for a person in Spanish", {}, ["quiero hablar con una persona"], "handed_off", {}),
    ("per-unit price each", {}, ["10 laptops at about 900 each", "asap", "ceo", "c@c.example"],
     "qualified", {"budget.per_unit": 900.0, "budget.amount": 9000.0}),
    ("asks for a person in French", {}, ["Je voudrais parler à quelqu'un"], "handed_off", {}),
    ("cold, low budget", {}, ["just a cheap tablet for myself", "under 80 euros", "no idea when",
                              "it's for me, I'm retired", "me@home.example"],
     "nurture", {"need.category": "tablets"}),
]  # fmt: skip


def held_out_questions(count: int = 40) -> list[str]:
    """Real shoppers' questions (Amazon appliance Q&A), every 100th that ends in "?" and fits a chat line."""
    found = []
    with gzip.open(AMAZON, "rt", encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            question = ast.literal_eval(line)["question"].strip()
            if n % 100 == 0 and question.endswith("?") and len(question) <= 160:
                found.append(question)
            if len(found) == count:
                break
    return found


def held_out_humans() -> list[str]:
    text = RASA_NLU.read_text(encoding="utf-8").split("- intent: human_handoff", 1)[1].split("- intent:", 1)[0]
    examples = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("- ")]
    plain = [e for e in examples if "](" not in e and "bot" not in e and "stupid" not in e]
    return plain[:20] + HELD_OUT_HUMANS_EXTRA


# -- what runs inside one process, on one code tree -----------------------------------------------------------


def measure(cases: dict) -> dict:
    from api import create_app
    from salesbot import schema
    from salesbot.access import keys
    from salesbot.bootstrap import bootstrap
    from salesbot.catalog import items
    from salesbot.config import Settings
    from salesbot.conversation import faqs

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        schema.upgrade(url)
        shop = bootstrap(Settings(database_url=url, conversation_rate_limit="100000/minute"))
        for item_id, title, category, price in STOCK:
            items.put(uow=shop.uow(), item_id=item_id, title=title, category=category, price=price, currency="EUR")
        for question, answer in FAQS:
            faqs.create(uow=shop.uow(), question=question, answer=answer)
        client = create_app(services=shop).test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + keys.create(uow=shop.uow(), role="server", name="b")[1]
        found = {name: _run_set(client, each) for name, each in cases.items()}
        shop.close()
    return found


def _run_set(client, cases: dict) -> dict:
    times: list[float] = []
    return {
        "questions": [_question(client, text, n, times) for n, text in enumerate(cases["questions"])],
        "declines": [_decline(client, text, times) for text in cases["declines"]],
        "humans": [_human(client, text, times) for text in cases["humans"]],
        "visitors": [_visitor(client, *visitor, times) for visitor in cases["visitors"]],
        "times": times,
    }


def _start(client, page: dict | None = None) -> str:
    return client.post("/v1/conversations", json={"visitor_id": "bench", "page": page or {}}).json["conversation_id"]


def _say(client, cid: str, text: str, times: list[float]) -> dict:
    started = time.perf_counter()
    answer = client.post(f"/v1/conversations/{cid}/messages", json={"text": text}).json
    times.append((time.perf_counter() - started) * 1000)
    return answer


def _question(client, text: str, n: int, times: list[float]) -> dict:
    cid = _start(client)
    before = {"lead": {"fields": {}}}
    for line in MID_FORM[n % len(MID_FORM)]:
        before = _say(client, cid, line, times)
    after = _say(client, cid, text, times)
    changed = sorted(k for k, v in after["lead"]["fields"].items() if before["lead"]["fields"].get(k) != v)
    return {"text": text, "changed": changed, "reply": after["reply"]["text"]}


def _decline(client, text: str, times: list[float]) -> dict:
    cid = _start(client)
    _say(client, cid, "we need laptops", times)
    after = _say(client, cid, text, times)
    return {
        "text": text,
        "declined": "budget" in after["lead"].get("declined", []),
        "asks_again": after["reply"]["asks"] == "budget",
        "handed_off": after["lead"]["status"] == "handed_off",
        "reply": after["reply"]["text"],
    }


def _human(client, text: str, times: list[float]) -> dict:
    cid = _start(client)
    _say(client, cid, "we need laptops", times)
    return {"text": text, "handed_off": _say(client, cid, text, times)["conversation_status"] == "awaiting_human"}


def _visitor(client, name, page, script, status, expected, times) -> dict:
    cid, answer, qualified_at, replies = _start(client, page), None, None, []
    for turn, text in enumerate(script, start=1):
        answer = _say(client, cid, text, times)
        replies.append(answer["reply"]["text"])
        if qualified_at is None and answer["lead"]["status"] == "qualified":
            qualified_at = turn
    lead = answer["lead"]
    right = {key: _matches(lead, key, value) for key, value in expected.items()}
    return {"name": name, "status": lead["status"], "expected": status, "right": right, "turns": qualified_at,
            "fields": lead["fields"], "declined": lead.get("declined", []), "replies": replies}  # fmt: skip


def _matches(lead: dict, key: str, value) -> bool:
    if key == "declined":
        return set(value) <= set(lead.get("declined", []))
    found = lead["fields"]
    for part in key.split("."):
        found = found.get(part) if isinstance(found, dict) else None
    return found == value


# -- comparing the two trees -----------------------------------------------------------------------------------


def _cases() -> dict:
    return {
        "tuned": {"questions": TUNED_QUESTIONS, "declines": TUNED_DECLINES, "humans": TUNED_HUMANS,
                  "visitors": TUNED_VISITORS},
        "held out": {"questions": held_out_questions(), "declines": HELD_OUT_DECLINES, "humans": held_out_humans(),
                     "visitors": HELD_OUT_VISITORS},
    }  # fmt: skip


def _in_process(root: Path, cases_file: Path) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", str(cases_file)]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HOME": "/tmp"})  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"measuring {root} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def _baseline_tree(commit: str, folder: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _table(ours: dict, before: dict) -> list[tuple]:
    import numpy as np

    def rate(found: dict, part: str, test) -> str:
        rows = found[part]
        return f"{sum(map(test, rows))} of {len(rows)}"

    def right_fields(found: dict) -> float:
        checks = [ok for v in found["visitors"] for ok in v["right"].values()]
        return float(np.mean(checks))

    def turns(found: dict) -> str:
        counted = [v["turns"] for v in found["visitors"] if v["turns"]]
        return f"{np.mean(counted):.1f} over {len(counted)}"

    rows = [
        ("questions that set a field", *(rate(f, "questions", lambda q: bool(q["changed"])) for f in (ours, before))),
        ("declines marked declined", *(rate(f, "declines", lambda d: d["declined"]) for f in (ours, before))),
        ("declines asked again", *(rate(f, "declines", lambda d: d["asks_again"]) for f in (ours, before))),
        ("declines handed to a human", *(rate(f, "declines", lambda d: d["handed_off"]) for f in (ours, before))),
        ("requests for a person handed over", *(rate(f, "humans", lambda h: h["handed_off"]) for f in (ours, before))),
        ("scripted visitors with the right status",
         *(rate(f, "visitors", lambda v: v["status"] == v["expected"]) for f in (ours, before))),
        ("expected field values right", *(f"{right_fields(f):.1%}" for f in (ours, before))),
        ("turns to qualified (mean, visitors qualified)", *(turns(f) for f in (ours, before))),
        ("server time per turn p50 / p99 ms",
         *(f"{np.percentile(f['times'], 50):.1f} / {np.percentile(f['times'], 99):.1f}" for f in (ours, before))),
    ]  # fmt: skip
    return rows


def _misses(found: dict) -> list[str]:
    lines = [f"  question set {q['changed']}: {q['text']!r}" for q in found["questions"] if q["changed"]]
    lines += [f"  decline not understood: {d['text']!r}" for d in found["declines"] if not d["declined"]]
    lines += [f"  person not reached: {h['text']!r}" for h in found["humans"] if not h["handed_off"]]
    for visitor in found["visitors"]:
        wrong = [key for key, ok in visitor["right"].items() if not ok]
        if wrong or visitor["status"] != visitor["expected"]:
            lines.append(f"  visitor {visitor['name']!r}: {visitor['status']} (expected {visitor['expected']}), "
                         f"wrong {wrong}, fields {json.dumps(visitor['fields'])[:300]}")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="b60e818", help="the commit measured as today's behaviour")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: run the cases in this file on this tree
    parser.add_argument("--misses", action="store_true", help="list what went wrong on the tuned set")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(json.loads(Path(args.measure).read_text(encoding="utf-8")))))
        return
    from tabulate import tabulate

    with tempfile.TemporaryDirectory() as folder:
        cases_file = Path(folder) / "cases.json"
        cases_file.write_text(json.dumps(_cases()), encoding="utf-8")
        ours = _in_process(ROOT, cases_file)
        before = _in_process(_baseline_tree(args.baseline, Path(folder) / "before"), cases_file)
    for name in ours:
        rows = _table(ours[name], before[name])
        print(tabulate(rows, headers=(f"{name} cases", "now", f"before ({args.baseline})")), "\n")
    if args.misses:
        print("tuned set, what went wrong now:\n" + "\n".join(_misses(ours["tuned"])))


if __name__ == "__main__":
    main()
