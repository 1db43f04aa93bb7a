"""Reading loosely typed rows (from a file or a batch request) into checked catalog values."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Table

from salesbot.catalog import bulk, rules
from salesbot.catalog.frames import Rejection, Report
from salesbot.database import UnitOfWork

TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f"}
ATTRIBUTE_PREFIX = "attributes."


Cleaned = tuple[list[dict[str, Any]], Report]


class RowProblem(ValueError):
    """What is wrong with one row, in words for the person who sent it."""


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def optional_text(row: dict[str, Any], name: str, *, longest: int) -> str | None:
    value = row.get(name)
    if missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, str | int):
        raise RowProblem(f"{name} must be text")
    value = str(value).strip()
    if problem := rules.text_problem(value):
        raise RowProblem(f"{name} {problem}")
    if len(value) > longest:
        raise RowProblem(f"{name} must be at most {longest} characters")
    return value or None


def required_text(row: dict[str, Any], name: str, *, longest: int) -> str:
    value = optional_text(row, name, longest=longest)
    if value is None:
        raise RowProblem(f"{name} is required")
    return value


def identifier(row: dict[str, Any], name: str) -> str:
    value = required_text(row, name, longest=128)
    if problem := rules.external_id_problem(value):
        raise RowProblem(f"{name} {problem}")
    return value


def checked(name: str, value: Any, problem_of: Callable[[Any], str | None]) -> Any:
    if value is not None and (problem := problem_of(value)):
        raise RowProblem(f"{name}: {problem}")
    return value


def decimal(row: dict[str, Any], name: str) -> Decimal:
    value = row.get(name)
    if missing(value):
        raise RowProblem(f"{name} is required")
    if isinstance(value, float) and abs(value - round(value, 4)) < 1e-9:
        value = round(value, 4)  # a binary float standing for a decimal price, e.g. 0.30000000000000004
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise RowProblem(f"{name} must be a number, not {value!r}") from None
    return checked(name, number, rules.price_problem)


def boolean(row: dict[str, Any], name: str, *, default: bool) -> bool:
    value = row.get(name)
    if missing(value):
        return default
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE | FALSE:
        return word in TRUE
    raise RowProblem(f"{name} must be true or false, not {value!r}")


def attributes(row: dict[str, Any]) -> dict[str, Any]:
    """The `attributes` object (or JSON text of one) plus any `attributes.<key>` columns."""
    value = row.get("attributes")
    found: Any = {} if missing(value) else value
    if isinstance(found, str):
        try:
            found = json.loads(found)
        except json.JSONDecodeError:
            raise RowProblem("attributes must be a JSON object") from None
    if not isinstance(found, dict):
        raise RowProblem("attributes must be a JSON object")
    for name, each in row.items():
        if name.startswith(ATTRIBUTE_PREFIX) and not missing(each):
            found[name.removeprefix(ATTRIBUTE_PREFIX)] = each.item() if hasattr(each, "item") else each
    return checked("attributes", found, rules.attributes_problem)


def take_rows(
    frame: pd.DataFrame, clean_row: Callable[[dict[str, Any]], dict[str, Any]], key: str
) -> tuple[list[dict[str, Any]], Report]:
    """Clean each row; for rows sharing a key the last one wins and the earlier ones count as duplicates."""
    report, cleaned = Report(), {}
    for index, row in zip(frame.index, frame.to_dict("records"), strict=True):
        try:
            values = clean_row(row)
        except RowProblem as problem:
            report.rejected.append(Rejection(int(index), str(problem)))
            continue
        report.duplicate += values[key] in cleaned
        cleaned[values[key]] = values
    return list(cleaned.values()), report


def frame_of(rows: list[Any]) -> tuple[pd.DataFrame, list[Rejection]]:
    """A batch request's rows as a frame indexed by position; anything but a JSON object is refused."""
    objects = {index: row for index, row in enumerate(rows) if isinstance(row, dict)}
    refused = [Rejection(index, "must be a JSON object") for index, row in enumerate(rows) if index not in objects]
    frame = pd.DataFrame.from_records(list(objects.values()), index=list(objects)) if objects else pd.DataFrame()
    return frame, refused


@dataclass(frozen=True)
class Upserts:
    """Creating or replacing one kind of catalog row by its key, from a file chunk or a batch request."""

    table: Table
    key: str
    clean_row: Callable[[dict[str, Any]], dict[str, Any]]

    def prepare(self, frame: pd.DataFrame) -> Cleaned:
        """The checked rows of `frame` and a report naming the bad ones (no database needed)."""
        return take_rows(frame, self.clean_row, self.key)

    def write(self, connection: Connection, cleaned: Cleaned) -> Report:
        """Create or update the prepared rows, touching only changed ones; the caller commits."""
        rows, report = cleaned
        created, updated = bulk.upsert(connection, self.table, self.key, rows)
        report.created, report.updated, report.unchanged = created, updated, len(rows) - created - updated
        return report

    def take(self, connection: Connection, frame: pd.DataFrame) -> Report:
        return self.write(connection, self.prepare(frame))

    def put_many(self, *, uow: UnitOfWork, rows: list[Any]) -> Report:
        """A batch request's rows in one transaction; a bad row, or one that is not an object, never blocks
        the good ones."""
        frame, refused = frame_of(rows)
        with uow:
            report = self.take(uow.session.connection(), frame)
            uow.commit()
        report.rejected = sorted(refused + report.rejected, key=lambda rejection: rejection.index)
        return report
