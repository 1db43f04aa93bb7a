"""`salesbot export finetune` writes fine-tuning files from the store's conversations; `salesbot finetune submit` and
`status` send them to the LLM server's fine-tuning API and follow the job."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from tabulate import tabulate
from tqdm import tqdm

from salesbot.cli.context import Command, services, when
from salesbot.conversation.llm.tuning import Tuning
from salesbot.conversation.products import Aisles
from salesbot.finetune import formats, sources, submit
from salesbot.finetune.export import Plan, Store, export
from salesbot.finetune.sources import Filters


@click.group("export", cls=Command)
def export_group() -> None:
    """Export data from the store's database."""


@export_group.command("finetune")
@click.option(
    "--kind",
    type=click.Choice(formats.KINDS),
    default="sft",
    show_default=True,
    help="sft: conversations with per-turn weights; preference: replies paired with better ones (DPO).",
)
@click.option("--since", type=click.DateTime(), help="Conversations started at or after this (UTC).")
@click.option("--until", type=click.DateTime(), help="Conversations started before this (UTC).")
@click.option("--min-csat", type=click.IntRange(1, 5), help="Only conversations the visitor rated at least this.")
@click.option(
    "--outcome",
    type=click.Choice(sources.OUTCOMES),
    help="Only conversations whose lead was qualified, or to which a purchase is credited.",
)
@click.option(
    "--purchase-days",
    default=14,
    show_default=True,
    type=click.IntRange(1, 365),
    help="With --outcome purchased: how long after a conversation a purchase is credited to it.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for train.jsonl, validation.jsonl and manifest.json.",
)
@click.option(
    "--validation-share",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 0.9),
    help="Share of visitors (with all their conversations) held out for validation.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Draws the validation split.")
@click.option(
    "--max-tokens",
    default=formats.MAX_TOKENS,
    show_default=True,
    type=click.IntRange(256),
    help="Token estimate a line may reach; a longer conversation keeps its first turns that fit.",
)
@click.pass_context  # fmt: skip
def export_finetune(
    ctx: click.Context, kind: str, since: datetime | None, until: datetime | None, min_csat: int | None,
    outcome: str | None, purchase_days: int, out: Path, validation_share: float, seed: int, max_tokens: int,
) -> None:  # fmt: skip
    """Write fine-tuning files (OpenAI's chat formats) from the store's conversations, masked on the way out."""
    app = services(ctx)
    filters = Filters(since=_utc(since), until=_utc(until), min_csat=min_csat, outcome=outcome,
                      purchase_days=purchase_days)  # fmt: skip
    plan = Plan(kind=kind, filters=filters, validation_share=validation_share, seed=seed, max_tokens=max_tokens)
    plan.check()
    settings = app.settings
    store = Store(categories=Aisles(app.uow).shelves(), currency=settings.default_currency,
                  region=settings.default_region)  # fmt: skip
    total = sources.count(uow=app.uow(), filters=filters)
    with tqdm(total=total, desc="conversations", unit=" conv", unit_scale=True, file=sys.stderr) as bar:
        document = export(uow=app.uow, plan=plan, store=store, out=out, on_progress=bar.update)
    _print_export(document, out)


def _print_export(document: dict, out: Path) -> None:
    rows = [(name, f["lines"], f"{f['bytes']:,}", f["sha256"][:16]) for name, f in document["files"].items()]
    click.echo(tabulate(rows, headers=("file", "lines", "bytes", "sha256"), tablefmt="simple"))
    counted = document["conversations"]
    click.echo(f"\n{counted['read']:,} conversations read, {counted['kept']:,} kept")
    if counted["dropped"]:
        click.echo(tabulate(counted["dropped"].items(), headers=("dropped because", "count"), tablefmt="simple"))
    if document["masked"]:
        masked = [(f"[{kind}]", n) for kind, n in document["masked"].items()]
        click.echo("\n" + tabulate(masked, headers=("masked as", "count"), tablefmt="simple"))
    click.echo(f"\nmanifest: {out / 'manifest.json'} (schema {document['schema_version']})")


@click.group("finetune", cls=Command)
def finetune_group() -> None:
    """Fine-tune the LLM on an export, through the LLM server's fine-tuning API (SALESBOT_LLM_* settings)."""


@finetune_group.command("submit")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--model", "base", default=None, help="Base model to fine-tune (default: SALESBOT_LLM_MODEL).")
@click.option("--suffix", default=None, help="Up to 64 characters the server puts in the fine-tuned model's name.")
@click.pass_context
def submit_command(ctx: click.Context, folder: Path, base: str | None, suffix: str | None) -> None:
    """Upload FOLDER's export (checked against its manifest) and start a fine-tuning job on it."""
    settings = services(ctx).settings
    job = submit.submit(trainer=Tuning.configured(settings), folder=folder, model=base or settings.llm_model,
                        suffix=suffix)  # fmt: skip
    click.echo(f"fine-tuning job {job.id} ({job.method or 'supervised'} on {job.model}): {job.status}")
    click.echo(f"follow it with: salesbot finetune status {job.id}")


@finetune_group.command("status")
@click.argument("job_id", required=False)
@click.pass_context
def status_command(ctx: click.Context, job_id: str | None) -> None:
    """A fine-tuning job's status and events (the newest job without JOB_ID), and its model once it is done."""
    job, events = submit.status(trainer=Tuning.configured(services(ctx).settings), job_id=job_id)
    rows = [("job", job.id), ("status", job.status), ("method", job.method or "-"), ("base model", job.model),
            ("started", when(job.created_at)), ("finished", when(job.finished_at)),
            ("trained tokens", f"{job.trained_tokens:,}" if job.trained_tokens else "-"),
            ("fine-tuned model", job.fine_tuned_model or "-")]  # fmt: skip
    rows += [("error", job.error)] if job.error else []
    click.echo(tabulate(rows, tablefmt="plain"))
    if events:
        shown = [(when(e.at), e.level, e.message) for e in events]
        click.echo("\n" + tabulate(shown, headers=("at", "level", "event"), tablefmt="simple"))
    if job.fine_tuned_model:
        click.echo(
            "\nTry it on half of the visitors against the configured model (marketer or admin key), then start it:\n"
            f"  POST /v1/experiments {json.dumps(submit.arm(job.fine_tuned_model))}\n"
            "  POST /v1/experiments/{id}/start\n"
            "`salesbot experiments results ID` compares the arms; stopping it with the fine-tuned arm as the winner "
            "makes the model everyone's."
        )


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None else None
