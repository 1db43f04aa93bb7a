"""Fine-tuning jobs on the configured OpenAI-compatible server, through the openai SDK: files uploaded for
fine-tuning, a job started (supervised or DPO) and followed (status, events, the model it made).

Errors: the SDK's are translated at this boundary (`sdk.translated`): a job or file the server does not know is
`NotFound`; one it refuses is `InvalidInput` with its reason; a refused key, a timeout or an unreachable server is
`Unavailable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from salesbot.config import Settings
from salesbot.conversation.llm.sdk import Client, client, translated

METHODS = ("supervised", "dpo")


@dataclass(frozen=True)
class Job:
    id: str
    status: str  # validating_files, queued, running, succeeded, failed, cancelled
    model: str  # the base model
    method: str | None
    fine_tuned_model: str | None  # once it succeeded
    training_file: str
    validation_file: str | None
    created_at: datetime
    finished_at: datetime | None
    trained_tokens: int | None
    error: str | None


@dataclass(frozen=True)
class JobEvent:
    at: datetime
    level: str  # info, warn, error
    message: str


class Tuning:
    """The fine-tuning endpoints of the LLM server the settings name."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @classmethod
    def configured(cls, settings: Settings) -> Tuning:
        return cls(client(settings))

    def upload(self, path: Path) -> str:
        """The id the server gave the uploaded file."""
        with translated(f"uploading {path.name}"), path.open("rb") as file:
            return self._client.files.create(file=(path.name, file), purpose="fine-tune").id

    def start(
        self,
        *,
        model: str,
        method: str,
        training_file: str,
        validation_file: str | None,
        suffix: str | None,
        seed: int | None,
        metadata: dict[str, str],
    ) -> Job:
        options: dict[str, Any] = {"validation_file": validation_file} if validation_file else {}
        options |= {"suffix": suffix} if suffix else {}
        options |= {"seed": seed} if seed is not None else {}
        with translated("starting the fine-tuning job"):
            created = self._client.fine_tuning.jobs.create(
                model=model, training_file=training_file, method={"type": method}, metadata=metadata, **options
            )  # type: ignore[arg-type]
        return _job(created)

    def job(self, job_id: str) -> Job:
        with translated(f"fine-tuning job {job_id}"):
            return _job(self._client.fine_tuning.jobs.retrieve(job_id))

    def latest(self, *, limit: int = 10) -> list[Job]:
        """The newest jobs first."""
        with translated("listing fine-tuning jobs"):
            return [_job(found) for found in self._client.fine_tuning.jobs.list(limit=limit).data]

    def events(self, job_id: str, *, limit: int = 50) -> list[JobEvent]:
        """The job's latest events, oldest first."""
        with translated(f"events of fine-tuning job {job_id}"):
            found = self._client.fine_tuning.jobs.list_events(job_id, limit=limit).data
        return sorted((JobEvent(_moment(e.created_at), e.level, e.message) for e in found), key=lambda e: e.at)


def _job(found: Any) -> Job:
    method = getattr(found, "method", None)
    error = getattr(found, "error", None)
    return Job(
        id=found.id,
        status=found.status,
        model=found.model,
        method=getattr(method, "type", None),
        fine_tuned_model=found.fine_tuned_model,
        training_file=found.training_file,
        validation_file=found.validation_file,
        created_at=_moment(found.created_at),
        finished_at=_moment(found.finished_at) if found.finished_at else None,
        trained_tokens=found.trained_tokens,
        error=f"{error.code}: {error.message}" if error and error.message else None,
    )


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
