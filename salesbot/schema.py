"""The database schema's version: Alembic migrations applied and checked from code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

import migrations
from salesbot.errors import Unavailable


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply every migration up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_ready(engine: Engine) -> str:
    """The schema revision when the database answers and is migrated to head; else `Unavailable`."""
    url = engine.url.render_as_string(hide_password=False)
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        raise Unavailable(f"database unreachable: {type(exc).__name__}") from exc
    head = head_revision(url)
    if current != head:
        raise Unavailable(f"database schema at {current or 'nothing'}, expected {head}: run `salesbot db upgrade`")
    return current
