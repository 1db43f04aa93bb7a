"""FAQ answers found by meaning with the real local model, on SQLite and PostgreSQL: paraphrases that share no
word with the FAQ, an honest "I don't know" for what it does not cover, and vectors embedded once per change."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from models.conversation import FaqVector
from salesbot.bootstrap import bootstrap
from salesbot.config import Settings
from salesbot.conversation import faqs
from salesbot.conversation.embeddings import EmbeddingsUnavailable, LocalModel
from tests.conftest import keyed_client

STORE_FAQ = [  # our own store's FAQ, written for these tests
    ("Which payment methods do you accept?", "Credit and debit cards, PayPal and, for companies, invoice."),
    ("How can I track my order?", "Open Order History in your account and click the tracking link."),
    ("Do you offer volume pricing?", "Orders of 50 units or more get a quote from our business team."),
    ("What is your return policy?", "Return anything unused within 30 days for a full refund."),
    ("Do you ship abroad?", "We deliver to every EU country and to Switzerland and Norway."),
]


class Counting:
    """The real local model, counting the texts it is asked to embed."""

    name = LocalModel.name

    def __init__(self) -> None:
        self.model, self.texts = LocalModel(), 0

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.texts += len(texts)
        return self.model.encode(texts)


class Broken:
    name = "broken-model"

    def encode(self, texts):  # type: ignore[no-untyped-def]
        raise EmbeddingsUnavailable("the model would not load")


@pytest.fixture
def shop(database_url):
    services = bootstrap(Settings(database_url=database_url, conversation_rate_limit="100/minute"))
    for question, answer in STORE_FAQ:
        faqs.create(uow=services.uow(), question=question, answer=answer, library=services.conversations.library)
    yield services
    services.close()


def best(library: faqs.Library, text: str) -> str | None:
    found = library.search(text, k=1)
    return found[0].question if found else None


@pytest.mark.parametrize(
    ("message", "question"),
    [
        ("we need 200 units, is there a better price", "Do you offer volume pricing?"),
        ("do you deliver to Oslo", "Do you ship abroad?"),
        ("what's your refund policy", "What is your return policy?"),
    ],
)
def test_a_paraphrase_finds_the_faq_that_answers_it(shop, message, question):
    assert best(shop.conversations.library, message) == question


@pytest.mark.parametrize(
    "message", ["what is the capital of france", "tell me a joke", "how do I bake sourdough bread", "I'm bored"]
)
def test_what_the_faq_does_not_cover_gets_no_answer(shop, message):
    assert shop.conversations.library.search(message, k=3) == []


def test_the_bot_answers_a_paraphrase_with_the_right_faq(shop):
    chat = keyed_client(shop)
    cid = chat.post("/v1/conversations", json={"visitor_id": "v-1"}).json["conversation_id"]
    answer = chat.post(f"/v1/conversations/{cid}/messages", json={"text": "do you deliver to Oslo?"}).json
    abroad = next(f for f in faqs.get_all(uow=shop.uow()) if f.question == "Do you ship abroad?")
    assert answer["reply"]["faq_ids"] == [abroad.id]


def test_faq_vectors_are_embedded_once_per_change_and_shared_by_processes(shop, database_url):
    with shop.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(FaqVector)) == len(STORE_FAQ)
    counting = Counting()
    other_process = faqs.Library(shop.uow, embedder=counting, check_every=0)
    assert best(other_process, "do you deliver to Oslo") == "Do you ship abroad?"
    assert best(other_process, "we need 200 units, is there a better price") == "Do you offer volume pricing?"
    assert counting.texts == 2  # the two messages; every FAQ's vectors were read, none embedded again

    tracking = next(f for f in faqs.get_all(uow=shop.uow()) if "track" in f.question)
    faqs.update(uow=shop.uow(), faq_id=tracking.id, question="Can I pick up my order in a store?",
                answer="Yes, from our Berlin shop, free of charge.")  # fmt: skip
    assert best(other_process, "can I collect my order from your shop myself") == "Can I pick up my order in a store?"
    assert counting.texts == 2 + 2 + 1  # the changed FAQ's two texts, and the message


def test_an_faq_edited_through_the_api_answers_at_once(shop):
    marketer = keyed_client(shop, role="marketer")
    created = marketer.post("/v1/faqs", json={"question": "Do you have gift cards?", "answer": "Yes, 10 to 500 EUR."})
    assert created.status_code == 201
    assert best(shop.conversations.library, "do you sell gift vouchers") == "Do you have gift cards?"
    assert marketer.delete(f"/v1/faqs/{created.json['id']}").status_code == 204
    assert best(shop.conversations.library, "do you sell gift vouchers") != "Do you have gift cards?"


def test_without_a_working_model_words_still_find_answers_and_it_is_logged(shop, caplog):
    library = faqs.Library(shop.uow, embedder=Broken(), check_every=0)
    with caplog.at_level(logging.WARNING, logger="salesbot.conversation.faqs"):
        found = library.search("what is your return policy for refunds", k=1, min_match=0.4)
    assert [passage.question for passage in found] == ["What is your return policy?"]
    assert "fall back to word matching" in caplog.text


def test_with_embeddings_off_the_bot_matches_words(database_url):
    services = bootstrap(Settings(database_url=database_url, embeddings="off"))
    for question, answer in STORE_FAQ:
        faqs.create(uow=services.uow(), question=question, answer=answer)
    library = services.conversations.library
    assert best(library, "what is your return policy") == "What is your return policy?"
    assert library.search("can I use my visa card", k=1, min_match=0.4) == []  # words alone miss it
    with services.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(FaqVector)) == 0
    services.close()


def test_a_message_embedded_on_its_own_means_what_the_batch_says():
    """A visitor's message is embedded alone, FAQs in batches (padded together): both must mean the same."""
    model = LocalModel()
    texts = ["How long does shipping take?", "x", "Ich möchte mit einem Menschen sprechen! " * 20]
    alone = [model.encode([text])[0] for text in texts]
    together = model.encode(texts * 4)[: len(texts)]
    for one, other in zip(alone, together, strict=True):
        assert float(one @ other) > 0.9999
