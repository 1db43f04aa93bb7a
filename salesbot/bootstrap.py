"""Wires salesbot together in one place: settings in, engine, sessions and services out."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from salesbot.catalog import events
from salesbot.config import Settings
from salesbot.database import UnitOfWork, make_engine, make_session_factory
from salesbot.recommender.serving import Recommender


@dataclass(frozen=True)
class Salesbot:
    """Everything a use case may be handed, built once per process."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    recommender: Recommender

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    @property
    def event_policy(self) -> events.Policy:
        return events.Policy.of(self.settings)

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings | None = None) -> Salesbot:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    recommender = Recommender(lambda: UnitOfWork(session_factory), check_every=settings.model_check_seconds)
    return Salesbot(settings=settings, engine=engine, session_factory=session_factory, recommender=recommender)
