"""Bulk writes in one round trip per chunk, for SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import Connection, Table, or_
from sqlalchemy.dialects import postgresql, sqlite

from models.base import utcnow

# Moments go to SQLite as SQLAlchemy's own text form (2024-05-01 12:00:00.000000), so rows written here
# sort and read like any other.


def _insert(connection: Connection, table: Table) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def existing_keys(connection: Connection, column: Any, keys: Iterable[str]) -> set[str]:
    """Which of `keys` are already stored in `column`, asked in one statement with one parameter."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return set()
    table, name = column.table.name, column.name
    if connection.dialect.name == "postgresql":
        # Cast to the column's own type, or PostgreSQL compares as text and cannot use the index.
        sql, parameter = f"SELECT {name} FROM {table} WHERE {name} = ANY(%s::varchar[])", wanted
    else:
        sql, parameter = (
            f"SELECT {name} FROM {table} WHERE {name} IN (SELECT value FROM json_each(?))",
            json.dumps(wanted),
        )
    return {row[0] for row in connection.exec_driver_sql(sql, (parameter,))}


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
    # One statement reading one JSON parameter: SQLite unpacks the rows itself, with Python's lock released,
    # so the next chunk can be read and checked meanwhile.
    picks = ", ".join(f"json_extract(value, '$[{n}]')" for n in range(len(frame.columns)))
    result = connection.exec_driver_sql(
        f"INSERT OR IGNORE INTO {table} ({', '.join(frame.columns)}) SELECT {picks} FROM json_each(?)",
        (_sqlite_json(frame),),
    )
    return result.rowcount


def _sqlite_json(frame: pd.DataFrame) -> str:
    moments = {
        name: _sqlite_moments(frame[name]) for name in frame if pd.api.types.is_datetime64_any_dtype(frame[name])
    }
    return frame.assign(**moments).to_json(orient="values")


def _is_moment(column: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(column)


def _iso_moments(column: pd.Series) -> pd.Series:
    """UTC moments as ISO 8601 text, formatted in bulk by numpy (strftime row by row is ten times slower)."""
    naive = column.dt.tz_convert("UTC").dt.tz_localize(None) if column.dt.tz is not None else column
    text = np.datetime_as_string(naive.to_numpy(dtype="datetime64[us]"), unit="us")
    return (pd.Series(text, index=column.index, dtype="string") + "+00:00").mask(column.isna())


def _sqlite_moments(column: pd.Series) -> pd.Series:
    return _iso_moments(column).str.slice(0, 26).str.replace("T", " ", regex=False)


def _copy_ignoring_duplicates(connection: Connection, table: str, frame: pd.DataFrame, unique: str) -> int:
    columns = ", ".join(frame.columns)
    rows = _postgres_csv(frame)
    try:
        with connection.begin_nested():  # the common case, nothing stored yet: straight in
            _copy(connection, f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", rows)
        return len(frame)
    except psycopg.errors.UniqueViolation:
        pass  # some rows are stored already: stage the chunk and add only the new ones
    staging = f"incoming_{table}"
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} AS SELECT {columns} FROM {table} WITH NO DATA"
    )
    connection.exec_driver_sql(f"TRUNCATE {staging}")
    _copy(connection, f"COPY {staging} ({columns}) FROM STDIN WITH (FORMAT csv)", rows)
    result = connection.exec_driver_sql(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} ON CONFLICT ({unique}) DO NOTHING"
    )
    return result.rowcount


def _postgres_csv(frame: pd.DataFrame) -> str:
    moments = {name: _iso_moments(column) for name, column in frame.items() if _is_moment(column)}
    return frame.assign(**moments).to_csv(index=False, header=False)


def _copy(connection: Connection, statement: str, rows: str) -> None:
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(rows)
