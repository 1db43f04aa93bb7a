"""`salesbot export finetune` on conversations held through the API with the LLM brain (a scripted
OpenAI-compatible server on loopback), on SQLite and PostgreSQL: the lines are what the LLM was sent and answered,
weighted, split by person, deduplicated, and written whole or not at all."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from models import Conversation, Event, Lead, Message, MessageFeedback
from salesbot.bootstrap import bootstrap
from salesbot.cli import main
from salesbot.config import Settings
from salesbot.conversation import lines
from salesbot.conversation.llm import PROMPTS
from salesbot.errors import InvalidInput
from salesbot.finetune import split
from salesbot.finetune.export import Plan, Store, export
from salesbot.finetune.sources import Filters
from salesbot.offers import experiments
from tests.conftest import keyed_client
from tests.integration.test_conversations import say, start, stock

WORDS = [
    "amber", "birch", "cedar", "dune", "ember", "fern", "grove", "heath", "iris", "juniper", "kelp", "larch", "moss",
    "nettle", "oak", "pine", "quartz", "reed", "sage", "thyme", "umber", "vine", "willow", "yarrow", "zinnia",
]  # fmt: skip
STORE = Store(categories=("laptops", "tablets"), currency="EUR", region="DE")


def scripted(body):
    """The 'model': echoes a word of what the visitor said and asks for the budget; offers a discount it was never
    given when asked for one (the guard refuses that reply)."""
    said = json.loads(body["messages"][1]["content"])["untrusted_visitor_message"]
    if "discount" in said:
        return {"reply": "Today you get 50% off everything!", "intent": "offer", "fields": {}}
    reply = f"Thanks, noted: {said.split()[-1]}. What budget do you have in mind?"
    return {"reply": reply, "intent": "ask", "fields": {}, "asks": "budget", "quick_replies": ["not sure yet"]}


@pytest.fixture
def shop(database_url, llm):
    llm.script = [scripted]
    settings = Settings(database_url=database_url, llm_base_url=llm.base_url, llm_model="scripted-model",
                        embeddings="off", conversation_rate_limit="1000/minute", model_check_seconds=0.0)  # fmt: skip
    services = bootstrap(settings)
    stock(services)
    yield services
    services.close()


@pytest.fixture
def chat(shop):
    return keyed_client(shop)


def talk(chat, tag: str, *, visitor: str | None = None, customer: str | None = None, more: str = "tablets",
         hello: str = "hello from") -> str:  # fmt: skip
    body = {"visitor_id": visitor} if visitor else {}
    body |= {"customer_id": customer} if customer else {}
    cid = start(chat, **body)["conversation_id"]
    say(chat, cid, f"{hello} {tag}")
    say(chat, cid, f"we are looking for {more}, says {tag}")
    return cid


def read(folder, name="train.jsonl"):
    return [json.loads(line) for line in (folder / name).read_text().splitlines()]


def documents(line):
    return [json.loads(m["content"]) for m in line["messages"] if m["role"] == "user"]


def tags(line):
    """The tags of the conversation(s) a line holds: what followed "hello from" in the visitor's first words."""
    said = [d["untrusted_visitor_message"] for d in documents(line)]
    return {words.split(" from ", 1)[1] for words in said if " from " in words}


def second_replies(shop, ids):
    """Each conversation's second bot line's seq: the reply to the visitor's first words."""
    replies = select(Message.seq).where(Message.author == "bot").order_by(Message.seq)
    with shop.uow() as uow:
        return {cid: list(uow.session.scalars(replies.where(Message.conversation_id == cid)))[1] for cid in ids}


def run(shop, folder, **plan):
    return export(uow=shop.uow, plan=Plan(**plan), store=STORE, out=folder)


def test_each_line_is_the_conversation_as_the_llm_saw_it(shop, chat, llm, tmp_path):
    experiments.start(uow=shop.uow(), changed_by=None, experiment_id=experiments.create(
        uow=shop.uow(), changed_by=None, prompts=tuple(PROMPTS), name="tone", unit="visitor",
        arms=[{"name": "brief", "weight": 1, "prompt": "brief"}, {"name": "warm", "weight": 1, "prompt": "warm"}],
    ).id)  # fmt: skip
    for n in range(12):
        talk(chat, WORDS[n], visitor=f"v-{n}")
    document = run(shop, tmp_path, validation_share=0.0)
    sent = {json.loads(r["messages"][1]["content"])["untrusted_visitor_message"]: r["messages"] for r in llm.requests}
    written = read(tmp_path)
    assert len(written) == 12
    assert document["files"]["train.jsonl"]["lines"] == 12
    for line in written:
        system, *turns = line["messages"]
        assert [m["role"] for m in turns] == ["user", "assistant"] * 2
        for user, assistant in zip(turns[::2], turns[1::2], strict=True):
            mine = json.loads(user["content"])
            real_system, real_user = sent[mine["untrusted_visitor_message"]]
            assert system == real_system  # the instructions with the conversation's own prompt variant
            real = json.loads(real_user["content"])
            for key in ("conversation_so_far", "fields", "known_fields", "next_field", "today", "store_currency"):
                assert mine[key] == real[key], key
            answer = json.loads(assistant["content"])
            assert answer["reply"].startswith("Thanks, noted:")
            assert answer["asks"] == "budget"
            assert assistant["weight"] == 1
    variants = document["prompt"]["variants"]
    assert set(variants) <= {"brief", "warm"}
    assert sum(v["lines"] for v in variants.values()) == 12
    assert document["schema_version"] == "salesbot-finetune/1"


def test_corrected_turns_weigh_nothing_and_reps_lines_stay_out(shop, chat, tmp_path):
    for n in range(10):
        talk(chat, WORDS[n], visitor=f"v-{n}")
    corrected = talk(chat, "bargainer", visitor="v-bargain", more="a discount please")
    handed = talk(chat, "handed", visitor="v-handed")
    with shop.uow() as uow:
        conversation = lines.locked(uow.session, handed)
        lines.append(uow.session, conversation, author="rep", text="Rep Jana here, REP-ONLY-WORDS", details={})
        uow.commit()
    say(chat, handed, "after the rep AFTER-REP-WORDS")
    document = run(shop, tmp_path, validation_share=0.0)
    text = (tmp_path / "train.jsonl").read_text()
    assert "REP-ONLY-WORDS" not in text
    assert "AFTER-REP-WORDS" not in text
    by_tag = {next(iter(tags(line))): line for line in read(tmp_path)}
    bargain = [m for m in by_tag["bargainer"]["messages"] if m["role"] == "assistant"]
    assert [m["weight"] for m in bargain] == [1, 0]  # the guard refused "50% off": the rules brain answered
    assert "50%" not in json.loads(bargain[1]["content"])["reply"]
    assert len([m for m in by_tag["handed"]["messages"] if m["role"] == "assistant"]) == 2
    assert document["turns"]["weight 0"] == 1
    with shop.uow() as uow:
        bot = uow.session.scalars(select(Message).where(Message.conversation_id == corrected, Message.author == "bot"))
        assert any(line.details.get("corrections") for line in bot)


def test_no_person_is_in_both_files_and_the_split_is_the_same_every_time(shop, chat, tmp_path):
    for n in range(24):
        talk(chat, WORDS[n], visitor=f"v-{n}")
    talk(chat, "duneagain", visitor="v-3", more="laptops")
    talk(chat, "dunesignedin", visitor="v-3", customer="c-3", more="monitors")
    talk(chat, "elsewhere", visitor="v-other-device", customer="c-3", more="printers")
    talk(chat, "otherdevice", visitor="v-other-device", more="cables")
    first = run(shop, tmp_path / "a", validation_share=0.5, seed=7)
    again = run(shop, tmp_path / "b", validation_share=0.5, seed=7)
    sides = {tag: side for side in ("train", "validation") for line in read(tmp_path / "a", f"{side}.jsonl")
             for tag in tags(line)}  # fmt: skip
    person = {sides[t] for t in (WORDS[3], "duneagain", "dunesignedin", "elsewhere", "otherdevice")}
    assert len(person) == 1  # one person: a visitor, the customer they signed in as, and that customer's other device
    assert set(sides.values()) == {"train", "validation"}
    assert [f["sha256"] for f in first["files"].values()] == [f["sha256"] for f in again["files"].values()]
    other = run(shop, tmp_path / "c", validation_share=0.5, seed=8)
    assert [f["sha256"] for f in other["files"].values()] != [f["sha256"] for f in first["files"].values()]


def test_a_sign_in_in_a_conversation_the_filters_leave_out_still_joins_the_person(shop, chat, tmp_path):
    ids = [talk(chat, WORDS[n], visitor=f"v-{n}") for n in range(24)]
    ids.append(talk(chat, "phone", visitor="v-phone"))
    left_out = talk(chat, "signin", visitor="v-phone", customer="c-ana", more="laptops")  # rated 1: filtered out
    ids.append(talk(chat, "laptop", visitor="v-laptop", customer="c-ana", more="monitors"))
    with shop.uow() as uow:
        for cid in [*ids, left_out]:
            uow.session.get(Conversation, cid).csat = 1 if cid == left_out else 5
        uow.commit()
    # a seed that would put the phone (a visitor) and the laptop (the customer) apart if nothing linked them
    seed = next(s for s in range(100) if split.side("v:v-phone", seed=s, share=0.5)
                != split.side("c:c-ana", seed=s, share=0.5))  # fmt: skip
    run(shop, tmp_path, validation_share=0.5, seed=seed, filters=Filters(min_csat=4))
    sides = {tag: side for side in ("train", "validation") for line in read(tmp_path, f"{side}.jsonl")
             for tag in tags(line)}  # fmt: skip
    assert "signin" not in sides
    assert sides["phone"] == sides["laptop"]


def test_the_scratch_file_with_raw_ids_never_sits_in_the_output_folder(shop, chat, tmp_path):
    for n in range(10):
        talk(chat, WORDS[n], visitor=f"visitor-raw-id-{n}", customer=f"customer-raw-id-{n}")
    during = []

    def look(read):  # as the export runs: what a kill at this moment would leave in --out
        during.extend(path.read_bytes() for path in (tmp_path / "out").iterdir())

    fds = len(os.listdir("/proc/self/fd"))
    export(uow=shop.uow, plan=Plan(validation_share=0.0), store=STORE, out=tmp_path / "out", on_progress=look)
    assert during
    assert not any(b"raw-id" in content for content in during)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json", "train.jsonl",
                                                                    "validation.jsonl"]  # fmt: skip
    assert len(os.listdir("/proc/self/fd")) == fds  # no file left open


def test_the_same_conversation_twice_is_written_once(shop, chat, tmp_path):
    for n in range(11):
        talk(chat, WORDS[n], visitor=f"v-{n}")
    talk(chat, "twin", visitor="v-twin-1")
    talk(chat, "twin", visitor="v-twin-2")
    document = run(shop, tmp_path, validation_share=0.0)
    assert document["conversations"]["dropped"] == {"duplicate of a line already written": 1}
    assert document["turns"]["assistant"] == 2 * 12  # the duplicate's turns are not counted
    assert sum(1 for line in read(tmp_path) if "twin" in tags(line)) == 1


def test_filters_choose_the_conversations(shop, chat, tmp_path):
    ids = [talk(chat, WORDS[n], visitor=f"v-{n}") for n in range(14)]
    with shop.uow() as uow:
        for n, cid in enumerate(ids):
            row = uow.session.get(Conversation, cid)
            row.csat = 5 if n < 11 else 2
            row.created_at = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=n)
        uow.commit()
    rated = run(shop, tmp_path / "rated", validation_share=0.0, filters=Filters(min_csat=4))
    assert rated["conversations"]["read"] == 11
    assert {t for line in read(tmp_path / "rated") for t in tags(line)} == {WORDS[n] for n in range(11)}
    with pytest.raises(InvalidInput, match=r"train\.jsonl: has 3 examples"):
        run(shop, tmp_path / "rated", validation_share=0.0, filters=Filters(since=datetime(2026, 3, 12, tzinfo=UTC)))
    assert len(read(tmp_path / "rated")) == 11  # the failed export left the earlier files as they were
    assert sorted(p.name for p in (tmp_path / "rated").iterdir()) == ["manifest.json", "train.jsonl",
                                                                      "validation.jsonl"]  # fmt: skip
    with shop.uow() as uow:
        for cid in ids[3:]:
            uow.session.scalar(select(Lead).where(Lead.conversation_id == cid)).status = "qualified"
        uow.session.add_all(Event(event_id=f"e-{n}", customer_id=None, visitor_id=f"v-{n}", item_id="tab-1",
                                  type="purchase", occurred_at=datetime(2026, 3, 2, 12, tzinfo=UTC) + timedelta(days=n))
                            for n in range(14))  # fmt: skip
        uow.commit()
    qualified = run(shop, tmp_path / "q", validation_share=0.0, filters=Filters(outcome="qualified"))
    assert qualified["conversations"]["read"] == 11
    bought = run(shop, tmp_path / "p", validation_share=0.0, filters=Filters(outcome="purchased", purchase_days=2))
    assert bought["conversations"]["kept"] == 14  # each visitor bought a day and a half after talking
    with pytest.raises(InvalidInput, match="has 0 examples"):  # one day is too short for any of them
        run(shop, tmp_path / "none", validation_share=0.0, filters=Filters(outcome="purchased", purchase_days=1))


def test_preference_pairs_a_reply_with_the_correction_or_a_well_rated_alternative(shop, chat, tmp_path):
    ids = [talk(chat, WORDS[n], visitor=f"v-{n}") for n in range(12)]
    praised = talk(chat, "same words", visitor="v-praised")
    panned = talk(chat, "same words!", visitor="v-panned", hello="Hello from", more="laptops")
    second = second_replies(shop, [*ids, praised, panned])
    with shop.uow() as uow:
        feedback = [MessageFeedback(conversation_id=cid, seq=second[cid], given_by="key", role="rep", rating=-1,
                                    correction=f"Happy to help, visitor {n}! Which budget fits you?")
                    for n, cid in enumerate(ids)]  # fmt: skip
        feedback += [
            MessageFeedback(conversation_id=praised, seq=second[praised], given_by="key", role="rep", rating=1),
            MessageFeedback(conversation_id=panned, seq=second[panned], given_by="key", role="rep", rating=-1),
        ]
        uow.session.add_all(feedback)
        uow.commit()
    document = run(shop, tmp_path, kind="preference", validation_share=0.0)
    written = read(tmp_path)
    assert len(written) == 13
    assert document["turns"] == {"paired with a correction": 12, "paired with a well-rated alternative": 1}
    for line in written:
        assert [m["role"] for m in line["input"]["messages"]] == ["system", "user"]
        preferred = json.loads(line["preferred_output"][0]["content"])
        rejected = json.loads(line["non_preferred_output"][0]["content"])
        assert rejected["reply"].startswith("Thanks, noted:")
        assert preferred["reply"].startswith("Happy to help") or preferred["reply"].startswith("Thanks, noted: words.")


def test_the_command_prints_what_it_wrote(shop, chat, tmp_path):
    for n in range(10):
        talk(chat, WORDS[n], visitor=f"v-{n}")
    runner = CliRunner(env={"SALESBOT_DATABASE_URL": shop.settings.database_url, "SALESBOT_EMBEDDINGS": "off"})
    result = runner.invoke(main, ["export", "finetune", "--out", str(tmp_path), "--validation-share", "0"])
    assert result.exit_code == 0, result.output
    assert "train.jsonl" in result.output
    assert "10 conversations read, 10 kept" in result.output
    assert "10.0/10.0" in result.output  # the progress bar counts to every conversation, no filter given
    refused = runner.invoke(main, ["export", "finetune", "--out", str(tmp_path / "none"), "--since", "2100-01-01"])
    assert refused.exit_code == 1
    assert "needs at least 10" in refused.output
    assert not (tmp_path / "none" / "train.jsonl").exists()


def test_a_reply_a_rep_corrected_weighs_nothing_and_is_never_an_alternative(shop, chat, tmp_path):
    quiet = [talk(chat, WORDS[n], visitor=f"v-{n}") for n in range(10)]
    disputed = talk(chat, "same words", visitor="v-disputed")
    panned = talk(chat, "same words!", visitor="v-panned", hello="Hello from", more="laptops")
    second = second_replies(shop, [*quiet, disputed, panned])
    with shop.uow() as uow:
        feedback = [MessageFeedback(conversation_id=cid, seq=second[cid], given_by="rep-key", role="rep",
                                    rating=None, correction=f"Welcome, visitor {n}! Which budget fits you?")
                    for n, cid in enumerate(quiet)]  # fmt: skip  # a correction given without a rating
        feedback += [  # two marketers liked the reply, the rep corrected it
            MessageFeedback(conversation_id=disputed, seq=second[disputed], given_by="m-1", role="marketer", rating=1),
            MessageFeedback(conversation_id=disputed, seq=second[disputed], given_by="m-2", role="marketer", rating=1),
            MessageFeedback(conversation_id=disputed, seq=second[disputed], given_by="rep-key", role="rep", rating=-1,
                            correction="Welcome! Which budget fits you?"),
            MessageFeedback(conversation_id=panned, seq=second[panned], given_by="rep-key", role="rep", rating=-1),
        ]  # fmt: skip
        uow.session.add_all(feedback)
        uow.commit()
    run(shop, tmp_path / "sft", validation_share=0.0)
    weights = {next(iter(tags(line))): [m["weight"] for m in line["messages"] if m["role"] == "assistant"]
               for line in read(tmp_path / "sft")}  # fmt: skip
    assert weights == {tag: [0, 1] for tag in [*WORDS[:10], "same words", "same words!"]}
    document = run(shop, tmp_path / "pairs", kind="preference", validation_share=0.0)
    assert document["turns"] == {"paired with a correction": 11}  # the corrected reply is not the panned one's better
    assert document["conversations"]["dropped"]["rated down, without a correction or a well-rated alternative"] == 1
