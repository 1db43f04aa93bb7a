"""Recommender commands: train a version, tune the model kind and its parameters, list and activate versions."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from tabulate import tabulate
from tqdm import tqdm

from salesbot.cli.context import Command, services, when
from salesbot.recommender import blend, pipeline, tuning, versions
from salesbot.recommender.dataset import read_store


@click.command()
@click.option(
    "--kind",
    default="blend",
    show_default=True,
    type=click.Choice(blend.KINDS),
    help="blend: EASE on recent history + LightFM + trend; lightfm or ease alone (README: model kinds).",
)
@click.option(
    "--ease-max-items",
    default=blend.Params().ease_max_items,
    show_default=True,
    type=click.IntRange(100, 100_000),
    help="EASE covers only this many of the most active items (its fit needs about 4 x this squared bytes).",
)
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
def train_command(
    ctx: click.Context,
    kind,
    ease_max_items,
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
        blend=blend.Params(kind=kind, ease_max_items=ease_max_items),
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


@click.command()
@click.option("--trials", default=12, show_default=True, type=click.IntRange(1, 200))
@click.option("--max-epochs", default=60, show_default=True, type=click.IntRange(5, 500))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--activate-if-better", is_flag=True, help="Serve the tuned model if its NDCG@10 beats the active one.")
@click.pass_context
def tune_command(ctx: click.Context, trials: int, max_epochs: int, seed: int, activate_if_better: bool) -> None:
    """Choose the model kind (blend, lightfm, ease) and its parameters on a validation period before the test
    period: LightFM's by random search with early stopping, EASE's and the blend's weights by grid; then train and
    keep a version with the best."""
    app = services(ctx)
    with app.uow() as uow:
        store = read_store(uow.session.connection())
    if store.events.empty:
        raise click.ClickException("there are no events with a customer to learn from yet")
    with tqdm(total=trials + len(tuning.blend_grid()), desc="trials", unit=" trials", file=sys.stderr) as bar:
        results = tuning.tune(
            store,
            app.settings.event_weights,
            now=datetime.now(UTC),
            trials=trials,
            max_epochs=max_epochs,
            seed=seed,
            on_trial=lambda trial: bar.update(),
        )
    click.echo(tabulate(_best_per_kind(results), headers=KIND_HEADERS, tablefmt="simple"))
    best = results[0]
    click.echo(f"\ntraining a version with the best: {_described(best)}")
    version = pipeline.train(
        uow=app.uow,
        plan=pipeline.Plan(params=best.params, blend=best.blend),
        weights=app.settings.event_weights,
        artifacts=app.settings.artifacts,
    )
    _print_metrics(version.metrics)
    if activate_if_better and pipeline.activate_if_better(uow=app.uow, version=version):
        click.echo(f"\n{version.id} is now active")
    else:
        click.echo(f"\n{version.id} is ready; activate it with: salesbot models activate {version.id}")


KIND_HEADERS = ("kind", "validation ndcg@10", "trials", "best settings")


def _best_per_kind(results: list[tuning.Trial]) -> list[tuple]:
    """One row per model kind: its best trial, best first (the results come sorted)."""
    rows: dict[str, tuple] = {}
    for trial in results:
        kind = trial.blend.kind
        tried = sum(1 for each in results if each.blend.kind == kind)
        rows.setdefault(kind, (kind, f"{trial.ndcg:.4f}", tried, _described(trial)))
    return list(rows.values())


def _described(trial: tuning.Trial) -> str:
    lightfm = f"LightFM {trial.params.loss}, {trial.params.components} components, {trial.epochs} epochs"
    mixed = trial.blend
    ease = f"EASE lambda {mixed.ease_l2:g}, half-life {mixed.ease_half_life_days or 'none'}"
    if mixed.kind == "lightfm":
        return lightfm
    if mixed.kind == "ease":
        return ease
    return f"{ease} + {mixed.lightfm_weight:g} x {lightfm} + {mixed.trend_weight:g} x trend"


def _print_metrics(metrics: dict) -> None:
    if "model" not in metrics:
        click.echo(f"not evaluated: {metrics.get('note', 'no holdout')}")
        return
    names = list(metrics["model"])
    shown = [who for who in ("model", "lightfm", "popularity") if who in metrics]
    rows = [(_label(who, metrics), *(f"{metrics[who][name]:.4f}" for name in names)) for who in shown]
    lift = [("lift", *(_ratio(metrics["model"][n], metrics["popularity"][n]) for n in names))]
    click.echo(f"evaluated on {metrics['test_customers']:,} customers after {metrics['cutoff'][:10]}:")
    click.echo(tabulate(rows + lift, headers=("", *names), tablefmt="simple"))


def _label(who: str, metrics: dict) -> str:
    if who == "model":
        return f"model ({metrics.get('kind', 'lightfm')})"
    return "LightFM alone" if who == "lightfm" else who


def _ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.2f}x" if baseline else "-"


@click.group(cls=Command)
def models_group() -> None:
    """List and activate trained recommendation models."""


@models_group.command("list")
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


@models_group.command("activate")
@click.argument("model_id")
@click.pass_context
def models_activate(ctx: click.Context, model_id: str) -> None:
    """Serve MODEL_ID from now on (every API process picks it up within seconds)."""
    click.echo(f"{versions.activate(uow=services(ctx).uow(), version_id=model_id).id} is now active")
