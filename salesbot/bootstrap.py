"""Wires salesbot together in one place: settings in, engine, sessions and services out."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from salesbot.catalog import events
from salesbot.config import Settings
from salesbot.conversation import llm
from salesbot.conversation.embeddings import Embedder, LocalModel, Remembering
from salesbot.conversation.faqs import Library
from salesbot.conversation.llm import LLMBrain
from salesbot.conversation.products import Aisles
from salesbot.conversation.turns import Conversations
from salesbot.database import UnitOfWork, make_engine, make_session_factory
from salesbot.inbox import notices
from salesbot.inbox.notices import Notices
from salesbot.offers.decisions import Desk
from salesbot.recommender.serving import Recommender
from salesbot.webhooks import urls


@dataclass(frozen=True)
class Salesbot:
    """Everything a use case may be handed, built once per process."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    recommender: Recommender
    conversations: Conversations
    desk: Desk  # decides offers and experiment arms; refreshed when marketers change them
    notices: Notices  # wakes live streams across processes (PostgreSQL LISTEN/NOTIFY, Redis pub/sub or polling)
    embedder: Embedder | None  # what finds FAQ answers and products by meaning; None: words only
    tasks: list[threading.Thread] = field(default_factory=list)  # background work started for requests
    stopping: threading.Event = field(default_factory=threading.Event)  # set by close(): open streams end

    def run_in_background(self, name: str, work, *args) -> None:  # type: ignore[no-untyped-def]
        """Start `work(*args)` on its own thread; `close()` waits for it."""
        self.tasks[:] = [task for task in self.tasks if task.is_alive()]
        task = threading.Thread(target=work, args=args, name=name, daemon=True)
        self.tasks.append(task)
        task.start()

    def warm_up(self) -> None:
        """Load what the first visitor would otherwise wait for (the local embedding model), in the background."""
        if isinstance(self.embedder, Remembering) and isinstance(self.embedder.inner, LocalModel):
            self.embedder.inner.load_in_background()

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    @property
    def webhook_guard(self) -> urls.Guard:
        return urls.Guard(allowed=urls.networks(self.settings.webhook_allow_networks))

    @property
    def event_policy(self) -> events.Policy:
        return events.Policy.of(self.settings)

    def close(self) -> None:
        self.stopping.set()
        for task in self.tasks:
            task.join(timeout=60)
        self.recommender.close()
        self.notices.close()
        self.engine.dispose()


def bootstrap(settings: Settings | None = None) -> Salesbot:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    uow = lambda: UnitOfWork(session_factory)  # noqa: E731
    recommender = Recommender(uow, check_every=settings.model_check_seconds, artifacts=settings.artifacts)
    embedder = embedder_for(settings)
    library = Library(
        uow, embedder=embedder, min_similarity=settings.faq_min_similarity, check_every=settings.model_check_seconds
    )
    desk = Desk(uow, check_every=min(settings.model_check_seconds, 3.0))
    bell = notices.for_settings(settings, engine)
    conversations = Conversations(
        settings=settings,
        uow=uow,
        recommender=recommender,
        library=library,
        aisles=Aisles(uow, embedder=embedder),
        llm=LLMBrain.configured(settings),
        desk=desk,
        notices=bell,
    )
    return Salesbot(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        recommender=recommender,
        conversations=conversations,
        desk=desk,
        notices=bell,
        embedder=embedder,
    )


def embedder_for(settings: Settings) -> Embedder | None:
    """The embedder `SALESBOT_EMBEDDINGS` asks for; the local model loads on first use, not here."""
    if settings.embeddings == "off":
        return None
    if settings.embeddings == "openai":
        return Remembering(llm.ServerEmbeddings(llm.client(settings), model=settings.embeddings_model))
    return Remembering(LocalModel())
