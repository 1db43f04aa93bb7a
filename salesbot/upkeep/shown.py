"""Where a scheduled job stands, in the words and times people read: the terminal's table and the dashboard's."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def in_words(job: dict[str, Any], *, now: datetime, errors: bool = True) -> dict[str, str]:
    """A job of `running.standing` as text; `errors`: say a failed run's error (operators), or only that it failed."""
    last, last_ok = job["last_run"], job["last_ok"]
    said = last["summary"] if last else ""
    if last is not None and last["outcome"] == "failed":
        said = last["error"] if errors else "the error is shown to admins"
    due = job["next_due_at"]
    return {
        "name": job["name"],
        "description": job["description"],
        "every": period(job["every_seconds"]),
        "last_run": moment(last["started_at"]) if last else "-",
        "outcome": "running" if job["running"] else (last["outcome"] if last else "never ran"),
        "said": said or "",
        "last_success": moment(last_ok["started_at"]) if last_ok and last_ok["id"] != last["id"] else "",
        "next": "off" if due is None else ("now" if due <= now else moment(due)),
    }


def period(seconds: float | None) -> str:
    if seconds is None:
        return "off"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min"


def moment(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")
