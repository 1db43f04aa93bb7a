"""File imports: a store's own CSV, JSON Lines or Parquet export, read in chunks, mapped to our columns.

Each chunk is its own transaction, so an import that dies midway keeps the chunks it finished and can
simply be run again: every write is an idempotent upsert (items, customers) or keyed insert (events).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy import Connection

from models.base import utcnow
from salesbot.catalog import customers, events, items
from salesbot.catalog.frames import Rejection, Report
from salesbot.conversation import faqs

__all__ = ["Mapping", "RejectFile", "Report", "import_file"]
from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
KINDS = ("items", "customers", "events", "faqs")
COLUMNS = {
    "items": ["item_id", "title", "description", "category", "brand", "price", "currency", "in_stock", "attributes"],
    "customers": ["customer_id", "segment", "country", "email", "attributes"],
    "events": events.FIELDS,
    "faqs": ["question", "answer", "tags"],
}
CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class RejectRule:
    column: str
    pattern: str
    reason: str


@dataclass(frozen=True)
class Mapping:
    """How a store's file becomes our rows: renamed columns, constant columns, rows to refuse."""

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    rejects: tuple[RejectRule, ...] = ()

    @classmethod
    def parse(cls, specs: tuple[str, ...] = (), constants: tuple[str, ...] = ()) -> Mapping:
        """From `--map` values (a bundled preset's name, a JSON file, or `theirs=ours,...`) and `--set k=v`."""
        mapping = cls()
        for spec in specs:
            mapping = mapping.merge(_mapping_from(spec))
        return mapping.merge(cls(constants=_pairs(",".join(constants), "--set")))

    def merge(self, other: Mapping) -> Mapping:
        return Mapping(
            columns=self.columns | other.columns,
            constants=self.constants | other.constants,
            rejects=self.rejects + other.rejects,
        )

    def apply(self, raw: pd.DataFrame, kind: str) -> tuple[pd.DataFrame, list[Rejection]]:
        """Our columns for `kind` from a raw chunk, and the rows the mapping's rules refuse."""
        refused = pd.Series(None, index=raw.index, dtype="object")
        for rule in self.rejects:
            if rule.column in raw:
                hit = raw[rule.column].astype("string").str.match(rule.pattern).fillna(False).astype(bool)
                refused[hit & refused.isna()] = rule.reason
        frame = raw.rename(columns=self.columns)
        frame = frame.loc[:, ~frame.columns.duplicated()]
        for name, value in self.constants.items():
            frame[name] = value
        wanted = [c for c in frame.columns if c in COLUMNS[kind] or str(c).startswith("attributes.")]
        keep = refused.isna()
        rejections = [Rejection(int(i), str(reason)) for i, reason in refused.dropna().items()]
        return frame.loc[keep, wanted], rejections


def _mapping_from(spec: str) -> Mapping:
    preset = resources.files("salesbot.catalog") / "presets" / f"{spec}.json"
    if preset.is_file():
        return _mapping_from_json(json.loads(preset.read_text(encoding="utf-8")))
    if spec.endswith(".json"):
        try:
            return _mapping_from_json(json.loads(Path(spec).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInput.for_field("--map", f"cannot read {spec}: {exc}") from exc
    return Mapping(columns=_pairs(spec, "--map"))


def _mapping_from_json(document: dict[str, Any]) -> Mapping:
    try:
        rules = tuple(RejectRule(r["column"], r["pattern"], r["reason"]) for r in document.get("reject", []))
        for rule in rules:
            re.compile(rule.pattern)
        return Mapping(
            columns=dict(document.get("columns", {})), constants=dict(document.get("set", {})), rejects=rules
        )
    except (KeyError, TypeError, re.error) as exc:
        raise InvalidInput.for_field("--map", f"mapping file is not as documented: {exc}") from exc


def _pairs(spec: str, option: str) -> dict[str, str]:
    pairs = {}
    for pair in filter(None, (part.strip() for part in spec.split(","))):
        theirs, equals, ours = pair.partition("=")
        if not equals or not theirs.strip() or not ours.strip():
            raise InvalidInput.for_field(option, f"{pair!r} should look like name=value")
        pairs[theirs.strip()] = ours.strip()
    return pairs


def file_format(path: Path, given: str | None = None) -> str:
    if given:
        return given
    if path.suffix.lower() not in FORMATS:
        known = ", ".join(FORMATS)
        raise InvalidInput.for_field("FILE", f"cannot tell the format of {path.name}; name it {known} or pass --format")
    return FORMATS[path.suffix.lower()]


def count_rows(path: Path, fmt: str) -> int | None:
    """Rows in the file when that is cheap to know (Parquet keeps it in its footer)."""
    return pq.ParquetFile(path).metadata.num_rows if fmt == "parquet" else None


def read_chunks(path: Path, fmt: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The file a chunk at a time, each indexed by row number (the first data row is 1)."""
    start = 1
    for chunk in _raw_chunks(path, fmt, chunk_rows):
        chunk.index = pd.RangeIndex(start, start + len(chunk))
        start += len(chunk)
        yield chunk


def _raw_chunks(path: Path, fmt: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if not path.is_file():
        raise InvalidInput.for_field("FILE", f"{path} is not a file")
    try:
        if fmt == "parquet":
            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
                yield batch.to_pandas()
        elif fmt == "csv":
            yield from pd.read_csv(path, chunksize=chunk_rows, dtype=str, keep_default_na=False, na_values=[""])
        else:
            yield from pd.read_json(path, lines=True, chunksize=chunk_rows, dtype=False)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InvalidInput.for_field("FILE", f"cannot read {path.name} as {fmt}: {exc}") from exc


@dataclass(frozen=True)
class Steps:
    """Importing a chunk is two steps: `prepare` (mapped, raw) needs no database and can run ahead on a
    second thread; `write` (connection, prepared) runs in the chunk's transaction."""

    prepare: Callable[[pd.DataFrame, pd.DataFrame], Any]
    write: Callable[[Connection, Any], Report]


def steps(kind: str, policy: events.Policy) -> Steps:
    if kind == "items":
        return Steps(lambda frame, _raw: items.rows.prepare(frame), items.rows.write)
    if kind == "customers":
        return Steps(lambda frame, _raw: customers.rows.prepare(frame), customers.rows.write)
    if kind == "faqs":
        return Steps(lambda frame, _raw: faqs.rows.prepare(frame), faqs.rows.write)
    content_ids = events.ContentIds()  # raw chunks give events without ids their content-derived ones
    return Steps(
        lambda frame, raw: events.clean(
            frame, policy=policy, now=utcnow(), fallback_ids=content_ids(raw).loc[frame.index]
        ),
        lambda connection, reasons: events.store(connection, reasons, policy=policy),
    )


def write_chunk(uow: UnitOfWork, plan: Steps, prepared: Any, refused: list[Rejection]) -> Report:
    """Write one prepared chunk in one transaction."""
    with uow:
        report = plan.write(uow.session.connection(), prepared)
        uow.commit()
    report.rejected = sorted(refused + report.rejected, key=lambda rejection: rejection.index)
    return report


class RejectFile:
    """Bad rows with their row number and reason, beside the columns they came with; made on first use."""

    def __init__(self, path: Path) -> None:
        self.path, self.rows = path, 0

    def write(self, raw: pd.DataFrame, rejections: list[Rejection]) -> None:
        if not rejections:
            return
        bad = raw.loc[[rejection.index for rejection in rejections]]
        bad.insert(0, "reason", [rejection.reason for rejection in rejections])
        bad.to_csv(self.path, mode="a" if self.rows else "w", header=not self.rows, index_label="row")
        self.rows += len(rejections)


def import_file(
    *,
    uow: Callable[[], UnitOfWork],
    kind: str,
    path: Path,
    mapping: Mapping,
    policy: events.Policy,
    rejects: RejectFile,
    fmt: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    on_chunk: Callable[[int], None] = lambda rows: None,
) -> Report:
    """Import a whole file; `on_chunk(rows)` is told as each chunk is committed. While one chunk is
    written the next is read and checked on a second thread."""
    plan, total = steps(kind, policy), Report()
    chunks = read_chunks(path, file_format(path, fmt), chunk_rows)

    def prepare_next() -> tuple[pd.DataFrame, list[Rejection], Any] | None:
        raw = next(chunks, None)
        if raw is None:
            return None
        frame, refused = mapping.apply(raw, kind)
        return raw, refused, plan.prepare(frame, raw)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-read") as reader:
        pending = reader.submit(prepare_next)
        while (ready := pending.result()) is not None:
            pending = reader.submit(prepare_next)
            raw, refused, prepared = ready
            report = write_chunk(uow(), plan, prepared, refused)
            rejects.write(raw, report.rejected)
            total.merge(report)
            on_chunk(len(raw))
    return total
