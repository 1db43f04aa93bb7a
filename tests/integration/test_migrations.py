"""The schema comes from migrations alone, and migrations match the models, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from models import Base
from salesbot import schema
from salesbot.database import make_engine


def test_upgrade_from_empty_creates_every_table(empty_database_url):
    schema.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    assert schema.current_revision(engine) == schema.head_revision(empty_database_url)
    engine.dispose()


def test_migrations_match_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == [], "models and migrations disagree: write a migration"


def test_downgrade_to_nothing_and_back(database_url):
    schema.upgrade(database_url)  # a second upgrade is harmless
    from alembic import command

    command.downgrade(schema.alembic_config(database_url), "base")
    engine = make_engine(database_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    schema.upgrade(database_url)
    assert "items" in inspect(engine).get_table_names()
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_database_url):
    engine = make_engine(sqlite_database_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
