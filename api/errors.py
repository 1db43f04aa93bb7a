"""Errors as `application/problem+json` (RFC 9457): one table from exception class to status code."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from apispec import BasePlugin
from flask import Flask, Response, json
from flask_smorest import Api
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException, InternalServerError

from salesbot import errors
from salesbot.logs import request_id

log = logging.getLogger("api.errors")

STATUS: dict[type[errors.SalesbotError], int] = {
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Unauthenticated: 401,
    errors.PermissionDenied: 403,
    errors.Conflict: 409,
    errors.Unavailable: 503,
}
EXTRA_HEADERS: dict[int, dict[str, str]] = {
    401: {"WWW-Authenticate": 'Bearer realm="salesbot"'},
    503: {"Retry-After": "1"},
}
PROBLEM = "application/problem+json"
LOCATIONS_NAMED_BY_FIELD = {"json", "query", "path", "form"}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:salesbot:problem:{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": request_id.get(),
    }
    if errors:
        body["errors"] = dict(errors)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    response.headers.update(EXTRA_HEADERS.get(status, {}))
    response.headers.update(headers or {})
    return response


def status_of(error: errors.SalesbotError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def handle_salesbot_error(error: errors.SalesbotError) -> Response:
    field_errors = error.errors if isinstance(error, errors.InvalidInput) else None
    return problem(status_of(error), error.title, error.detail, errors=field_errors)


def handle_http_exception(error: HTTPException) -> Response:
    if isinstance(error, InternalServerError):
        log.error("unhandled error", exc_info=error.original_exception or error)
        return problem(500, "Internal server error", "something went wrong on our side; quote the request id")
    field_errors = _field_errors(getattr(error, "data", None) or {})
    detail = _describe(field_errors) if field_errors else (error.description or error.name)
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    title = errors.InvalidInput.title if error.code == 422 else error.name
    return problem(error.code or 500, title, detail, errors=field_errors, headers=headers)


def _field_errors(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """webargs' `{"json": {"price": [...]}}` flattened to `{"price": [...]}`, nested keys dotted."""
    flat: dict[str, list[str]] = {}
    for location, messages in (data.get("messages") or {}).items():
        prefix = "" if location in LOCATIONS_NAMED_BY_FIELD else f"{location}."
        if isinstance(messages, list):
            flat["body" if location == "json" else location] = [str(m) for m in messages]
        else:
            _flatten(messages, prefix, flat)
    return flat


def _flatten(messages: Any, prefix: str, into: dict[str, list[str]]) -> None:
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        into[(prefix.rstrip(".") or "body").replace("_schema", "body")] = list(messages)
        return
    items = messages.items() if isinstance(messages, dict) else enumerate(messages)
    for key, nested in items:
        _flatten(nested, f"{prefix}{key}.", into)


def _describe(field_errors: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in field_errors.items())


class ProblemSchema(Schema):
    type = fields.Str(required=True)
    title = fields.Str(required=True)
    status = fields.Int(required=True)
    detail = fields.Str(required=True)
    request_id = fields.Str(required=True)
    errors = fields.Dict(keys=fields.Str(), values=fields.List(fields.Str()), metadata={"description": "Per field"})


# Answers that only some operations give, and that neither their path, parameters nor body reveal.
# A view can declare its own with `@blp.alt_response(status, ...)`; that one is kept.
DOMAIN_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/v1/conversations/{conversation_id}/messages"): (409,),  # the conversation is closed
    # A person's actions on a conversation in the wrong state (not theirs, not with a person, a full rep).
    ("post", "/v1/conversations/{conversation_id}/accept"): (409,),
    ("post", "/v1/conversations/{conversation_id}/replies"): (409,),
    ("post", "/v1/conversations/{conversation_id}/transfer"): (409,),
    ("post", "/v1/conversations/{conversation_id}/release"): (409,),
    ("post", "/v1/conversations/{conversation_id}/resolve"): (409,),
    ("post", "/v1/offers/{offer_id}/redemptions"): (409,),  # a cap, a budget or a used code
    ("patch", "/v1/experiments/{experiment_id}"): (409,),  # a running experiment's arms are fixed
    ("post", "/v1/experiments/{experiment_id}/start"): (409,),  # not a draft; its layer range is taken
    ("post", "/v1/experiments/{experiment_id}/stop"): (409,),  # not running
}


def error_statuses(path: str, method: str, operation: Mapping[str, Any]) -> set[int]:
    """Every error status the app may answer for one operation, read from what the operation takes."""
    statuses = {414}  # a URL longer than api/bodies.py accepts
    if operation.get("security") != []:
        statuses |= {401, 403, 429, 503}  # no key / wrong role; the key's rate; the database busy or down
    if "{" in path:
        statuses |= {404, 422}
    if any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
        statuses.add(422)
    if "requestBody" in operation:
        statuses |= {400, 413, 415, 422}  # not JSON or not UTF-8; too large; not application/json; invalid
    return statuses | set(DOMAIN_ERRORS.get((method, path), ()))


class ProblemResponses(BasePlugin):
    """Documents on each operation the errors it can answer, so a client (or a fuzzer checking status-code
    conformance) finds every status listed, rather than behind one catch-all `default`."""

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            for status in sorted(error_statuses(path or "", method, operation)):
                responses.setdefault(str(status), HTTPStatus(status).name)
            for status, response in responses.items():
                if str(status)[0] in "45" and isinstance(response, dict) and "content" not in response:
                    response["content"] = {PROBLEM: {"schema": "Problem"}}  # an error a view described in words


class ProblemApi(Api):
    """flask-smorest's Api answering every HTTP error as problem+json, and documenting each one so."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None  # each operation lists its errors instead (ProblemResponses)

    def _init_spec(self, *, extra_plugins: Any = None, **options: Any) -> None:
        super()._init_spec(extra_plugins=[*(extra_plugins or ()), ProblemResponses()], **options)

    def _register_responses(self) -> None:
        """A response component per error status, as `application/problem+json` (flask-smorest's are JSON)."""
        for status in HTTPStatus:
            if status >= 400:
                content = {PROBLEM: {"schema": self.ERROR_SCHEMA}}
                self.spec.components.response(
                    status.name, {"description": status.phrase, "content": content}, lazy=True
                )

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return handle_http_exception(error)


def register(app: Flask) -> None:
    app.register_error_handler(errors.SalesbotError, handle_salesbot_error)
    app.register_error_handler(HTTPException, handle_http_exception)
