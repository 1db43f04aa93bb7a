"""The manifest beside an export's files: what was asked for, what was kept and dropped and why, what was masked, the
prompt the lines were written for, and each file's size and sha256; the schema version says which rules they meet."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from salesbot import __version__
from salesbot.conversation.llm import INSTRUCTIONS, PROMPTS
from salesbot.finetune import formats

NAME = "manifest.json"
FORMATS = {"sft": "openai-chat-sft", "preference": "openai-preference-dpo"}


@dataclass
class Tally:
    """What an export counted as it went."""

    read: int = 0  # conversations that passed the filters SQL applies
    kept: int = 0  # conversations with at least one line written
    dropped: Counter[str] = field(default_factory=Counter)  # conversations (or, for preference, bot turns) by reason
    lines: Counter[str] = field(default_factory=Counter)  # per side of the split
    turns: Counter[str] = field(default_factory=Counter)  # bot turns written, and with weight 0
    variants: Counter[str] = field(default_factory=Counter)  # lines per prompt variant
    masked: Counter[str] = field(default_factory=Counter)  # placeholders put in, per kind


def document(*, kind: str, filters: dict[str, Any], split: dict[str, Any], max_tokens: int, tally: Tally,
             files: dict[str, tuple[str, Path]]) -> dict[str, Any]:  # fmt: skip
    return {
        "schema_version": formats.SCHEMA_VERSION,
        "format": FORMATS[kind],
        "kind": kind,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "salesbot_version": __version__,
        "filters": filters,
        "split": split,
        "max_tokens": max_tokens,
        "prompt": prompt_version(tally.variants),
        "files": {name: described(path, lines=tally.lines[side]) for side, (name, path) in files.items()},
        "conversations": {"read": tally.read, "kept": tally.kept, "dropped": dict(tally.dropped.most_common())},
        "turns": dict(tally.turns),
        "masked": {kind: tally.masked[kind] for kind in sorted(tally.masked)},
    }


def prompt_version(variants: Counter[str]) -> dict[str, Any]:
    """The brain's instructions by their sha256, and each prompt variant used with its own and its line count."""
    return {
        "instructions_sha256": _sha(INSTRUCTIONS),
        "variants": {
            name: {"sha256": _sha(INSTRUCTIONS + PROMPTS.get(name, "")), "lines": count}
            for name, count in sorted(variants.items())
        },
    }


def described(path: Path, *, lines: int) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return {"lines": lines, "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def read(folder: Path) -> dict[str, Any]:
    return json.loads((folder / NAME).read_text(encoding="utf-8"))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
