"""Logging: text or JSON lines, each record carrying the id of the request it belongs to."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str] = ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


EMAIL = re.compile(r"([\w.+'-])[\w.+'-]*@[\w-]+(?:\.[\w-]+)+")
# International (+ or 00) or national with a trunk 0, seven digits or more, standing alone: never the digits inside an
# id or a path (sku-00010, /v1/items/0042), a status code or a time.
PHONE = re.compile(r"(?<![\w/.:@-])(?:\+|0)\d(?:[ ()./-]{0,2}\d){5,}(?![\w-])")


def mask(text: str) -> str:
    """E-mail addresses and phone numbers made unreadable: m***@*** and +***67."""
    text = EMAIL.sub(lambda found: f"{found.group(1)}***@***", text)
    return PHONE.sub(lambda found: "+***" + re.sub(r"\D", "", found.group())[-2:], text)


class MaskingFilter(logging.Filter):
    """Visitors type e-mails and phone numbers into chats: no log line ever carries them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def configure_logging(*, level: str, fmt: str, stream: TextIO | None = None) -> None:
    """Send salesbot's logs to `stream` (stderr) in the chosen format; safe to call more than once."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(MaskingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    for name in ("salesbot", "api"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
