"""Bulk writes in one round trip per chunk, for SQLite and PostgreSQL alike."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Table, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from models.base import utcnow

# SQLAlchemy's own SQLite text form of a moment, so rows written here sort and read like any other.
SQLITE_MOMENT = "%Y-%m-%d %H:%M:%S.%f"
ID_LOOKUP_BATCH = 5_000


def _insert(connection: Connection, table: Table) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def existing_keys(connection: Connection, column: Any, keys: Iterable[str]) -> set[str]:
    """Which of `keys` are already stored in `column`."""
    wanted, found = list(dict.fromkeys(keys)), set()
    for start in range(0, len(wanted), ID_LOOKUP_BATCH):
        chunk = wanted[start : start + ID_LOOKUP_BATCH]
        found.update(connection.scalars(select(column).where(column.in_(chunk))))
    return found


def insert_missing(connection: Connection, table: Table, key: str, rows: list[dict[str, Any]]) -> int:
    """Insert the rows whose key is not stored yet; the others are left as they are."""
    if not rows:
        return 0
    statement = _insert(connection, table).on_conflict_do_nothing(index_elements=[key])
    return len(connection.execute(statement.returning(table.c[key]), rows).all())


def upsert(connection: Connection, table: Table, key: str, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Insert or update rows by `key`, touching only rows whose values change: (created, updated)."""
    if not rows:
        return 0, 0
    fresh = len(rows) - len(existing_keys(connection, table.c[key], (row[key] for row in rows)))
    columns = [name for name in rows[0] if name != key]
    statement = _insert(connection, table)
    changed = or_(*(table.c[name].is_distinct_from(statement.excluded[name]) for name in columns))
    statement = statement.on_conflict_do_update(
        index_elements=[key],
        set_={**{name: statement.excluded[name] for name in columns}, "updated_at": utcnow()},
        where=changed,
    )
    now = utcnow()
    # RETURNING counts what was written on every backend; executemany's rowcount is not reliable everywhere.
    stamped = [{**row, "created_at": now, "updated_at": now} for row in rows]
    written = len(connection.execute(statement.returning(table.c[key]), stamped).all())
    return fresh, written - fresh


def insert_ignoring_duplicates(connection: Connection, table: str, frame: pd.DataFrame, unique: str) -> int:
    """Append `frame`'s rows to `table`, skipping rows whose `unique` column is already stored; returns how many
    were written. Uses the database's fastest path: executemany on SQLite, COPY on PostgreSQL."""
    if frame.empty:
        return 0
    if connection.dialect.name == "postgresql":
        return _copy_ignoring_duplicates(connection, table, frame, unique)
    rows = _sqlite_rows(frame)
    columns = ", ".join(frame.columns)
    marks = ", ".join("?" * len(frame.columns))
    result = connection.exec_driver_sql(f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})", rows)
    return result.rowcount


def _sqlite_rows(frame: pd.DataFrame) -> list[Sequence[Any]]:
    frame = frame.copy()
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].dt.strftime(SQLITE_MOMENT)
    frame = frame.astype(object).where(frame.notna(), None)
    return list(frame.itertuples(index=False, name=None))


def _copy_ignoring_duplicates(connection: Connection, table: str, frame: pd.DataFrame, unique: str) -> int:
    columns = ", ".join(frame.columns)
    staging = f"incoming_{table}"
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} AS SELECT {columns} FROM {table} WITH NO DATA"
    )
    connection.exec_driver_sql(f"TRUNCATE {staging}")
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {staging} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buffer.getvalue())
    result = connection.exec_driver_sql(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} ON CONFLICT ({unique}) DO NOTHING"
    )
    return result.rowcount
