"""The chat widget's files: `/widget.js`, the loader a store adds with one script tag, and `/widget/chat`, the chat
itself, a page the loader frames so that the store's CSS and scripts cannot reach into it (nor it into them)."""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path
from typing import Any

from flask import Response, abort, render_template, request

from api.access import may_embed
from api.console import Pages
from api.wiring import salesbot

STATIC = Path(__file__).resolve().parent.parent / "static" / "widget"
LOCALES = ("en", "de", "fr", "es")
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}")
DEFAULT_COLOUR = "#1f6feb"
CACHE = "public, max-age=300"  # a new widget reaches every store within five minutes of an upgrade

ASSETS = {"chat.js": "application/javascript", "chat.css": "text/css"}

blp = Pages(
    "widget",
    __name__,
    url_prefix="",
    description="The chat widget's loader and chat page (web pages, not API operations)",
)


@blp.route("/widget.js", methods=["GET"])
def loader() -> Response:
    """The loader, on every page of the store: gzipped for the browsers that accept it."""
    response = _file("loader.js", "application/javascript")
    response.headers["Access-Control-Allow-Origin"] = "*"  # a public file, fetchable from any page
    return response


@blp.route("/widget/static/<name>", methods=["GET"])
def asset(name: str) -> Response:
    """The chat page's script and style, gzipped too: a third of the bytes when the chat opens."""
    if name not in ASSETS:
        abort(404)
    return _file(name, ASSETS[name])


def _file(name: str, mimetype: str) -> Response:
    plain, packed = _bytes(name)
    zipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = Response(packed if zipped else plain, mimetype=mimetype)
    if zipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers.update({"Cache-Control": CACHE, "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"})
    return response


@functools.cache
def _bytes(name: str) -> tuple[bytes, bytes]:
    """A file as it is and gzipped, read and packed once per process."""
    plain = (STATIC / name).read_bytes()
    return plain, gzip.compress(plain, compresslevel=9, mtime=0)


@blp.route("/widget/chat", methods=["GET"])
def chat():  # type: ignore[no-untyped-def]
    """The chat page for one store page: its key, the page's origin (the only one it talks to), locale and colour."""
    host = request.args.get("origin", "")
    if not may_embed(host):
        abort(403, f"origin {host!r} may not show this chat; the operator lists allowed origins")
    locale = _locale(request.args.get("locale", ""))
    config = {
        "key": request.args.get("key", "")[:200],
        "origin": host,
        "locale": locale,
        "colour": _colour(request.args.get("color", "")),
        "strings": strings()[locale],
    }
    response = Response(render_template("widget/chat.html", config=config, locale=locale))
    response.headers.update(_chat_headers())
    return response


def _chat_headers() -> dict[str, str]:
    """Only the operator's origins (and this server's own pages) may frame the chat; it loads nothing from elsewhere
    but product pictures."""
    ancestors = " ".join(("'self'", *salesbot().settings.cors_origins))
    return {
        "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"img-src https: http: data:; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def _locale(asked: str) -> str:
    language = asked.strip().lower()[:2]
    return language if language in LOCALES else "en"


def _colour(asked: str) -> str:
    return asked if COLOUR.fullmatch(asked) else DEFAULT_COLOUR


@functools.cache
def strings() -> dict[str, dict[str, Any]]:
    """The widget's words in each language it speaks."""
    return json.loads((STATIC / "strings.json").read_text(encoding="utf-8"))
