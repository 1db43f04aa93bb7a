"""Fine-tuning jobs on the configured OpenAI-compatible server, through the openai SDK: files uploaded for
fine-tuning, a job started (supervised or DPO) and followed (status, events, the model it made).

Errors: the SDK's are translated at this boundary. A job or file the server does not know is `NotFound`; a file or
job the server refuses is `InvalidInput` with its reason; a refused key, a timeout or a server that cannot be reached
is `Unavailable`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai

from salesbot.config import Settings
from salesbot.conversation.llm.brain import client
from salesbot.errors import InvalidInput, NotFound, Unavailable

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

    def __init__(self, client: openai.OpenAI) -> None:
        self._client = client

    @classmethod
    def configured(cls, settings: Settings) -> Tuning:
        return cls(client(settings))

    def upload(self, path: Path) -> str:
        """The id the server gave the uploaded file."""
        with _translated(f"uploading {path.name}"), path.open("rb") as file:
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
        with _translated("starting the fine-tuning job"):
            created = self._client.fine_tuning.jobs.create(
                model=model, training_file=training_file, method={"type": method}, metadata=metadata, **options
            )  # type: ignore[arg-type]
        return _job(created)

    def job(self, job_id: str) -> Job:
        with _translated(f"fine-tuning job {job_id}"):
            return _job(self._client.fine_tuning.jobs.retrieve(job_id))

    def latest(self, *, limit: int = 10) -> list[Job]:
        """The newest jobs first."""
        with _translated("listing fine-tuning jobs"):
            return [_job(found) for found in self._client.fine_tuning.jobs.list(limit=limit).data]

    def events(self, job_id: str, *, limit: int = 50) -> list[JobEvent]:
        """The job's latest events, oldest first."""
        with _translated(f"events of fine-tuning job {job_id}"):
            found = self._client.fine_tuning.jobs.list_events(job_id, limit=limit).data
        return sorted((JobEvent(_moment(e.created_at), e.level, e.message) for e in found), key=lambda e: e.at)


@contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except openai.NotFoundError as exc:
        raise NotFound(f"{what}: the LLM server has no such job or file ({_said(exc)})") from exc
    except (openai.BadRequestError, openai.UnprocessableEntityError, openai.ConflictError) as exc:
        raise InvalidInput(f"{what}: the LLM server refused it: {_said(exc)}") from exc
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise Unavailable(f"{what}: the LLM server refused the key (SALESBOT_LLM_API_KEY): {_said(exc)}") from exc
    except openai.OpenAIError as exc:  # timeouts, connection errors, 429 and 5xx after the SDK's retries
        raise Unavailable(f"{what}: the LLM server is unavailable ({type(exc).__name__}: {exc})") from exc


def _said(exc: openai.APIStatusError) -> str:
    return f"{exc.status_code} {exc.message}"


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
