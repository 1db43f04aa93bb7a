"""The `salesbot` command: set up the database, import data, train and serve; API keys live in `cli.keys`."""

from __future__ import annotations

import os
import secrets
import signal
import sys
import tempfile
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from tabulate import tabulate
from tqdm import tqdm

from salesbot import __version__, metrics, schema
from salesbot.catalog import demo, imports
from salesbot.cli import gunicorn_config
from salesbot.cli.context import Command, services
from salesbot.cli.experiments import experiments_group
from salesbot.cli.finetune import export_group, finetune_group
from salesbot.cli.keys import keys_group
from salesbot.cli.kpis import kpis_command
from salesbot.cli.recommender import models_group, train_command, tune_command
from salesbot.cli.reps import reps_group
from salesbot.cli.upkeep import faq_group, jobs_group, kit
from salesbot.config import Settings
from salesbot.recommender import pipeline
from salesbot.upkeep import loops
from salesbot.webhooks import delivery


@click.group(cls=Command)
@click.version_option(__version__, prog_name="salesbot")
def main() -> None:
    """salesbot: a self-hosted sales engine for online stores.

    Settings come from SALESBOT_* environment variables (`salesbot config` lists them).
    The database defaults to ./salesbot.db (SQLite).
    """


main.add_command(keys_group, "keys")
main.add_command(reps_group, "reps")
main.add_command(experiments_group, "experiments")
main.add_command(kpis_command, "kpis")
main.add_command(export_group, "export")
main.add_command(finetune_group, "finetune")
main.add_command(train_command, "train")
main.add_command(tune_command, "tune")
main.add_command(models_group, "models")
main.add_command(jobs_group, "jobs")
main.add_command(faq_group, "faq")


@main.group(cls=Command)
def db() -> None:
    """Create and upgrade the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Migration to upgrade to.")
def db_upgrade(revision: str) -> None:
    """Apply the database migrations (safe to run again)."""
    settings = Settings.from_env()
    schema.upgrade(settings.database_url, revision)
    click.echo(f"database at {schema.head_revision(settings.database_url) if revision == 'head' else revision}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Show the migration the database is at."""
    click.echo(schema.current_revision(services(ctx).engine) or "empty (run `salesbot db upgrade`)")


@main.command("import")
@click.argument("kind", type=click.Choice(imports.KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--map",
    "maps",
    multiple=True,
    help="Their column names to ours: `theirs=ours,...`, a JSON mapping file, or a bundled preset "
    "(uci-online-retail). Repeatable.",
)
@click.option("--set", "constants", multiple=True, help="A column with one value for every row: `type=purchase`.")
@click.option("--format", "fmt", type=click.Choice(sorted(set(imports.FORMATS.values()))), help="Default: by suffix.")
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path), help="Where bad rows go (CSV).")
@click.option("--chunk-rows", default=imports.CHUNK_ROWS, show_default=True, type=click.IntRange(100, 1_000_000))
@click.pass_context
def import_command(
    ctx: click.Context,
    kind: str,
    file: Path,
    maps: tuple[str, ...],
    constants: tuple[str, ...],
    fmt: str | None,
    rejects: Path | None,
    chunk_rows: int,
) -> None:
    """Import items, customers, events or FAQs (question, answer[, tags]) from a CSV, JSON Lines or Parquet FILE.

    Safe to run again: rows already imported are updated or skipped, never doubled. Bad rows are
    written, with their row number and reason, to a rejects file.
    """
    app = services(ctx)
    mapping = imports.Mapping.parse(maps, constants)
    fmt = imports.file_format(file, fmt)
    reject_file = imports.RejectFile(rejects or Path(f"{file.stem}.{kind}.rejects.csv"))
    total = imports.count_rows(file, fmt)
    with tqdm(total=total, unit=" rows", unit_scale=True, desc=f"{kind} from {file.name}", file=sys.stderr) as bar:
        report = imports.import_file(
            uow=app.uow,
            kind=kind,
            path=file,
            mapping=mapping,
            policy=app.event_policy,
            rejects=reject_file,
            fmt=fmt,
            chunk_rows=chunk_rows,
            on_chunk=bar.update,
        )
    _print_report(report, reject_file)


def _print_report(report, reject_file) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ("created", report.created),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("duplicate", report.duplicate),
        ("rejected", report.rejected_count),
    ]
    click.echo(tabulate(rows, headers=("rows", "count"), tablefmt="simple"))
    if reject_file.rows:
        reasons = Counter(rejection.reason for rejection in report.rejected).most_common(8)
        click.echo(f"\nrejected rows are in {reject_file.path}; the most common reasons:")
        click.echo(tabulate(reasons, headers=("reason", "rows"), tablefmt="simple"))


@main.command("demo-data")
@click.option("--items", "item_count", default=demo.DemoSize.items, show_default=True, type=click.IntRange(50))
@click.option(
    "--customers", "customer_count", default=demo.DemoSize.customers, show_default=True, type=click.IntRange(10)
)
@click.option("--sessions", default=demo.DemoSize.sessions, show_default=True, type=click.IntRange(10))
@click.option("--seed", default=demo.DemoSize.seed, show_default=True, type=int)
@click.pass_context
def demo_data(ctx: click.Context, item_count: int, customer_count: int, sessions: int, seed: int) -> None:
    """Fill the database with a demo store: products, customers and a year of their events.

    The same seed gives the same store (events end today); running it again changes nothing.
    """
    app = services(ctx)
    size = demo.DemoSize(
        items=item_count, customers=customer_count, sessions=sessions, seed=seed, store_url=app.settings.public_url
    )
    until = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    totals: dict[str, imports.Report] = {}
    with tqdm(desc="demo store", unit=" rows", unit_scale=True, file=sys.stderr) as bar:
        for what, report in demo.generate(uow=app.uow, size=size, until=until, policy=app.event_policy):
            totals.setdefault(what, imports.Report()).merge(report)
            bar.set_postfix_str(what)
            bar.update(report.accepted + report.duplicate + report.rejected_count)
    rows = [(what, r.created, r.updated + r.unchanged + r.duplicate, r.rejected_count) for what, r in totals.items()]
    click.echo(tabulate(rows, headers=("", "added", "already there", "rejected"), tablefmt="simple"))


STREAM_THREADS = 512


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="gunicorn worker processes.")
@click.option("--reload", is_flag=True, help="Restart when the code changes (development).")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Serve the API with gunicorn (docs at http://HOST:PORT/docs)."""
    Settings.from_env()  # fail here, with a clear message, on a bad setting
    click.echo(f"salesbot on http://{host}:{port}  (API docs: http://{host}:{port}/docs)", err=True)
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers)]
    # Live streams hold a connection each: threaded workers keep serving the API beside them (bench/live_workers.py:
    # with 500 idle streams on 2 workers, 512 threads kept /healthz at 0.89-1.18x of its rate alone; 64 threads
    # starved it; gevent also held but would block on the in-process model and embedding work).
    argv += ["--worker-class", "gthread", "--threads", str(STREAM_THREADS)]
    # gunicorn's own limit answers long URLs with an HTML page; the app refuses them as problem+json instead.
    argv += ["--limit-request-line", "0"]
    argv += ["--reload"] if reload else []
    # The config holds the hooks that keep /metrics right as workers come and go.
    argv += ["--config", gunicorn_config.__file__]
    # Every worker must sign the console's session cookies alike: one secret per start unless the operator set one.
    os.environ.setdefault("SALESBOT_SESSION_SECRET", secrets.token_hex(32))
    # Every worker writes its metrics into one directory /metrics sums; a fresh one per start, as the client needs.
    if not os.environ.get(metrics.MULTIPROCESS_DIR):
        os.environ[metrics.MULTIPROCESS_DIR] = tempfile.mkdtemp(prefix=gunicorn_config.MADE_BY_SERVE)
    os.execv(sys.executable, [*argv, "api:create_app()"])


@main.command()
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64), help="Sends at once.")
@click.option("--poll", default=0.2, show_default=True, type=click.FloatRange(0.01, 60), help="Seconds between looks.")
@click.option("--once", is_flag=True, help="Deliver what is due now, then stop.")
@click.pass_context
def worker(ctx: click.Context, concurrency: int, poll: float, once: bool) -> None:
    """Deliver webhooks (signed, retried on schedule), run queued training jobs, route hand-offs to reps and run
    the scheduled jobs (`salesbot jobs` lists them), until SIGTERM.

    On PostgreSQL run as many as you like side by side; on SQLite run one.
    """
    app = services(ctx)
    settings = app.settings
    sender = delivery.Sender(app.webhook_guard, timeout=settings.webhook_timeout_seconds)
    lease = timedelta(seconds=settings.webhook_lease_seconds)
    runner = delivery.Worker(app.uow, sender, concurrency=concurrency, lease=lease)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    trainer = threading.Thread(
        target=pipeline.take_jobs,
        args=(stop,),
        kwargs={"uow": app.uow, "weights": settings.event_weights, "artifacts": settings.artifacts},
        name="training-jobs",
        daemon=True,
    )
    router = threading.Thread(target=loops.route_handoffs, args=(stop,), name="handoffs", daemon=True,
                              kwargs={"new_uow": app.uow, "settings": settings})  # fmt: skip
    scheduled = [  # the quick jobs (guardrails, retraining, pruning) never wait for a long re-embedding
        threading.Thread(target=loops.run_jobs, args=(stop,), kwargs={"kit": kit(app), "slow": slow},
                         name="slow-jobs" if slow else "jobs", daemon=True)
        for slow in (False, True)
    ]  # fmt: skip
    click.echo(f"delivering webhooks from {settings.database_url.split('@')[-1]} (Ctrl-C stops)", err=True)
    try:
        if once:
            click.echo(f"{runner.deliver_due()} deliveries attempted")
        else:
            trainer.start()  # training jobs queued through the API, or left by a process that died
            router.start()  # hand-offs offered to reps every few seconds
            for jobs in scheduled:  # retraining, pruning, guardrails; re-embedding, FAQ gaps: each when due
                jobs.start()
            runner.run(stop, poll=poll)
    finally:
        runner.close()


@main.command("config")
def show_config() -> None:
    """List every setting: environment variable, default and meaning."""
    rows = [(name, f"`{default}`" if default else "", meaning) for name, default, meaning in Settings.documented()]
    click.echo(tabulate(rows, headers=("variable", "default", "meaning"), tablefmt="github"))
