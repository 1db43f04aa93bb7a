"""The one module that imports the openai SDK: the client for the configured OpenAI-compatible server, the SDK's
error base the brain falls back on, and the SDK's errors translated into salesbot's (for fine-tuning calls)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import openai

from salesbot.config import Settings
from salesbot.errors import InvalidInput, NotFound, Unavailable

Client = openai.OpenAI
SDKError = openai.OpenAIError  # timeouts, connection errors, 4xx/5xx after the SDK's retries


def client(settings: Settings) -> Client:
    """The one openai client construction: chat for the brain, embeddings for retrieval, fine-tuning jobs."""
    return openai.OpenAI(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key or "none",  # local servers (Ollama, llama.cpp) take any key
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
    )


@contextmanager
def translated(what: str) -> Iterator[None]:
    """The SDK's errors as salesbot's: what the server does not know is `NotFound`, what it refuses `InvalidInput`
    with its reason, a refused key, a timeout or a server out of reach `Unavailable`."""
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
