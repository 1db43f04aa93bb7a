"""`salesbot experiments`: list experiments and print one's results as a table."""

from __future__ import annotations

import click
from tabulate import tabulate

from salesbot.cli.context import Command, services, when
from salesbot.offers import experiments, results


@click.group("experiments", cls=Command)
def experiments_group() -> None:
    """Experiments on offers, prompts and models (define them through /v1/experiments)."""


@experiments_group.command("list")
@click.pass_context
def list_experiments(ctx: click.Context) -> None:
    """Every experiment, newest first."""
    rows = [
        (e.id, e.name, e.status, e.unit, ", ".join(a["name"] for a in e.arms), when(e.started_at), e.winner or "-")
        for e in experiments.get_all(uow=services(ctx).uow())
    ]
    click.echo(tabulate(rows, headers=("id", "name", "status", "unit", "arms", "started", "winner")))


@experiments_group.command("results")
@click.argument("experiment_id")
@click.pass_context
def show_results(ctx: click.Context, experiment_id: str) -> None:
    """Per arm: units, conversions and rate, revenue and discount per unit, CSAT, hand-offs, against the control."""
    found = results.results(uow=services(ctx).uow(), experiment_id=experiment_id)
    rows = []
    for arm in found["arms"]:
        versus = arm.get("against_control") or {}
        rows.append((
            arm["name"] + (" (stopped)" if arm["stopped"] else ""), arm["exposures"], arm["units"], arm["conversions"],
            _share(arm["conversion_rate"]), _money(arm["revenue_per_unit"]), _money(arm["discount_cost_per_unit"]),
            "-" if arm["csat"] is None else f"{arm['csat']:.2f}", arm["handoffs"],
            _uplift(versus), _number(versus.get("p_value")), _share(versus.get("chance_to_beat")),
        ))  # fmt: skip
    metric = found["primary_metric"]["kind"]
    click.echo(f"{found['name']} ({found['status']}), primary metric: {metric}, control: {found['control']}")
    headers = ("arm", "exposures", "units", "conversions", "rate", "revenue/unit", "discount/unit", "CSAT",
               "hand-offs", "uplift (95% interval)", "p-value", "chance to beat")  # fmt: skip
    click.echo(tabulate(rows, headers=headers))
    click.echo(f"sample ratio check: p = {found['srm_p_value']:.3g}"
               + (" MISMATCH" if found["sample_ratio_mismatch"] else " (fine)"))  # fmt: skip
    for warning in found["warnings"]:
        click.echo(f"warning: {warning}")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _uplift(versus: dict) -> str:
    if versus.get("uplift") is None:
        return "-"
    low, high = versus.get("uplift_low"), versus.get("uplift_high")
    interval = f" ({low:+.1%} to {high:+.1%})" if low is not None and high is not None else ""
    return f"{versus['uplift']:+.1%}{interval}"
