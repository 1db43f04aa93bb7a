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

from salesbot import __version__, metrics, schema, upkeep
from salesbot.catalog import demo, imports
from salesbot.cli import gunicorn_config
from salesbot.cli.context import Command, services, when
from salesbot.cli.experiments import experiments_group
from salesbot.cli.keys import keys_group
from salesbot.cli.kpis import kpis_command
from salesbot.cli.reps import reps_group
from salesbot.config import Settings
from salesbot.recommender import pipeline, tuning, versions
from salesbot.recommender.dataset import read_store
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


@main.command()
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(1, 500))
@click.option("--components", default=64, show_default=True, type=click.IntRange(2, 512))
@click.option("--loss", default="warp", show_default=True, type=click.Choice(["warp", "bpr", "warp-kos", "logistic"]))
@click.option("--learning-rate", default=0.05, show_default=True, type=click.FloatRange(0.0001, 1))
@click.option("--half-life-days", type=click.FloatRange(1), help="Let older events count less (time decay).")
@click.option("--cutoff", type=click.DateTime(), help="Evaluate on events after this date (default: the last 20%).")
@click.option("--all-items", is_flag=True, help="Evaluate on every later item, not only items new to the customer.")
@click.option(
    "--skip-evaluation",
    is_flag=True,
    help="Train only the model to serve, without the hold-out model that measures it (about half the time).",
)
@click.option("--activate", "activation", flag_value="always", help="Serve the new version right away.")
@click.option(
    "--activate-if-better",
    "activation",
    flag_value="if-better",
    help="Serve it only if its NDCG@10 beats the active one.",
)
@click.pass_context
def train(
    ctx: click.Context,
    epochs,
    components,
    loss,
    learning_rate,
    half_life_days,
    cutoff,
    all_items,
    skip_evaluation,
    activation,
):
    """Train a recommendation model on the store's events, evaluate it against popularity, and keep it."""
    if skip_evaluation and activation == "if-better":
        raise click.UsageError("--activate-if-better compares NDCG@10, which --skip-evaluation does not measure")
    app = services(ctx)
    params = pipeline.Params(loss=loss, components=components, learning_rate=learning_rate, epochs=epochs)
    when = cutoff.replace(tzinfo=UTC) if cutoff else None
    plan = pipeline.Plan(
        params=params,
        half_life_days=half_life_days,
        cutoff=when,
        new_items_only=not all_items,
        evaluate=not skip_evaluation,
    )
    bars: dict[str, tqdm] = {}

    def progress(phase: str, done: int, total: int) -> None:
        unit = {"final model": " epochs", "evaluation model": " epochs", "shortlists": " customers"}.get(phase, "")
        bar = bars.setdefault(phase, tqdm(total=total, desc=phase, unit=unit, unit_scale=True, file=sys.stderr))
        bar.update(done - bar.n)

    try:
        version = pipeline.train(
            uow=app.uow,
            plan=plan,
            weights=app.settings.event_weights,
            on_progress=progress,
            artifacts=app.settings.artifacts,
        )
    finally:
        for bar in bars.values():
            bar.close()
    _print_metrics(version.metrics)
    if activation == "always":
        versions.activate(uow=app.uow(), version_id=version.id)
    active = activation == "always" or (
        activation == "if-better" and pipeline.activate_if_better(uow=app.uow, version=version)
    )
    if active:
        click.echo(f"\n{version.id} is now active")
    else:
        click.echo(f"\n{version.id} is ready; activate it with: salesbot models activate {version.id}")


@main.command()
@click.option("--trials", default=12, show_default=True, type=click.IntRange(1, 200))
@click.option("--max-epochs", default=60, show_default=True, type=click.IntRange(5, 500))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--activate-if-better", is_flag=True, help="Serve the tuned model if its NDCG@10 beats the active one.")
@click.pass_context
def tune(ctx: click.Context, trials: int, max_epochs: int, seed: int, activate_if_better: bool) -> None:
    """Search training parameters (loss, size, learning rate, regularisation, epochs with early stopping),
    judged on a validation period before the test period; then train and keep a version with the best."""
    app = services(ctx)
    with app.uow() as uow:
        store = read_store(uow.session.connection())
    if store.events.empty:
        raise click.ClickException("there are no events with a customer to learn from yet")
    with tqdm(total=trials, desc="trials", unit=" trials", file=sys.stderr) as bar:
        results = tuning.tune(
            store,
            app.settings.event_weights,
            now=datetime.now(UTC),
            trials=trials,
            max_epochs=max_epochs,
            seed=seed,
            on_trial=lambda trial: bar.update(),
        )
    columns = ("loss", "components", "learning_rate", "item_alpha", "max_sampled", "customer_feature_share")
    rows = [(f"{t.ndcg:.4f}", t.epochs, *(getattr(t.params, name) for name in columns)) for t in results]
    click.echo(tabulate(rows, headers=("validation ndcg@10", "epochs", *columns), tablefmt="simple"))
    best = results[0].params
    click.echo(f"\ntraining a version with the best: {best.loss}, {best.components} components, {best.epochs} epochs")
    version = pipeline.train(
        uow=app.uow,
        plan=pipeline.Plan(params=best),
        weights=app.settings.event_weights,
        artifacts=app.settings.artifacts,
    )
    _print_metrics(version.metrics)
    if activate_if_better and pipeline.activate_if_better(uow=app.uow, version=version):
        click.echo(f"\n{version.id} is now active")
    else:
        click.echo(f"\n{version.id} is ready; activate it with: salesbot models activate {version.id}")


def _print_metrics(metrics: dict) -> None:
    if "model" not in metrics:
        click.echo(f"not evaluated: {metrics.get('note', 'no holdout')}")
        return
    names = list(metrics["model"])
    rows = [(who, *(f"{metrics[who][name]:.4f}" for name in names)) for who in ("model", "popularity")]
    lift = [("lift", *(_ratio(metrics["model"][n], metrics["popularity"][n]) for n in names))]
    click.echo(f"evaluated on {metrics['test_customers']:,} customers after {metrics['cutoff'][:10]}:")
    click.echo(tabulate(rows + lift, headers=("", *names), tablefmt="simple"))


def _ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.2f}x" if baseline else "-"


@main.group(cls=Command)
def models() -> None:
    """List and activate trained recommendation models."""


@models.command("list")
@click.pass_context
def models_list(ctx: click.Context) -> None:
    """Model versions, newest first, with their headline metrics."""
    rows = [
        (
            v.id,
            v.status,
            "yes" if v.is_active else "",
            when(v.created_at),
            f"{v.metrics.get('model', {}).get('ndcg@10', float('nan')):.4f}",
            f"{v.metrics.get('popularity', {}).get('ndcg@10', float('nan')):.4f}",
        )
        for v in versions.get_all(uow=services(ctx).uow())
    ]
    headers = ("id", "status", "active", "created", "ndcg@10", "popularity ndcg@10")
    click.echo(tabulate(rows, headers=headers) if rows else "no models yet: salesbot train")


@models.command("activate")
@click.argument("model_id")
@click.pass_context
def models_activate(ctx: click.Context, model_id: str) -> None:
    """Serve MODEL_ID from now on (every API process picks it up within seconds)."""
    click.echo(f"{versions.activate(uow=services(ctx).uow(), version_id=model_id).id} is now active")


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
    experiments' guardrail breakers, until SIGTERM.

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
    chores = threading.Thread(target=upkeep.keep_up, args=(stop,), kwargs={"uow": app.uow, "settings": settings},
                              name="upkeep", daemon=True)  # fmt: skip
    click.echo(f"delivering webhooks from {settings.database_url.split('@')[-1]} (Ctrl-C stops)", err=True)
    try:
        if once:
            click.echo(f"{runner.deliver_due()} deliveries attempted")
        else:
            trainer.start()  # training jobs queued through the API, or left by a process that died
            chores.start()  # hand-offs routed to reps, guardrail breakers
            runner.run(stop, poll=poll)
    finally:
        runner.close()


@main.command("config")
def show_config() -> None:
    """List every setting: environment variable, default and meaning."""
    rows = [(name, f"`{default}`" if default else "", meaning) for name, default, meaning in Settings.documented()]
    click.echo(tabulate(rows, headers=("variable", "default", "meaning"), tablefmt="github"))
