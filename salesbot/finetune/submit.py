"""`salesbot finetune submit|status`: an export's files sent to the LLM server's fine-tuning API, the job started and
followed, and how its model is tried on a share of visitors (an experiment arm with that `model`) rather than
switched on for everyone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from salesbot.errors import Conflict, InvalidInput, NotFound
from salesbot.finetune import formats, manifest

if TYPE_CHECKING:
    from salesbot.conversation.llm.tuning import Job, JobEvent

METHODS = {"sft": "supervised", "preference": "dpo"}


class Trainer(Protocol):
    """The fine-tuning endpoints (`conversation.llm.tuning.Tuning` on the configured LLM server)."""

    def upload(self, path: Path) -> str: ...

    def start(self, *, model: str, method: str, training_file: str, validation_file: str | None, suffix: str | None,
              seed: int | None, metadata: dict[str, str]) -> Job: ...  # fmt: skip

    def job(self, job_id: str) -> Job: ...

    def latest(self, *, limit: int = 10) -> list[Job]: ...

    def events(self, job_id: str, *, limit: int = 50) -> list[JobEvent]: ...


def submit(*, trainer: Trainer, folder: Path, model: str, suffix: str | None = None) -> Job:
    """Upload the export in `folder` (checked against its manifest first) and start a job on base `model`."""
    document = checked(folder)
    files = document["files"]
    training = trainer.upload(folder / "train.jsonl")
    validation = trainer.upload(folder / "validation.jsonl") if files["validation.jsonl"]["lines"] else None
    metadata = {"salesbot_export": document["files"]["train.jsonl"]["sha256"][:16], "kind": document["kind"]}
    return trainer.start(model=model, method=METHODS[document["kind"]], training_file=training,
                         validation_file=validation, suffix=suffix, seed=document["split"].get("seed"),
                         metadata=metadata)  # fmt: skip


def checked(folder: Path) -> dict[str, Any]:
    """The export's manifest, once its files are there unchanged and in a format this version writes."""
    try:
        document = manifest.read(folder)
    except FileNotFoundError:
        raise NotFound(f"{folder} has no {manifest.NAME}: export there first (salesbot export finetune)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput.for_field(manifest.NAME, f"is not JSON ({exc})") from exc
    if document.get("schema_version") != formats.SCHEMA_VERSION or document.get("kind") not in METHODS:
        raise InvalidInput.for_field(manifest.NAME, f"is not a {formats.SCHEMA_VERSION} export")
    for name, described in document["files"].items():
        path = folder / name
        if not path.exists():
            raise NotFound(f"{path} is missing; export again")
        if manifest.described(path, lines=described["lines"])["sha256"] != described["sha256"]:
            raise Conflict(f"{path} changed since it was exported (its sha256 is not the manifest's); export again")
    return document


def status(*, trainer: Trainer, job_id: str | None) -> tuple[Job, list[JobEvent]]:
    """The job (the newest when no id is given) and its latest events."""
    if job_id is None:
        newest = trainer.latest(limit=1)
        if not newest:
            raise NotFound("no fine-tuning job on the LLM server yet: salesbot finetune submit DIR")
        job_id = newest[0].id
    return trainer.job(job_id), trainer.events(job_id)


def arm(model: str) -> dict[str, Any]:
    """An experiment that tries the fine-tuned model on half of the visitors against the configured one."""
    return {
        "name": f"fine-tuned {model}"[:200],
        "unit": "visitor",
        "arms": [{"name": "control", "weight": 1}, {"name": "fine-tuned", "weight": 1, "model": model}],
        "primary_metric": {"kind": "qualified"},
    }
