"""What a request must be before any view reads it: JSON only, uncompressed, bounded in depth and number size,
and free of text that a database or a JSON reader cannot hold (NUL, lone surrogates, NaN and Infinity).

Each refusal is a 4xx problem that names the field, so no client can reach a 5xx by what it sends.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest, RequestURITooLarge, UnsupportedMediaType

from salesbot.catalog.rules import text_problem
from salesbot.errors import InvalidInput

MAX_DEPTH = 32
MAX_NUMBER_CHARACTERS = 40  # far above any price, quantity or id, far below Python's 4,300-digit limit
MAX_URL_CHARACTERS = 8192
WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}


class _Unfit:
    """A number the JSON reader met that salesbot will not take, kept so the walk can name its field."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def _number(literal: str) -> Any:
    if len(literal) > MAX_NUMBER_CHARACTERS:
        return _Unfit(f"is a number of {len(literal)} characters; at most {MAX_NUMBER_CHARACTERS} are accepted")
    value = float(literal) if any(mark in literal for mark in ".eE") else int(literal)
    if isinstance(value, float) and not math.isfinite(value):
        return _Unfit("is a number too large to hold")
    return value


def _constant(name: str) -> _Unfit:
    return _Unfit(f"is {name}, which is not a number JSON allows; send a finite number or null")


def problems(value: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """(field, problem) for each value of a parsed JSON document that salesbot refuses, dotted like `items.3.title`."""
    name = path or "body"
    if depth > MAX_DEPTH:
        yield name, f"is nested more than {MAX_DEPTH} levels deep"
        return
    if isinstance(value, _Unfit):
        yield name, value.problem
    elif isinstance(value, str):
        if problem := text_problem(value):
            yield name, problem
    elif isinstance(value, dict):
        for key, nested in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if problem := text_problem(key):
                yield f"{path}.<key>" if path else "<key>", f"a key {problem}"
            else:
                yield from problems(nested, inner, depth + 1)
    elif isinstance(value, list):
        for index, nested in enumerate(value):
            yield from problems(nested, f"{path}.{index}" if path else str(index), depth + 1)


def _unreadable(problem: str) -> BadRequest:
    error = BadRequest(f"body: {problem}")
    error.data = {"messages": {"json": [problem]}}  # named like webargs' own errors: {"body": [...]}
    return error


def parse(data: bytes) -> Any:
    """The JSON document in `data`, or a 4xx naming what is wrong with it."""
    try:
        document = json.loads(data.decode("utf-8"), parse_int=_number, parse_float=_number, parse_constant=_constant)
    except UnicodeDecodeError as exc:
        raise _unreadable(f"is not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise InvalidInput.for_field("body", f"is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise _unreadable(f"is not valid JSON: {exc}") from None
    found = dict(problems(document))
    if found:
        raise InvalidInput(
            "; ".join(f"{name}: {problem}" for name, problem in found.items()),
            {name: [problem] for name, problem in found.items()},
        )
    return document


def _check_url() -> None:
    for name, value in [*(request.view_args or {}).items(), *request.args.items(multi=True)]:
        if isinstance(value, str) and (problem := text_problem(value)):
            raise InvalidInput.for_field(name, problem)


def _check_body() -> None:
    if request.method not in WITH_BODY:
        return
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMediaType(f"send the body uncompressed; Content-Encoding {encoding!r} is not accepted")
    data = request.get_data(cache=True)
    if not data:
        return
    if not request.is_json:
        raise UnsupportedMediaType(
            f"send JSON with Content-Type: application/json, not {request.mimetype or 'no content type'}"
        )
    parse(data)


def guard() -> None:
    """Refuse, before any view runs, what no view could take."""
    if len(request.full_path) > MAX_URL_CHARACTERS:
        raise RequestURITooLarge(f"the URL is longer than {MAX_URL_CHARACTERS} characters; send long lists in a body")
    if not request.path.startswith("/v1/"):
        return
    _check_url()
    _check_body()


def install(app: Flask) -> None:
    app.before_request(guard)
