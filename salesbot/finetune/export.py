"""`salesbot export finetune`: conversations to fine-tuning files, streamed. A batch of conversations is read, each is
rebuilt as the LLM saw it, masked, checked against the format's rules and written at once to `train.jsonl` or
`validation.jsonl` (by the person it was with), so memory stays flat however many there are. The files are written
under temporary names and renamed only when every line passed, with `manifest.json` last: a failed export leaves
what was there before."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from salesbot.database import UnitOfWork
from salesbot.errors import InvalidInput
from salesbot.finetune import dataset, formats, manifest, sources, split
from salesbot.finetune.dataset import Seen, Shop
from salesbot.finetune.manifest import Tally
from salesbot.finetune.privacy import Known, Masker
from salesbot.finetune.scratch import Scratch
from salesbot.finetune.sources import Filters, Transcript
from salesbot.leads import qualification
from salesbot.leads.qualification import Schema

FILES = {split.TRAIN: "train.jsonl", split.VALIDATION: "validation.jsonl"}


@dataclass(frozen=True)
class Plan:
    """What to export and how: `kind` sft or preference, the filters, the share of people held out for validation
    (drawn with `seed`), and the token limit per line."""

    kind: str = "sft"
    filters: Filters = field(default_factory=Filters)
    validation_share: float = 0.1
    seed: int = 0
    max_tokens: int = formats.MAX_TOKENS

    def check(self) -> None:
        if self.kind not in formats.KINDS:
            raise InvalidInput.for_field("kind", f"choose one of {', '.join(formats.KINDS)}")
        if not 0 <= self.validation_share < 1:
            raise InvalidInput.for_field("validation_share", "must be at least 0 and below 1")
        if self.filters.outcome not in (None, *sources.OUTCOMES):
            raise InvalidInput.for_field("outcome", f"choose one of {', '.join(sources.OUTCOMES)}")
        if self.filters.since and self.filters.until and self.filters.since >= self.filters.until:
            raise InvalidInput.for_field("since", "must be before --until")
        if self.max_tokens < 256:
            raise InvalidInput.for_field("max_tokens", "must be at least 256")


@dataclass(frozen=True)
class Store:
    """What the export needs of the store besides its conversations."""

    categories: tuple[str, ...]
    currency: str
    region: str  # where phone numbers without a country code are from


def export(
    *,
    uow: Callable[[], UnitOfWork],
    plan: Plan,
    store: Store,
    out: Path,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write the files and the manifest into `out`; answer the manifest."""
    plan.check()
    out.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        scratch = Scratch(_scratch_path())
        stack.callback(scratch.close)
        files = {side: stack.enter_context(_Pending(out / name)) for side, name in FILES.items()}
        for pairs in sources.links(uow=uow()):
            scratch.link(pairs)
        scratch.settle()
        writing = _Writing(plan=plan, store=store, uow=uow, scratch=scratch, files=files)
        if plan.kind == "preference":
            writing.gather_praise()
        for batch in sources.batches(uow=uow, filters=plan.filters):
            writing.take(batch)
            if on_progress is not None:
                on_progress(batch.read)
        for side in files:
            formats.check_file(name=FILES[side], lines=writing.tally.lines[side], training=side == split.TRAIN)
        kept = {side: (FILES[side], pending.keep()) for side, pending in files.items()}
        document = manifest.document(kind=plan.kind, filters=plan.filters.shown(), max_tokens=plan.max_tokens,
                                     split={"by": "person (visitor or the customer they signed in as)",
                                            "validation_share": plan.validation_share, "seed": plan.seed},
                                     tally=writing.tally, files=kept)  # fmt: skip
        _write_whole(out / manifest.NAME, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return document


class _Writing:
    """One export's state as batches come in: the tally, the schemas read so far, and where lines go."""

    def __init__(
        self, *, plan: Plan, store: Store, uow: Callable[[], UnitOfWork], scratch: Scratch, files: dict[str, _Pending]
    ) -> None:
        self.plan, self.store, self.uow, self.scratch, self.files = plan, store, uow, scratch, files
        self.tally = Tally()
        self._schemas: dict[int, Schema] = {}
        self._staff = sources.staff(uow=uow())

    def gather_praise(self) -> None:
        """Bot answers the staff rated up and nobody corrected (weighted 1), by the moment they answered: the
        alternatives a down-rated reply may be paired with."""
        for batch in sources.batches(uow=self.uow, filters=self.plan.filters, rated_up=True):
            rows = []
            for transcript, seen, _ in self._seen(batch.transcripts):
                side = self._side(transcript)
                rows += [(turn.key, side, transcript.conversation_id, json.dumps(turn.answer))
                         for turn in seen.turns if turn.rating > 0 and turn.weight]  # fmt: skip
            self.scratch.praise(rows)

    def take(self, batch: sources.Batch) -> None:
        self.tally.read += batch.read
        for transcript, seen, masker in self._seen(batch.transcripts):
            side = self._side(transcript)
            written = [self._counted(line, what, seen) for line, what in self._lines(seen, side)
                       if line is not None and self._write(line, side, transcript)]  # fmt: skip
            if written:
                self.tally.kept += 1
                self.tally.variants[transcript.variant or "default"] += len(written)
                self.tally.masked.update(masker.counts)
        self.scratch.commit()

    def _seen(self, transcripts: list[Transcript]) -> Iterator[tuple[Transcript, Seen, Masker]]:
        shop = Shop(categories=self.store.categories, currency=self.store.currency, faqs=self._faqs(transcripts))
        for transcript in transcripts:
            schema = self._schema(transcript.schema_version)
            types = {f.name: f.type for f in schema.fields}
            known = Known.of_lead(transcript.fields, types, transcript.codes, staff=self._staff)
            masker = Masker(known=known, region=self.store.region)
            yield transcript, dataset.seen(transcript, schema=schema, shop=shop, masker=masker), masker

    def _lines(self, seen: Seen, side: str) -> Iterator[tuple[dict[str, Any] | None, str]]:
        """Each line the conversation gives, with what it pairs the bot's reply with (preference)."""
        if self.plan.kind == "sft":
            line, why = dataset.sft(seen, max_tokens=self.plan.max_tokens)
            if line is None:
                self.tally.dropped[why or "?"] += 1
            yield line, "conversation"
            return
        if not any(turn.correction or turn.rating < 0 for turn in seen.turns):
            self.tally.dropped["no correction or down-rating on its bot turns"] += 1
        paired = {turn.seq for turn, _ in dataset.pairs(seen)}
        for turn, preferred in dataset.pairs(seen):
            yield self._fitting(dataset.preference(seen, turn, preferred)), "a correction"
        for turn in seen.turns:
            if turn.rating < 0 and turn.seq not in paired:
                yield self._alternative(seen, turn, side), "a well-rated alternative"

    def _counted(self, line: dict[str, Any], what: str, seen: Seen) -> dict[str, Any]:
        if what != "conversation":
            self.tally.turns[f"paired with {what}"] += 1
            return line
        assistant = [m for m in line["messages"] if m["role"] == "assistant"]
        self.tally.turns["assistant"] += len(assistant)
        self.tally.turns["weight 0"] += sum(1 for m in assistant if m["weight"] == 0)
        self.tally.turns["left out over the token limit"] += len(seen.turns) - len(assistant)
        return line

    def _alternative(self, seen: Seen, turn: dataset.BotTurn, side: str) -> dict[str, Any] | None:
        for answer in self.scratch.praised(key=turn.key, side=side, besides=seen.conversation_id):
            alternative = json.loads(answer)
            if dataset.fits(alternative, turn):
                return self._fitting(dataset.preference(seen, turn, alternative))
        self.tally.dropped["rated down, without a correction or a well-rated alternative"] += 1
        return None

    def _fitting(self, line: dict[str, Any]) -> dict[str, Any] | None:
        if formats.line_tokens(line) > self.plan.max_tokens:
            self.tally.dropped["pair over the token limit"] += 1
            return None
        return line

    def _write(self, line: dict[str, Any], side: str, transcript: Transcript) -> bool:
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":"))
        if not self.scratch.first_time(hashlib.blake2b(text.encode(), digest_size=16).digest()):
            self.tally.dropped["duplicate of a line already written"] += 1
            return False
        pending = self.files[side]
        try:
            formats.check(line, kind=self.plan.kind, max_tokens=self.plan.max_tokens)
        except formats.Broken as broken:
            raise formats.failed(name=FILES[side], number=pending.lines + 1,
                                 conversation_id=transcript.conversation_id, broken=broken) from None  # fmt: skip
        pending.write_line(text)
        self.tally.lines[side] += 1
        return True

    def _side(self, transcript: Transcript) -> str:
        person = self.scratch.person(visitor_id=transcript.visitor_id, customer_id=transcript.customer_id)
        return split.side(person, seed=self.plan.seed, share=self.plan.validation_share)

    def _schema(self, version: int) -> Schema:
        if version not in self._schemas:
            self._schemas[version] = qualification.get(uow=self.uow(), version=version)
        return self._schemas[version]

    def _faqs(self, transcripts: list[Transcript]) -> dict[str, tuple[str, str]]:
        cited = {faq_id for t in transcripts for line in t.lines for faq_id in line.details.get("faq_ids") or ()}
        return sources.faqs(uow=self.uow(), ids=cited)


class _Pending:
    """A file written under a temporary name beside its own, renamed into place by `keep()` (else deleted)."""

    def __init__(self, path: Path) -> None:
        self.path, self.lines = path, 0
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        self._temporary = Path(name)
        self._file: IO[str] = os.fdopen(handle, "w", encoding="utf-8", newline="\n")

    def __enter__(self) -> _Pending:
        return self

    def __exit__(self, *_: object) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)

    def write(self, text: str) -> None:
        self._file.write(text)

    def write_line(self, text: str) -> None:
        self.write(text + "\n")
        self.lines += 1

    def keep(self) -> Path:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temporary, self.path)
        return self.path


def _scratch_path() -> Path:
    """A new file in the system's temporary folder, not in `--out`: it holds raw visitor and customer ids, and an
    export killed before its end must not leave them beside the files that will be shared."""
    handle, name = tempfile.mkstemp(prefix="salesbot-finetune-", suffix=".sqlite")
    os.close(handle)  # SQLite opens the file itself
    return Path(name)


def _write_whole(path: Path, text: str) -> None:
    with _Pending(path) as pending:
        pending.write(text)
        pending.keep()
