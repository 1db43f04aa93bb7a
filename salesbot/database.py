"""Database engines and sessions: SQLite tuned for the embedded default, PostgreSQL for production."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, Executable, Row, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from salesbot.errors import Unavailable


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **options)
    engine = create_engine(url, **options)
    event.listen(engine, "connect", _tune_sqlite)
    return engine


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "memory":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-262144")  # up to 256 MiB: bulk imports keep their indexes in memory
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class UnitOfWork:
    """One business transaction: commit explicitly, anything else rolls back on exit."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _trace: object) -> None:
        # close() rolls back what was not committed but, unlike rollback(), leaves loaded rows readable.
        self.session.close()
        if isinstance(error, OperationalError):
            # Deadlocks, lock timeouts and lost connections: nothing was written, and trying again may work.
            raise _unavailable(error) from error

    def commit(self) -> None:
        self.session.commit()

    def read(self, statement: Executable, parameters: Mapping[str, Any]) -> Sequence[Row]:
        """One read on a pooled connection, outside `with uow:`: no session and, on PostgreSQL, no transaction around
        it (one round trip instead of BEGIN, the read, ROLLBACK) and no ping before it. For hot paths that ask a
        single question."""
        reader = _reader(self._session_factory.kw["bind"])
        for attempt in (1, 2):
            try:
                with reader.connect() as connection:
                    return connection.execute(statement, parameters).all()
            except DBAPIError as error:
                # Unpinged, a connection the server closed fails here once; it is dropped and the read tried anew.
                if attempt == 1 and error.connection_invalidated:
                    continue
                if isinstance(error, OperationalError):
                    raise _unavailable(error) from error
                raise
        raise AssertionError("unreachable")


@functools.cache
def _reader(engine: Engine) -> Engine:
    """For lone reads: on PostgreSQL a small pool of its own, in autocommit and without the ping each checkout
    costs (a round trip: 365 -> 213 us for a customer's history); SQLite has no round trips to save."""
    if engine.dialect.name == "sqlite":
        return engine
    return create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=8)


def _unavailable(error: OperationalError) -> Unavailable:
    problem = type(error.orig).__name__
    return Unavailable(f"the database is unavailable or busy ({problem}); try again shortly")
