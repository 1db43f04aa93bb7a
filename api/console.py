"""The rep console at /app: a rep signs in with their key, and the inbox page's script drives the /v1 rep API with
the session cookie (and the session's CSRF token in X-CSRF-Token on every change)."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime

from flask import Response, redirect, render_template, request, session, url_for
from flask_smorest import Blueprint

from api.access import CSRF_KEY, SESSION_KEY, signed_in
from api.wiring import uow
from salesbot.access import keys
from salesbot.access.roles import Role
from salesbot.errors import Unauthenticated
from salesbot.feedback.ratings import LONGEST, REASONS
from salesbot.inbox import reps

# The sign-in form's own CSRF token, kept in the session before anyone signs in: another site cannot read it, so it
# cannot post its own key to the form and have a rep work, unknowingly, in the attacker's console (login CSRF).
SIGN_IN_CSRF = "sign_in_csrf"
FORM_FIELD = "csrf"
LONGEST_KEY = 200  # far above any key's length; longer input is not a key and is not looked up
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
WRONG_KEY = "That key did not sign you in. Check that you pasted your whole key (a rep's, a marketer's or an admin's)."
DASHBOARD_ROLES = frozenset({Role.MARKETER, Role.ADMIN})
EXPIRED_FORM = "This sign-in form expired. Please enter your key again."


class Pages(Blueprint):
    """A blueprint of web pages for people: registered beside the API's, but left out of the OpenAPI document."""

    def register_views_in_doc(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        return None


blp = Pages(
    "console",
    __name__,
    url_prefix="/app",
    template_folder="templates",
    static_folder="static/console",
    static_url_path="/static",
    description="The rep console for people: sign in at /app/inbox with a rep key (web pages, not API operations)",
)


@blp.after_request
def _secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"  # pages carry the session's CSRF token
    return response


@blp.route("/inbox", methods=["GET"])
def inbox():  # type: ignore[no-untyped-def]
    """The console for a signed-in rep, else the sign-in form."""
    rep = _signed_in_rep()
    if rep is None:
        holder = signed_in()
        if holder is not None and holder.role in DASHBOARD_ROLES:
            return redirect(url_for("dashboard.overview"), 303)  # a marketer's place is the dashboard
        return sign_in_page()
    return render_template("console/inbox.html", rep=rep, csrf=session[CSRF_KEY], reasons=REASONS,
                           longest_correction=LONGEST["correction"])  # fmt: skip


@blp.route("/sign-in", methods=["GET", "POST"])
def sign_in():  # type: ignore[no-untyped-def]
    """A rep's key (for the inbox) or a marketer's or admin's (for the dashboard) starts a session: the key's id and a
    fresh CSRF token, nothing else."""
    if request.method == "GET":
        return redirect(url_for("console.inbox"), 303)
    if not _same(request.form.get(FORM_FIELD), session.get(SIGN_IN_CSRF)):
        return sign_in_page(EXPIRED_FORM, 403)
    holder = _console_key(request.form.get("key", ""))
    if holder is None:
        return sign_in_page(WRONG_KEY, 401)
    session.clear()  # nothing from before signing in carries over, not even the sign-in form's token
    session[SESSION_KEY] = holder.key_id
    session[CSRF_KEY] = secrets.token_urlsafe(32)
    home = "dashboard.overview" if holder.role in DASHBOARD_ROLES else "console.inbox"
    return redirect(url_for(home), 303)


@blp.route("/sign-out", methods=["POST"])
def sign_out():  # type: ignore[no-untyped-def]
    """End the session (the form echoes the session's CSRF token); a rep who signs out is away."""
    key_id = session.get(SESSION_KEY)
    if key_id and not _same(request.form.get(FORM_FIELD), session.get(CSRF_KEY)):
        return render_template("console/refused.html"), 403
    rep = reps.for_key(uow=uow(), key_id=key_id) if key_id else None
    if rep is not None:
        reps.set_presence(uow=uow(), rep_id=rep.id, status="away", now=datetime.now(UTC))
    session.clear()
    return redirect(url_for("console.inbox"), 303)


def _signed_in_rep():  # type: ignore[no-untyped-def]
    """The rep whose key this session signed in with; None when signed out or once the key is revoked."""
    holder = signed_in()
    if holder is None or holder.role is not Role.REP:
        return None
    return reps.for_key(uow=uow(), key_id=holder.key_id)


def _console_key(secret: str) -> keys.KeyHolder | None:
    """The holder of `secret` if it is a rep key that belongs to a rep, or a marketer's or admin's key; None for
    anything else, alike."""
    secret = secret.strip()
    if not secret or len(secret) > LONGEST_KEY:
        return None
    try:
        holder = keys.authenticate(uow=uow(), secret=secret)
    except Unauthenticated:
        return None
    if holder.role in DASHBOARD_ROLES:
        return holder
    if holder.role is not Role.REP or reps.for_key(uow=uow(), key_id=holder.key_id) is None:
        return None
    return holder


def sign_in_page(problem: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    token = session.setdefault(SIGN_IN_CSRF, secrets.token_urlsafe(32))
    return render_template("console/sign_in.html", problem=problem, csrf=token), status


def _same(sent: str | None, kept: str | None) -> bool:
    return bool(sent and kept) and hmac.compare_digest(str(sent), str(kept))
