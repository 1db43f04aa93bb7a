"""`salesbot jobs` (the worker's scheduled jobs: period, last run, outcome, next run; run one now; past runs) and
`salesbot faq gaps` (the questions the bot could not answer, grouped)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from tabulate import tabulate

from salesbot.analytics.window import Window
from salesbot.bootstrap import Salesbot
from salesbot.cli.context import Command, services, when
from salesbot.upkeep import gaps, runs, shown
from salesbot.upkeep.jobs import Kit
from salesbot.upkeep.running import run_now, standing

WIDE = 60  # characters of a summary per line in the table


def kit(app: Salesbot) -> Kit:
    """What the jobs may use in this process."""
    return Kit(new_uow=app.uow, settings=app.settings, embedder=app.embedder, library=app.conversations.library)


@click.group("jobs", cls=Command, invoke_without_command=True)
@click.pass_context
def jobs_group(ctx: click.Context) -> None:
    """The worker's scheduled jobs: each one's period, last run and its outcome, and when it runs next.

    `salesbot worker` runs them (one worker at a time per job); `salesbot jobs run NAME` runs one now.
    """
    if ctx.invoked_subcommand is not None:
        return
    app = services(ctx)
    now = datetime.now(UTC)
    columns = ("name", "every", "last_run", "outcome", "said", "last_success", "next")
    said = [shown.in_words(job, now=now) for job in standing(uow=app.uow(), settings=app.settings, now=now)]
    rows = [tuple(job[column] for column in columns) for job in said]
    headers = ("job", "every", "last run", "outcome", "what it did", "last success", "next")
    widths = [None, None, None, None, WIDE, 16, None]
    click.echo(tabulate(rows, headers=headers, tablefmt="simple", maxcolwidths=widths))


@jobs_group.command("run")
@click.argument("name")
@click.pass_context
def jobs_run(ctx: click.Context, name: str) -> None:
    """Run the job NAME now in this process, whatever its period (refused while a worker runs it)."""
    ran = run_now(kit=kit(services(ctx)), name=name)
    click.echo(f"{ran.job}: {ran.outcome}: {ran.error or ran.summary}")
    if ran.outcome == "failed":
        sys.exit(1)


@jobs_group.command("runs")
@click.argument("name", required=False)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.pass_context
def jobs_runs(ctx: click.Context, name: str | None, limit: int) -> None:
    """Past runs, newest first (of the job NAME, or of every job)."""
    found = runs.history(uow=services(ctx).uow(), job=name, limit=limit)
    rows = [(r.job, when(r.started_at), _took(r.started_at, r.finished_at), r.outcome, r.error or r.summary or "",
             r.worker) for r in found]  # fmt: skip
    headers = ("job", "started", "took", "outcome", "what it did", "worker")
    click.echo(tabulate(rows, headers=headers, tablefmt="simple", maxcolwidths=[None, None, None, None, WIDE, None])
               if rows else "no runs yet: salesbot worker runs the jobs")  # fmt: skip


def _took(started: datetime, finished: datetime | None) -> str:
    return "-" if finished is None else f"{(finished - started).total_seconds():.1f} s"


@click.group("faq", cls=Command)
def faq_group() -> None:
    """What the store's FAQ is missing."""


@faq_group.command("gaps")
@click.option("--from", "start", type=click.DateTime(), default=None, help="Start (UTC); default 30 days before --to.")
@click.option("--to", "end", type=click.DateTime(), default=None, help="End, excluded (UTC); default now.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500), help="Groups shown.")
@click.pass_context
def faq_gaps(ctx: click.Context, start: datetime | None, end: datetime | None, limit: int) -> None:
    """Visitors' questions the bot could not answer, grouped by similarity, most asked first: add answers for them."""
    app = services(ctx)
    window = Window.of(start=start, end=end)
    answers = gaps.answered_by(app.conversations.library, min_match=app.settings.faq_min_match)
    found = gaps.report(uow=app.uow(), start=window.start, end=window.end, embedder=app.embedder, answers=answers,
                        limit=limit)  # fmt: skip
    click.echo(f"{window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC: {found['questions']:,} unanswered "
               f"questions in {found['group_count']:,} groups (grouped by {found['grouped_by'] or '-'})")  # fmt: skip
    rows = [(g["count"], g["question"], "\n".join(g["examples"]), when(g["first_seen"]), when(g["last_seen"]),
             g["answered_by"] or "") for g in found["groups"]]  # fmt: skip
    headers = ("asked", "question", "examples", "first", "last", "answered now by")
    if rows:
        click.echo(tabulate(rows, headers=headers, tablefmt="simple", maxcolwidths=[None, 50, 50, None, None, None]))
