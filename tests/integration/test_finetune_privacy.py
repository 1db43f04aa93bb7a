"""Masking on the export path, on SQLite and PostgreSQL: conversations seeded with personal data in every field an
export reads (the visitor's lines, the bot's replies and quick replies, the lead's fields, the products and offer a
reply showed, FAQ answers, a rep's correction) come out with none of it, in SFT and preference files alike.

These are the cases the masking was written against (set A). A second set it was never tuned on is measured by
bench/export.py (bench/finetune_pii_heldout.json)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from models import Conversation, Faq, Lead, Message, MessageFeedback, Offer, OfferCode, Rep
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.conversation.llm import INSTRUCTIONS
from salesbot.finetune.export import Plan, Store, export
from salesbot.finetune.privacy import Known, Masker
from salesbot.leads import qualification

PEOPLE = [  # name, company, e-mail, phone as typed, address, card
    ("Maria Schmidt", "Kowalski Logistics GmbH", "maria.schmidt@kowalski-logistik.de", "+49 30 12345678",
     "Hauptstraße 5, 10115 Berlin", "4111 1111 1111 1111"),
    ("Jonas Weber", "Weber & Söhne KG", "j.weber+shop@weber-soehne.de", "030 98765432", "Am Ring 12a",
     "5500-0000-0000-0004"),
    ("Aoife O'Brien", "Brightwater Analytics Ltd", "aoife@brightwater.ie", "+353 1 555 0134",
     "221B Baker Street, London NW1 6XE", "4012888888881881"),
    ("Luca Rossi", "Rossi Costruzioni SpA", "luca.rossi@rossicostruzioni.it", "+39 06 6982 1234",
     "1600 Pennsylvania Avenue NW", "378282246310005"),
    ("Camille Dupont", "Atelier Dupont SARL", "camille.dupont@atelier-dupont.fr", "+33 1 42 68 53 00",
     "12 rue de Rivoli, 75001 Paris", "6011 1111 1111 1117"),
    ("Javier García", "Construcciones García SL", "javier.garcia@cgarcia.es", "+34 912 345 678",
     "Calle Mayor 10, 28013 Madrid", "3530 1113 3330 0000"),
]  # fmt: skip
SHARED_CODE, PRICE = "SPRING25", "1,299.00 EUR"
REP = "Sarah Miller"  # the rep who corrected the bot: her name is in her correction
STORE = Store(categories=("laptops", "tablets"), currency="EUR", region="DE")


def unique_code(n: int) -> str:
    return f"WELCOME-7QX{n:02d}"


def seed(session, n: int, person: tuple[str, ...], schema_version: int, at: datetime) -> None:
    """One conversation with the person's data everywhere an export reads."""
    name, company, mail, phone, address, card = person
    first = name.split()[0]
    cid, visitor = f"cv_seed{n:02d}", f"v-seed-{n}"
    session.add(Conversation(id=cid, visitor_id=visitor, channel="web", page={}, schema_version=schema_version,
                             status="closed", created_at=at, updated_at=at, last_seq=7))  # fmt: skip
    fields = {"name": name, "company": company, "email": mail, "phone": "+" + re.sub(r"\D", "", phone).lstrip("0"),
              "need": {"text": f"tablets for {company}", "category": "tablets"}}  # fmt: skip
    session.add(Lead(id=f"ld_seed{n:02d}", conversation_id=cid, status="qualified", score=70.0, score_breakdown={},
                     fields=fields))  # fmt: skip
    session.add(OfferCode(code=unique_code(n), offer_id="off_seed", unit_key=f"v:{visitor}"))
    item = {"item_id": "tab-2", "title": "Tablet Pro", "price": "1299.00", "currency": "EUR", "category": "tablets"}
    offer = {"offer_id": "off_seed", "title": "Welcome", "kind": "percent", "value": 10, "code": unique_code(n)}
    said = [
        ("bot", "Hi! I'm the store's assistant. What are you looking for?", {"asks": "need"}),
        ("visitor", f"Hi, I'm {name} from {company}. We need tablets. Mail me at {mail} or call {phone}.", {}),
        ("bot", f"Thanks {first}! I'll write to {mail}. The Tablet Pro costs {PRICE}.",
         {"asks": "budget", "learnt": ["name", "company", "email", "phone", "need"], "items": [item],
          "faq_ids": ["faq_seed"], "quick_replies": [f"{first}'s budget", "Under 1000 EUR"], "intent": "recommend",
          "corrections": []}),
        ("visitor", f"Ship to {address}, please; my card is {card}. Budget 3000 EUR. Any code, {first}?", {}),
        ("bot", f"Use code {unique_code(n)} (or {SHARED_CODE}) for 10% off, {name} of {company}.",
         {"asks": "timeline", "learnt": [], "offer": offer, "intent": "offer", "corrections": []}),
        ("visitor", f"Great. {first} {name.split()[-1]}, {company}, {address}.", {}),
        ("bot", f"Noted, {first}. We deliver to {address} within 2 days.", {"asks": None, "intent": "chat"}),
    ]  # fmt: skip
    for seq, (author, text, details) in enumerate(said, 1):
        brain = "llm" if author == "bot" else None
        session.add(Message(conversation_id=cid, seq=seq, author=author, text=text, details=details, brain=brain,
                            created_at=at + timedelta(seconds=seq)))  # fmt: skip
    correction = f"Hello {first}, {REP} here: we'll confirm to {mail} and call {phone}."
    session.add(MessageFeedback(conversation_id=cid, seq=3, given_by="key", role="rep", rating=-1,
                                correction=correction))  # fmt: skip


@pytest.fixture
def seeded(database_url, tmp_path):
    services = bootstrap(Settings(database_url=database_url, embeddings="off"))
    version = qualification.current(uow=services.uow()).version
    with services.uow() as uow:
        uow.session.add(Rep(id="rep_seed", name=REP, email="sarah@store.example"))
        uow.session.add(Offer(id="off_seed", name="Welcome", kind="percent", value=10, code=SHARED_CODE))
        uow.session.add(Faq(id="faq_seed", question="Can I call you?",
                            answer="Call us at +49 30 5550100 or visit Friedrichstraße 44, 10117 Berlin."))  # fmt: skip
        uow.session.flush()
        start = datetime(2026, 5, 1, tzinfo=UTC)
        for n in range(12):
            seed(uow.session, n, PEOPLE[n % len(PEOPLE)], version, start + timedelta(days=n))  # masked, days differ
        uow.commit()
    yield services
    services.close()


def seeded_values() -> dict[str, set[str]]:
    """Every seeded value, by kind, also written the other ways a file could carry it."""
    values: dict[str, set[str]] = {kind: set() for kind in ("NAME", "COMPANY", "EMAIL", "PHONE", "ADDRESS", "CARD")}
    for name, company, mail, phone, address, card in PEOPLE:
        values["NAME"] |= {name, *name.split()}
        values["COMPANY"] |= {company, company.split()[0]}
        values["EMAIL"] |= {mail, mail.split("@")[0]}
        values["PHONE"] |= {phone, re.sub(r"\D", "", phone)[-7:], "+" + re.sub(r"\D", "", phone).lstrip("0")}
        values["ADDRESS"] |= {address, address.split(",")[0]}
        values["CARD"] |= {card, re.sub(r"\D", "", card)}
    values["OFFER_CODE"] = {SHARED_CODE, *(unique_code(n) for n in range(12))}
    values["PRICE"] = {PRICE, "1299.00", "1,299"}
    values["PHONE"] |= {"+49 30 5550100", "5550100"}
    values["NAME"] |= {REP, *REP.split()}
    values["ADDRESS"] |= {"Friedrichstraße 44"}
    return values


def strings(value):
    """Every string in a line, the JSON documents inside message contents opened too."""
    if isinstance(value, dict):
        for inner in value.values():
            yield from strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner)
    elif isinstance(value, str):
        yield value
        if value.startswith("{"):
            yield from strings(json.loads(value))


def left(folder) -> dict[str, list[str]]:
    text = "\n".join(
        s for name in ("train.jsonl", "validation.jsonl") for line in (folder / name).read_text().splitlines()
        for s in strings(json.loads(line))
    )  # fmt: skip
    lowered = text.lower()
    return {kind: sorted(v for v in found if v.lower() in lowered) for kind, found in seeded_values().items()}


@pytest.mark.parametrize("kind", ["sft", "preference"])
def test_no_seeded_value_leaves_in_any_field(seeded, tmp_path, kind):
    document = export(uow=seeded.uow, plan=Plan(kind=kind, validation_share=0.2), store=STORE, out=tmp_path)
    assert document["conversations"]["kept"] == 12
    assert left(tmp_path) == {kind: [] for kind in seeded_values()}
    if kind == "sft":  # a preference line holds the conversation up to the corrected reply only
        assert set(document["masked"]) == set(seeded_values())


def test_the_visitors_own_amounts_and_the_instructions_stay(seeded, tmp_path):
    export(uow=seeded.uow, plan=Plan(validation_share=0.0), store=STORE, out=tmp_path)
    line = json.loads((tmp_path / "train.jsonl").read_text().splitlines()[0])
    assert line["messages"][0]["content"] == INSTRUCTIONS
    answer = json.loads(line["messages"][2]["content"])
    assert answer["fields"]["name"] == "[NAME]"
    assert answer["fields"]["need"] == {"text": "tablets for [COMPANY]", "category": "tablets"}
    assert "Under 1000 EUR" not in answer["quick_replies"]  # the bot's words: a price
    first, second = (json.loads(line["messages"][n]["content"]) for n in (1, 3))
    assert first["untrusted_products"][0]["price"] == "[PRICE]"
    assert first["untrusted_faq_passages"][0]["answer"] == "Call us at [PHONE] or visit [ADDRESS]."
    assert "Budget 3000 EUR." in second["untrusted_visitor_message"]  # the visitor's budget is not a price


@pytest.mark.parametrize(
    ("name", "text", "masked"),
    [  # the dotless i is meant: Turkish names carry it
        ("Javier García", "Thanks Javier Garcia, see you.", "Thanks [NAME], see you."),
        ("Javier Garcia", "Gracias, Javier García.", "Gracias, [NAME]."),
        ("İpek Yılmaz", "Hi, ipek yılmaz here. İstanbul office", "Hi, [NAME] here. İstanbul office"),  # noqa: RUF001
        ("İpek Yılmaz", "IPEK called; Yilmaz too.", "[NAME] called; [NAME] too."),  # noqa: RUF001
        ("Jürgen Groß", "Herr Juergen? No: Herr JÜRGEN GROSS.", "Herr Juergen? No: Herr [NAME]."),
    ],
)
def test_names_are_masked_with_or_without_their_accents_in_any_case(name, text, masked):
    masker = Masker(known=Known(names=(name,), companies=("Çelik Yapı A.Ş.",)))  # noqa: RUF001
    assert masker.text(text) == masked
    assert masker.text("For ÇELIK YAPI and Celik Yapi A.S. today") == "For [COMPANY] and [COMPANY] today"


def test_ordinary_words_are_not_taken_for_offer_codes():
    masker = Masker(known=Known(codes=("WELCOME", "SALE", "SPRING25", "BLACKFRIDAY")))
    assert masker.text("Is there a discount code available? Welcome to the sale!") == (
        "Is there a discount code available? Welcome to the sale!"
    )
    assert masker.text("Use promo code SAVEBIG or Code: summer10 at checkout.") == (
        "Use promo code [OFFER_CODE] or Code: [OFFER_CODE] at checkout."
    )
    assert masker.text("WELCOME and SALE are codes; so are spring25 and blackfriday.") == (
        "[OFFER_CODE] and [OFFER_CODE] are codes; so are [OFFER_CODE] and [OFFER_CODE]."
    )
