"""`salesbot reps`: add sales reps (each with their own API key) and list them with their presence."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from tabulate import tabulate

from salesbot.cli.context import Command, services, when
from salesbot.inbox import reps


def _words(raw: str | None) -> list[str]:
    return [word.strip() for word in (raw or "").split(",") if word.strip()]


@click.group(cls=Command)
def reps_group() -> None:
    """Add and list sales reps."""


@reps_group.command("create")
@click.option("--name", required=True, help="The rep's name, as customers and colleagues see it.")
@click.option("--email", required=True, help="The rep's e-mail address; one rep per address.")
@click.option("--teams", default=None, help="Comma-separated teams, e.g. b2b,enterprise; none: any team.")
@click.option("--languages", default=None, help="Comma-separated ISO 639-1 codes, e.g. en,de; none: any language.")
@click.option("--categories", default=None, help="Comma-separated catalog categories; none: any category.")
@click.option("--capacity", default=3, show_default=True, type=int, help="Conversations at once (1 to 100).")
@click.pass_context
def reps_create(
    ctx: click.Context,
    name: str,
    email: str,
    teams: str | None,
    languages: str | None,
    categories: str | None,
    capacity: int,
) -> None:
    """Add a rep and print their API key once: it is stored hashed and cannot be shown again."""
    rep, secret = reps.create(
        uow=services(ctx).uow(),
        name=name,
        email=email,
        teams=_words(teams),
        languages=_words(languages),
        categories=_words(categories),
        capacity=capacity,
    )
    click.echo(
        f"created rep {rep.id} ({rep.name}, {rep.email}); their key, store it now, it is not shown again:", err=True
    )
    click.echo(secret)


@reps_group.command("list")
@click.pass_context
def reps_list(ctx: click.Context) -> None:
    """List reps: what they take, and whether they are online now."""
    app = services(ctx)
    now = datetime.now(UTC)
    rows = [
        (
            rep.id,
            rep.name,
            rep.email,
            ",".join(rep.teams) or "any",
            ",".join(rep.languages) or "any",
            ",".join(rep.categories) or "any",
            rep.capacity,
            "online" if reps.is_online(rep, now=now, presence_seconds=app.settings.presence_seconds) else "away",
            when(rep.seen_at),
        )
        for rep in reps.get_all(uow=app.uow())
    ]
    headers = ("id", "name", "email", "teams", "languages", "categories", "capacity", "presence", "seen")
    click.echo(
        tabulate(rows, headers=headers) if rows else "no reps yet: salesbot reps create --name NAME --email EMAIL"
    )
